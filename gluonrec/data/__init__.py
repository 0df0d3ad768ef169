"""Data sets, id maps, scaling, splits, the rating iterator, and implicit feedback
(positives, ranking splits, the negative-sampling iterator)."""
from .ratings import IdMap, Ratings
from .tables import load_triples
from .sets import (DataNotFound, DataSet, JESTER_SCALE, data_home, dataset_names,
                   detect_movielens, get_dataset, load_jester, load_jester_jokes, load_movielens,
                   register_dataset)
from .scaling import IdentityScaler, MinMaxScaler, check_scaler, register_scaler
from .split import (cold_start_counts, kfold, new_user_split, random_rank_within, random_split,
                    user_holdout_split)
from .synthetic import make_implicit, make_jester_scale, make_synthetic
from .download import fetch
from .iterators import RatingIter, RowIter
from .catalog import family_of, load_dataset
from .implicit import (is_positives, k_core, leave_one_out, load_interactions, positives,
                       ranking_protocol, split_per_user, temporal_split)
from .sampling import NegativeSampleIter

__all__ = ['IdMap', 'Ratings', 'JESTER_SCALE', 'detect_movielens', 'load_jester',
           'load_jester_jokes', 'load_movielens', 'load_triples', 'MinMaxScaler',
           'check_scaler', 'register_scaler',
           'cold_start_counts', 'kfold', 'new_user_split', 'random_rank_within', 'random_split',
           'user_holdout_split',
           'make_synthetic', 'make_implicit', 'make_jester_scale', 'fetch', 'data_home',
           'RatingIter', 'RowIter', 'load_dataset', 'family_of', 'IdentityScaler',
           'NegativeSampleIter', 'positives', 'is_positives', 'ranking_protocol',
           'load_interactions', 'k_core', 'split_per_user', 'leave_one_out', 'temporal_split',
           'DataSet', 'DataNotFound', 'register_dataset', 'get_dataset', 'dataset_names']
