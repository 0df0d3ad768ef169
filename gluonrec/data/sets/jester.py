"""Jester (Goldberg et al. 2001): jokes rated -10..10 by their readers, with the jokes'
texts. Dataset 2 as published (``jester_ratings.dat``), its samples and a CSV form."""
import html
import os
import re

from ..tables import Table, decode_text, first_line, load_table, read_bytes
from .base import DataSet, register_dataset

__all__ = ['load_jester', 'load_jester_jokes', 'JESTER', 'JESTER_SCALE', 'JESTER_RATING_FILES']

JESTER_SCALE = (-10.0, 10.0)

#: Looked for, in order, in DATA/jester: dataset 2 as downloaded, the 5k sample, CSV.
JESTER_RATING_FILES = ('jester_ratings.dat', 'jester_ratings.dat.gz', 'ratings.dat.gz',
                       'ratings.dat', 'jester_ratings.csv')
JOKES_FILE = 'jester_items.dat'


def load_jester(path, jokes=None, on_bad_lines='error', duplicates='error'):
    """Load Jester dataset-2 ratings.

    Parameters
    ----------
    path : str
        ``jester_ratings.dat`` (``user<TAB><TAB>joke<TAB><TAB>rating``) or its CSV form
        (``userId,jokeId,rating`` with a header line); plain or gzip-compressed.
    jokes : str, optional
        ``jester_items.dat``; its texts become ``item_names``.
    on_bad_lines : {'error', 'skip'}
        Raise on the first bad line (naming file and line), or skip and log the count.
    duplicates : {'error', 'last', 'mean'}
        A (user, joke) pair rated on two lines: raise naming both lines, keep the last
        rating, or average them.

    Returns
    -------
    Ratings
        Ratings on the scale (-10, 10).
    """
    first = first_line(path)
    if ',' in first:
        table = Table(',', 3, header=not first.split(',')[0].strip().lstrip('-').isdigit())
    elif '\t\t' in first:
        table = Table('\t\t', 3)
    else:  # tolerate single tabs or spaces, as some mirrors rewrite the file
        table = Table('\t' if '\t' in first else ' ', 3)
    names = load_jester_jokes(jokes) if jokes else None
    return load_table(path, table, JESTER_SCALE, 'jester', on_bad_lines, item_names=names,
                      duplicates=duplicates)


_TAG = re.compile(r'<[^>]*>')
_JOKE_ID = re.compile(r'^\s*(\d+):\s*$')


def _clean_text(raw):
    text = _TAG.sub(' ', raw)
    text = html.unescape(text)
    paragraphs = [' '.join(part.split()) for part in re.split(r'\n\s*\n', text)]
    return '\n\n'.join(p for p in paragraphs if p)


def load_jester_jokes(path):
    """Read Jester joke texts (``jester_items.dat``).

    The file holds a line ``N:`` and then the joke, possibly several paragraphs with
    HTML tags and entities, which are stripped to plain text.

    Returns
    -------
    dict
        Raw joke id (int) -> text.
    """
    text = decode_text(path, read_bytes(path))
    jokes, current, lines = {}, None, []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _JOKE_ID.match(line)
        if match:
            if current is not None:
                jokes[current] = _clean_text('\n'.join(lines))
            current, lines = int(match.group(1)), []
            if current in jokes:
                raise ValueError(f'{path}, line {number}: joke {current} appears twice')
        elif current is None:
            if line.strip():
                raise ValueError(f'{path}, line {number}: expected a joke id line "N:"')
        else:
            lines.append(line)
    if current is not None:
        jokes[current] = _clean_text('\n'.join(lines))
    if not jokes:
        raise ValueError(f'{path}: no jokes found')
    return jokes


def _read(path, jokes=None):
    """A Jester folder (the first of ``JESTER_RATING_FILES``, the joke texts beside it
    when there) or a ratings file."""
    if not os.path.isdir(path):
        return load_jester(path, jokes=jokes)
    name = next(n for n in JESTER_RATING_FILES if os.path.isfile(os.path.join(path, n)))
    beside = os.path.join(path, JOKES_FILE)
    return load_jester(os.path.join(path, name),
                       jokes=jokes or (beside if os.path.isfile(beside) else None))


JESTER = register_dataset(DataSet(
    name='jester', family='jester', read=_read, scale=JESTER_SCALE,
    rating_files=JESTER_RATING_FILES,
    url='https://eigentaste.berkeley.edu/dataset/archive/jester_dataset_2.zip',
    members=('jester_ratings.dat', JOKES_FILE),
    claims=lambda path: os.path.isfile(path) and 'jester' in os.path.basename(path).lower(),
    description='Jester dataset 2: 1.8M ratings of 150 jokes by 59,132 users, -10..10, '
                'with the jokes\' texts'))
