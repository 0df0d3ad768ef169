"""Shared fixtures: paths to the real data, tiny files in the real formats, seeding; and
the quick loop's rule (what starts a process is marked slow)."""
import inspect
import os
import re

import numpy as np
import pytest

from gluonrec._compat import mx
import custom_models  # noqa: F401  (registers a researcher's model for the contract tests)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The real data sets are never copied into the repo; they are read where they lie.
SHARED_DATA = os.environ.get('GLUONREC_SHARED_DATA',
                             os.path.join(os.path.dirname(REPO), 'shared', 'data'))


#: A call that starts another Python process: ``subprocess.*``, ``Popen(``, the script
#: tests' ``run(`` helper, a multiprocessing pool or joblib's process workers.
_SPAWNS = re.compile(r'\bsubprocess\.|\bPopen\(|(?<![\w.])run\(|\bPool\(|n_jobs=[2-9-]')


def _spawns(function, depth=1):
    """Whether ``function``, or a helper of its module it calls (``depth`` levels down),
    starts a process."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    if _SPAWNS.search(source):
        return True
    module = inspect.getmodule(function)
    helpers = {getattr(module, name, None) for name in re.findall(r'\b(\w+)\(', source)}
    return depth > 0 and any(_spawns(helper, depth - 1) for helper in helpers
                             if inspect.isfunction(helper) and helper is not function and
                             helper.__module__ == function.__module__)


def pytest_collection_modifyitems(config, items):
    """Mark slow every test that starts a process, itself or through a fixture of this
    suite (a script run costs MXNet's start-up, 1-3 s, each time), so that the quick loop,
    ``pytest -m "not slow"``, runs in-process tests only. The full suite runs everything."""
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        functions = [getattr(item, 'function', None)]
        for definitions in getattr(item, '_fixtureinfo', None).name2fixturedefs.values():
            functions += [d.func for d in definitions
                          if getattr(d.func, '__module__', '') and
                          os.path.dirname(inspect.getfile(d.func)) == here]
        if any(_spawns(f) for f in functions if f is not None):
            item.add_marker(pytest.mark.slow)


#: The files of ../shared/data the tests read (see its README).
SHARED_FILES = ('jester/ratings.dat.gz', 'jester/jester_items.dat',
                'jester/ds2-sample/jester_ratings.dat', 'ml-100k/u.data', 'ml-100k/u.item')


def shared_data_missing(folder=SHARED_DATA):
    """Why the real data cannot be used (the folder or a file absent), or None."""
    if not os.path.isdir(folder):
        return f'real data not found at {folder}'
    absent = [name for name in SHARED_FILES if not os.path.isfile(os.path.join(folder, name))]
    return f'real data incomplete in {folder}: no {", ".join(absent)}' if absent else None


@pytest.fixture
def shared_data():
    """Path of ../shared/data; the test is skipped, with the reason, when the folder or
    one of the files the tests read is absent."""
    reason = shared_data_missing()
    if reason:
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)
    np.random.seed(0)


JESTER_DAT = ('1\t\t5\t\t0.219\n1\t\t7\t\t-9.281\n1\t\t8\t\t-9.281\n2\t\t5\t\t-10\n'
              '2\t\t7\t\t3.5\n3\t\t150\t\t9.999\n3\t\t5\t\t1.25\n')
JESTER_CSV = 'userId,jokeId,rating\n' + JESTER_DAT.replace('\t\t', ',').rstrip('\n')
# Made-up texts in the layout of jester_items.dat (no real joke is copied here).
JOKES = ('1:\n\nA tester walks into a bar. She orders "1 beer".\n\n'
         'Then she orders "-1 beers", "NaN beers" and "a lizard".\n\n\n'
         '5:\n\n<p>Q. What&#39;s a parser&#39;s favourite meal?<br />\n'
         'A. Tokens &amp; trees.</p>\n\n\n'
         '7:\n\nWhy did the gradient stop descending?\n\n\n'
         '8:\n\nEight\n\n150:\n\nThe last joke.\n')


@pytest.fixture
def jester_files(tmp_path):
    """A tiny jester_ratings.dat, its CSV form and jester_items.dat, in the real layout."""
    paths = {'dat': tmp_path / 'jester_ratings.dat', 'csv': tmp_path / 'jester_ratings.csv',
             'jokes': tmp_path / 'jester_items.dat'}
    paths['dat'].write_text(JESTER_DAT)
    paths['csv'].write_text(JESTER_CSV)
    paths['jokes'].write_text(JOKES)
    return paths


@pytest.fixture(scope='session')
def small_ratings():
    """A rank-2 synthetic data set (80 users, 30 items) with item names."""
    from gluonrec.data import make_synthetic
    r = make_synthetic(80, 30, 1200, rank=2, seed=4)
    r.item_names = {i: f'item {i}' for i in range(1, 31)}
    return r


@pytest.fixture(scope='session')
def trained(small_ratings):
    """``trained(name)``: a TrainedModel of that registered model on ``small_ratings``
    (80/20 split), trained once per session and shared by the tests that only read it."""
    from gluonrec.recipe import train_model
    cache = {}

    def get(name='biased_mf'):
        if name not in cache:
            cache[name] = train_model(small_ratings, model=name, num_factors=4, epochs=3,
                                      batch_size=64, optimizer='adam', lr=0.01, reg=0.0,
                                      wd=0.0, patience=0, sparse_grad=False, ctx='cpu',
                                      seed=0)
        return cache[name]
    return get


class InterruptAt:
    """A fit callback that raises KeyboardInterrupt (a Ctrl-C) after batch ``batch`` of
    epoch ``epoch`` (both 0-based)."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, epoch, batch):
        if (epoch, batch) == self.at:
            raise KeyboardInterrupt

    def __call__(self, record):
        return False
