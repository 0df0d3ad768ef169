"""load_dataset: one entry point for a data set by name ('jester', 'ml-100k', ...) or path."""
import os

from .datasets import (JESTER_SCALE, MOVIELENS_RATING_FILES, load_jester, load_jester_jokes,
                       load_movielens, load_triples)
from .download import DATASETS, data_home, fetch
from .synthetic import make_jester_scale, make_synthetic

__all__ = ['load_dataset', 'JESTER_RATING_FILES', 'family_of']

#: Looked for, in order, in DATA/jester: dataset 2 as downloaded, the 5k sample, CSV.
JESTER_RATING_FILES = ('jester_ratings.dat', 'jester_ratings.dat.gz', 'ratings.dat.gz',
                       'ratings.dat', 'jester_ratings.csv')


def family_of(ratings):
    """'jester' for ratings on Jester's -10..10 scale, else 'movielens' (the two families
    ``gluonrec.presets`` holds settings for)."""
    return 'jester' if tuple(ratings.scale) == JESTER_SCALE else 'movielens'


def _jester(root, download):
    folder = os.path.join(root, 'jester')
    for name in JESTER_RATING_FILES:
        if os.path.isfile(os.path.join(folder, name)):
            break
    else:
        if not download:
            raise FileNotFoundError(f'no Jester ratings in {folder}; pass a path, set '
                                    'GLUONREC_DATA, or allow the download')
        folder, name = fetch('jester', root), 'jester_ratings.dat'
    ratings = load_jester(os.path.join(folder, name))
    jokes = os.path.join(folder, 'jester_items.dat')
    if os.path.isfile(jokes):
        ratings.item_names = load_jester_jokes(jokes)
    return ratings


def _movielens(name, root, download):
    folder = os.path.join(root, name)
    if not any(os.path.isfile(os.path.join(folder, f)) for f in MOVIELENS_RATING_FILES):
        if not download:
            raise FileNotFoundError(f'no {name} in {folder}; pass a path, set GLUONREC_DATA, '
                                    'or allow the download')
        folder = fetch(name, root)
    return load_movielens(folder)


def _from_path(path, jokes):
    if os.path.isdir(path) or os.path.basename(path) in MOVIELENS_RATING_FILES:
        return load_movielens(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: no such file or folder')
    if 'jester' in os.path.basename(path).lower():
        return load_jester(path, jokes=jokes)
    return load_triples(path)


def load_dataset(name_or_path, root=None, download=False, jokes=None, seed=0,
                 num_ratings=None):
    """Ratings of a data set given by name or by path.

    Parameters
    ----------
    name_or_path : str
        'jester' (the first of ``JESTER_RATING_FILES`` in ``root/jester``, with the joke
        texts beside it when there), a MovieLens name ('ml-100k', 'ml-1m',
        'ml-latest-small': ``root/<name>``), 'synthetic' (Jester-like, 60,000 ratings)
        or 'synthetic-large' (1.7M Jester-scale ratings); otherwise a path: a folder or
        ``u.data``/``ratings.dat``/``ratings.csv`` is read as MovieLens (layout
        detected), a file named like ``jester*`` as Jester, anything else by
        ``load_triples``.
    root : str, optional
        The data folder (default: ``data_home()``: ``$GLUONREC_DATA``, the checkout's
        ``data/``, or ``~/.gluonrec``).
    download : bool
        Fetch a named data set's official archive into ``root`` when it is absent
        (otherwise ``FileNotFoundError`` says where to put it).
    jokes : str, optional
        With a Jester file path: the joke texts to attach as ``item_names``.
    seed : int
        For the synthetic data sets.
    num_ratings : int, optional
        For 'synthetic-large': another size than 1.7M.

    Returns
    -------
    Ratings
    """
    name = os.fspath(name_or_path)
    root = data_home(root)
    if name == 'jester':
        return _jester(root, download)
    if name in DATASETS and name.startswith('ml-'):
        return _movielens(name, root, download)
    if name == 'synthetic':
        ratings = make_synthetic(num_users=2000, num_items=150, num_ratings=60000, seed=seed,
                                 name='synthetic-jester')
        ratings.item_names = {i: f'(synthetic joke {i})' for i in range(1, 151)}
        return ratings
    if name == 'synthetic-large':
        return make_jester_scale(num_ratings or 1_700_000, seed=seed)
    return _from_path(name, jokes)
