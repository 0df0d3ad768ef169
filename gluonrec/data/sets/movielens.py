"""MovieLens (Harper and Konstan 2015): movies rated 1..5 stars (half stars from 10M on)
by GroupLens' users, with titles. The 100k, 1M, 10M and latest/20M/25M layouts."""
import csv
import os

import pandas as pd

from ..tables import Table, load_table, read_bytes, read_head
from .base import DataSet, register_dataset

__all__ = ['load_movielens', 'detect_movielens', 'MOVIELENS_RATING_FILES']


def _titles_100k(path):
    frame = pd.read_csv(path, sep='|', header=None, encoding='latin-1', usecols=[0, 1],
                        quoting=csv.QUOTE_NONE)
    return dict(zip(frame[0].tolist(), frame[1].tolist()))


def _titles_dat(path):
    data = read_bytes(path)
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:  # ml-1m's movies.dat is latin-1
        text = data.decode('latin-1')
    titles = {}
    for line in text.splitlines():
        parts = line.split('::')
        if len(parts) >= 2 and parts[0].strip().isdigit():
            titles[int(parts[0])] = parts[1]
    return titles


def _titles_csv(path):
    frame = pd.read_csv(path, usecols=['movieId', 'title'])
    return dict(zip(frame['movieId'].tolist(), frame['title'].tolist()))


# layout -> (ratings file, table, scale, items file, item reader)
_MOVIELENS = {
    'ml-100k': ('u.data', Table('\t', 4, timestamp=3), (1.0, 5.0), 'u.item', _titles_100k),
    'ml-1m': ('ratings.dat', Table('::', 4, timestamp=3), (1.0, 5.0), 'movies.dat',
              _titles_dat),
    'ml-10m': ('ratings.dat', Table('::', 4, timestamp=3), (0.5, 5.0), 'movies.dat',
               _titles_dat),
    'ml-latest': ('ratings.csv', Table(',', 4, timestamp=3, header=True), (0.5, 5.0),
                  'movies.csv', _titles_csv),
}


#: The ratings file of each MovieLens layout, in the order ``detect_movielens`` tries them.
MOVIELENS_RATING_FILES = tuple(dict.fromkeys(layout[0] for layout in _MOVIELENS.values()))


def detect_movielens(folder):
    """Name the MovieLens layout of ``folder``: 'ml-100k', 'ml-1m', 'ml-10m' or 'ml-latest'."""
    folder = os.fspath(folder)
    if os.path.isfile(os.path.join(folder, 'u.data')):
        return 'ml-100k'
    if os.path.isfile(os.path.join(folder, 'ratings.dat')):
        # ml-1m rates in whole stars; ml-10m in half stars.
        sample = read_head(os.path.join(folder, 'ratings.dat'), 200000)
        half = any('.5' in line.split('::')[2] for line in sample.splitlines()
                   if line.count('::') == 3)
        return 'ml-10m' if half else 'ml-1m'
    if os.path.isfile(os.path.join(folder, 'ratings.csv')):
        return 'ml-latest'
    raise ValueError(f'{folder}: not a MovieLens folder (no u.data, ratings.dat or ratings.csv)')


def load_movielens(path, on_bad_lines='error', titles=True, duplicates='error'):
    """Load MovieLens ratings with their titles.

    Parameters
    ----------
    path : str
        A MovieLens folder (100k ``u.data``; 1M/10M ``ratings.dat``; latest/20M/25M
        ``ratings.csv``; the layout is detected) or one of those rating files.
    on_bad_lines : {'error', 'skip'}
    titles : bool
        Read movie titles into ``item_names`` when the items file is present.
    duplicates : {'error', 'last', 'mean'}
        As in ``load_jester``.

    Returns
    -------
    Ratings
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        folder, kind = path, detect_movielens(path)
    elif os.path.isfile(path):
        folder = os.path.dirname(path) or '.'
        base = os.path.basename(path)
        matches = [k for k, spec in _MOVIELENS.items() if spec[0] == base]
        if not matches:
            raise ValueError(f'{path}: not a MovieLens rating file '
                             '(expected u.data, ratings.dat or ratings.csv)')
        kind = detect_movielens(folder) if len(matches) > 1 else matches[0]
    else:
        raise FileNotFoundError(f'{path}: no such file or folder')
    ratings_file, table, scale, items_file, reader = _MOVIELENS[kind]
    names = None
    items_path = os.path.join(folder, items_file)
    if titles and os.path.isfile(items_path):
        names = reader(items_path)
    return load_table(os.path.join(folder, ratings_file), table, scale, kind, on_bad_lines,
                      item_names=names, duplicates=duplicates)


def _claims(path):
    return os.path.isdir(path) or os.path.basename(path) in MOVIELENS_RATING_FILES


def _movielens(name, url, files, digest, description):
    """A MovieLens release: read by ``load_movielens`` (its layout detected)."""
    layout = _MOVIELENS['ml-latest' if name == 'ml-latest-small' else name]
    return register_dataset(DataSet(
        name=name, family='movielens', read=load_movielens, scale=layout[2],
        rating_files=(layout[0],), url=f'https://files.grouplens.org/datasets/movielens/{url}',
        members=files, digest=digest, claims=_claims, description=description))


# GroupLens publishes an MD5 beside its fixed releases (ml-100k.zip.md5, ml-1m.zip.md5):
# no SHA-256 is published, so MD5 it is, which catches corruption and a swapped file
# though not a deliberate collision. ml-latest-small is rebuilt now and then, so it has
# no digest to pin: ``fetch`` logs the SHA-256 it got and takes ``sha256=`` to pin it.
ML_100K = _movielens('ml-100k', 'ml-100k.zip', ('u.data', 'u.item'),
                     ('md5', '0e33842e24a9c977be4e0107933c0723'),
                     'MovieLens 100k: 100,000 ratings of 1,682 movies by 943 users, 1..5')
ML_1M = _movielens('ml-1m', 'ml-1m.zip', ('ratings.dat', 'movies.dat'),
                   ('md5', 'c4d9eecfca2ab87c1945afe126590906'),
                   'MovieLens 1M: 1,000,209 ratings of 3,706 movies by 6,040 users, 1..5')
ML_LATEST_SMALL = _movielens('ml-latest-small', 'ml-latest-small.zip',
                             ('ratings.csv', 'movies.csv'), None,
                             'MovieLens latest-small: about 100,000 ratings, 0.5..5 in '
                             'half stars (rebuilt by GroupLens now and then)')
