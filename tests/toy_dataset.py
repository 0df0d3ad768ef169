"""A data set module as a researcher would write one: a book-ratings archive (made up,
1..10 stars, semicolon-separated with a header) declared in one file. Importing it is all
``load_dataset``, ``fetch`` and ``family_of`` need; tests/test_sets.py uses it."""
import os

from gluonrec.data import DataSet, register_dataset
from gluonrec.data.tables import Table, load_table

RATINGS = 'book_ratings.csv'


def read(path):
    """The folder holding book_ratings.csv, or that file."""
    file = os.path.join(path, RATINGS) if os.path.isdir(path) else path
    table = Table(';', 3, header=True, integer_ids=False)
    return load_table(file, table, (1.0, 10.0), 'toy-books')


TOY_BOOKS = register_dataset(DataSet(
    name='toy-books', family='movielens', read=read, scale=(1.0, 10.0),
    rating_files=(RATINGS,), url='https://example.org/toy-books.zip',
    claims=lambda path: os.path.basename(path) == RATINGS,
    description='made-up book ratings, 1..10 (tests only)'))
