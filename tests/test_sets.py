"""Data sets as modules: the declarations, a researcher's own data set in one file
(tests/toy_dataset.py), and the real-data fixture's skipping."""
import functools
import http.server
import logging
import os
import threading
import zipfile

import pytest

import toy_dataset
from conftest import SHARED_FILES, shared_data_missing
from gluonrec.data import (DataSet, dataset_names, family_of, fetch, get_dataset, load_dataset,
                           register_dataset)
from gluonrec.data.sets import declared_datasets, unregister_dataset
from gluonrec.presets import PRESETS


@pytest.fixture
def served(tmp_path):
    """A local HTTP server over tmp_path/www (no network): yields (folder, address)."""
    www = tmp_path / 'www'
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


BOOKS = 'user;book;stars\nann;dune;9\nann;emma;3\nbob;dune;10\ncy;emma;1\n'


def test_a_data_set_declared_in_one_module_is_fetched_loaded_and_given_its_family(
        served, tmp_path, caplog):
    www, address = served
    with zipfile.ZipFile(www / 'toy-books.zip', 'w') as archive:
        archive.writestr('toy-books-v1/book_ratings.csv', BOOKS)
    assert 'toy-books' in dataset_names()
    home = tmp_path / 'data'
    with caplog.at_level(logging.WARNING):
        folder = fetch('toy-books', data_home=home, url=address + '/toy-books.zip',
                       progress=False)
    assert folder == str(home / 'toy-books') and 'its SHA-256 is' in caplog.text
    books = load_dataset('toy-books', root=home, download=False)
    assert (len(books), books.num_users, books.num_items, books.scale) == (4, 3, 2, (1, 10))
    assert family_of(books) == 'movielens'  # declared, not guessed from the 1..10 scale
    assert len(load_dataset(os.path.join(folder, toy_dataset.RATINGS))) == 4  # claims
    with pytest.raises(FileNotFoundError, match='put book_ratings.csv into'):
        load_dataset('toy-books', root=tmp_path / 'empty', download=False)


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="family 'books' has no presets"):
        DataSet(name='x', family='books', read=print, rating_files=('r.csv',))
    with pytest.raises(ValueError, match='read= .* or generate='):
        DataSet(name='x', family='movielens', rating_files=('r.csv',))
    with pytest.raises(ValueError, match='rating_files names'):
        DataSet(name='x', family='movielens', read=print)
    with pytest.raises(ValueError, match="'ml-100k' is already declared"):
        register_dataset(DataSet(name='ml-100k', family='movielens', read=print,
                                 rating_files=('u.data',)))
    with pytest.raises(ValueError, match="unknown data set 'netflix'; choose from"):
        get_dataset('netflix')
    with pytest.raises(ValueError, match='declares no archive'):
        fetch('synthetic')
    try:
        register_dataset(DataSet(name='tmp-set', family='jester', generate=lambda **kw: kw))
        assert load_dataset('tmp-set', seed=3) == {'seed': 3, 'num_ratings': None}
    finally:
        unregister_dataset('tmp-set')
    assert 'tmp-set' not in dataset_names()


@pytest.mark.parametrize('dataset', [d for d in declared_datasets() if d.name != 'toy-books'],
                         ids=lambda d: d.name)
def test_every_built_in_declaration_is_complete(dataset):
    assert dataset.family in PRESETS and dataset.description
    if dataset.url:
        assert dataset.url.startswith('https://') and dataset.archive_members
        assert set(dataset.archive_members) & set(dataset.rating_files)
    if dataset.scale is not None:
        assert dataset.scale[0] < dataset.scale[1]


def test_the_real_data_fixture_skips_naming_what_is_missing(tmp_path):
    assert shared_data_missing(str(tmp_path / 'absent')).startswith('real data not found')
    reason = shared_data_missing(str(tmp_path))
    assert reason.startswith('real data incomplete') and all(f in reason for f in SHARED_FILES)
    for name in SHARED_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text('x')
    assert shared_data_missing(str(tmp_path)) is None
    (tmp_path / SHARED_FILES[-1]).unlink()
    assert shared_data_missing(str(tmp_path)).endswith('no ' + SHARED_FILES[-1])
