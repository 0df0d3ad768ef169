"""load_dataset and family_of: a data set by name ('jester', 'ml-100k', ...) or path, and
the preset family of ratings, both read from the data set modules' declarations."""
import logging
import os

from .download import fetch
from .sets import DataNotFound, data_home, declared_datasets, get_dataset
from .tables import load_triples

__all__ = ['load_dataset', 'family_of']

logger = logging.getLogger(__name__)


def family_of(ratings):
    """The preset family (``gluonrec.presets``) of ``ratings``: the declared family of the
    data set it is named after (``ratings.name``, or its first word: 'ml-100k (ratings >=
    4)'), else of a declared data set on the same rating scale, else None (the caller
    chooses, and says so: ``train_model`` logs a warning and trains with MovieLens'
    presets)."""
    name = str(ratings.name)
    declared = declared_datasets()
    for candidate in (name, name.split(' ')[0]):
        for dataset in declared:
            if dataset.name == candidate:
                return dataset.family
    scale = tuple(float(v) for v in ratings.scale)
    for dataset in declared:
        if dataset.scale is not None and tuple(dataset.scale) == scale:
            return dataset.family
    return None


def _from_path(path, options):
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: no such file or folder (nor a declared data set)')
    for dataset in declared_datasets():
        if dataset.claims is not None and dataset.claims(path):
            return dataset.read(path, **options)
    if os.path.isdir(path):
        raise IsADirectoryError(f'{path}: a folder in no declared data set\'s format; pass '
                                'its ratings file')
    return load_triples(path)


def load_dataset(name_or_path, root=None, download=True, jokes=None, seed=0,
                 num_ratings=None):
    """Ratings of a data set given by name or by path.

    Parameters
    ----------
    name_or_path : str
        A declared data set (``gluonrec.data.dataset_names()``: 'jester', 'ml-100k',
        'ml-1m', 'ml-latest-small', 'synthetic', 'synthetic-large'), looked for in
        ``root/<name>``; otherwise a path, read by the first declared data set whose
        ``claims`` accepts it (a folder or ``u.data``/``ratings.dat``/``ratings.csv``:
        MovieLens, layout detected; a file named like ``jester*``: Jester), anything
        else by ``load_triples``.
    root : str, optional
        The data folder (default: ``data_home()``: ``$GLUONREC_DATA``, the checkout's
        ``data/``, or ``~/.gluonrec``).
    download : bool
        Fetch a named data set's official archive into ``root`` when it is absent, as
        scikit-learn's ``fetch_*`` functions do. With False (or offline), ``DataNotFound``
        says which files to put where.
    jokes : str, optional
        With a Jester file path: the joke texts to attach as ``item_names``.
    seed : int
        For the generated data sets.
    num_ratings : int, optional
        For the generated data sets: another size than their own.

    Returns
    -------
    Ratings
    """
    name = os.fspath(name_or_path)
    try:
        dataset = get_dataset(name)
    except ValueError:
        return _from_path(name, {'jokes': jokes} if jokes else {})
    if dataset.generate is not None:
        return dataset.generate(seed=seed, num_ratings=num_ratings)
    home = data_home(root)
    folder = dataset.folder_in(home)
    if not dataset.present_in(folder):
        if not download or dataset.url is None:
            allow = ' (or pass download=True)' if dataset.url else ''
            raise DataNotFound(f'{name} is not in {folder}: {dataset.offline_help(folder)}'
                               f'{allow}')
        folder = fetch(name, root)
    return dataset.read(folder)
