"""Data sets, one module each: a module declares its data sets (``DataSet``: files,
archive address and digest, rating scale, preset family, reader) with
``register_dataset``, and ``load_dataset``, ``fetch`` and ``family_of`` read those
declarations. Adding a data set is one such module."""
from .base import (DataNotFound, DataSet, data_home, dataset_names, declared_datasets,
                   get_dataset, register_dataset, unregister_dataset)
from .jester import JESTER_RATING_FILES, JESTER_SCALE, load_jester, load_jester_jokes
from .movielens import MOVIELENS_RATING_FILES, detect_movielens, load_movielens
from . import generated  # noqa: F401  (declares 'synthetic' and 'synthetic-large')

__all__ = ['DataSet', 'DataNotFound', 'register_dataset', 'unregister_dataset', 'get_dataset',
           'dataset_names', 'declared_datasets', 'data_home', 'load_jester',
           'load_jester_jokes', 'load_movielens', 'detect_movielens', 'JESTER_SCALE',
           'JESTER_RATING_FILES', 'MOVIELENS_RATING_FILES']
