"""What a data set module declares (``DataSet``), the registry of declared data sets, and
the folder they are kept in (``data_home``)."""
import logging
import os
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from ...presets import PRESETS

__all__ = ['DataSet', 'DataNotFound', 'register_dataset', 'get_dataset', 'dataset_names',
           'declared_datasets', 'data_home']

logger = logging.getLogger(__name__)


class DataNotFound(FileNotFoundError):
    """A named data set is not in its folder and could not be (or was not to be) fetched;
    the message says where to put its files."""


@dataclass(frozen=True)
class DataSet:
    """A data set as its module declares it: everything ``load_dataset``, ``fetch`` and
    ``family_of`` need to know of it.

    Parameters
    ----------
    name : str
        What ``load_dataset`` and ``fetch`` take ('jester', 'ml-100k').
    family : str
        The ``gluonrec.presets`` family its models train with ('jester', 'movielens').
    read : callable
        ``read(path, **options)`` -> ``Ratings``: the folder ``data_home()/folder`` (or a
        path the user gave that ``claims`` accepts).
    scale : (float, float), optional
        The rating scale; ``family_of`` also matches undeclared ratings on it.
    rating_files : tuple of str
        Any one of them in the folder means the data set is present.
    url : str, optional
        The official zip archive (None: nothing to download).
    members : tuple of str
        The files ``fetch`` extracts from the archive (default: ``rating_files``).
    digest : (str, str), optional
        (hash algorithm, hex digest) the archive is checked against before extraction;
        None: the SHA-256 fetched is logged so a user can pin it.
    folder : str, optional
        Its folder under ``data_home()`` (default: ``name``).
    claims : callable, optional
        ``claims(path)`` -> bool: whether a file or folder given by path is in this data
        set's format (``load_dataset(path)`` tries the declared data sets in turn).
    generate : callable, optional
        ``generate(seed=, num_ratings=)`` -> ``Ratings`` for a generated data set (no
        files).
    description : str
        One line for listings and the docs.
    """
    name: str
    family: str
    read: Optional[Callable] = None
    scale: Optional[Tuple[float, float]] = None
    rating_files: Tuple[str, ...] = ()
    url: Optional[str] = None
    members: Tuple[str, ...] = ()
    digest: Optional[Tuple[str, str]] = None
    folder: Optional[str] = None
    claims: Optional[Callable] = None
    generate: Optional[Callable] = None
    description: str = ''

    def __post_init__(self):
        if self.family not in PRESETS:
            raise ValueError(f'data set {self.name!r}: family {self.family!r} has no presets; '
                             f'choose from {sorted(PRESETS)}')
        if (self.read is None) == (self.generate is None):
            raise ValueError(f'data set {self.name!r}: declare read= (files) or generate= '
                             '(generated), one of them')
        if self.read is not None and not self.rating_files:
            raise ValueError(f'data set {self.name!r}: rating_files names the files read= '
                             'reads')
        if self.url is not None and not self.archive_members:
            raise ValueError(f'data set {self.name!r}: an archive needs members to extract')

    @property
    def archive_members(self):
        """The files ``fetch`` extracts and requires."""
        return self.members or self.rating_files

    def folder_in(self, home):
        """The data set's folder under ``home``."""
        return os.path.join(home, self.folder or self.name)

    def present_in(self, folder):
        """Whether ``folder`` holds one of the ``rating_files``."""
        return any(os.path.isfile(os.path.join(folder, name)) for name in self.rating_files)

    def offline_help(self, folder):
        """What to do when the data set is not in ``folder`` and cannot be downloaded."""
        files = ' and '.join(self.archive_members) if self.url else \
            ' or '.join(self.rating_files)
        fetch = f'download {self.url} elsewhere and ' if self.url else ''
        return (f'{fetch}put {files} into {folder}, or set GLUONREC_DATA to the absolute '
                f'path of a folder holding {self.folder or self.name}/')


_DECLARED = {}


def register_dataset(dataset, replace=False):
    """Declare ``dataset`` (a ``DataSet``) so ``load_dataset``, ``fetch`` and ``family_of``
    know it by name; a name already declared is refused unless ``replace``. Returns it."""
    if not isinstance(dataset, DataSet):
        raise TypeError(f'register_dataset takes a DataSet, got {type(dataset).__name__}')
    if dataset.name in _DECLARED and not replace:
        raise ValueError(f'a data set named {dataset.name!r} is already declared '
                         '(replace=True to replace it)')
    _DECLARED[dataset.name] = dataset
    return dataset


def unregister_dataset(name):
    """Forget a declared data set (tests declare toy ones)."""
    _DECLARED.pop(name, None)


def get_dataset(name):
    """The declared ``DataSet`` called ``name``; ``ValueError`` naming the choices."""
    try:
        return _DECLARED[name]
    except (KeyError, TypeError):
        raise ValueError(f'unknown data set {name!r}; choose from {dataset_names()}') from None


def dataset_names():
    """The names of the declared data sets, sorted."""
    return sorted(_DECLARED)


def declared_datasets():
    """The declared ``DataSet`` objects, in declaration order."""
    return list(_DECLARED.values())


def data_home(data_home=None):
    """Where data sets are looked for and downloaded to.

    In order: the ``data_home`` argument, the ``GLUONREC_DATA`` environment variable,
    the ``data/`` folder of a source checkout, ``~/.gluonrec``. A relative
    ``GLUONREC_DATA`` is resolved against the current folder and the result logged (a
    command run from another folder would otherwise look, and download, elsewhere).
    """
    if data_home:
        return os.path.abspath(os.path.expanduser(os.fspath(data_home)))
    env = os.environ.get('GLUONREC_DATA')
    if env:
        resolved = os.path.abspath(os.path.expanduser(env))
        if not os.path.isabs(os.path.expanduser(env)):
            logger.info('GLUONREC_DATA=%s is relative: data from %s', env, resolved)
        return resolved
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    if os.path.isfile(os.path.join(checkout, 'setup.cfg')) and \
            os.path.isdir(os.path.join(checkout, 'data')):
        return os.path.join(checkout, 'data')
    return os.path.join(os.path.expanduser('~'), '.gluonrec')
