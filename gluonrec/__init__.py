"""gluonrec: collaborative filtering with Apache MXNet Gluon."""
__version__ = '0.1.0'

from . import _compat  # noqa: F401  (restores numpy aliases before mxnet loads)
from .data import (MinMaxScaler, RatingIter, Ratings, fetch, load_jester, load_jester_jokes,
                   load_movielens, load_triples, make_synthetic, random_split)
from .models import get_model, model_names
from .train import evaluate, fit, plot_history
from .persist import Recommender, load_model, save_model
from .similarity import similar_items, similar_users
from .recommend import recommend, recommend_all

__all__ = ['__version__', 'MinMaxScaler', 'RatingIter', 'Ratings', 'fetch', 'load_jester',
           'load_jester_jokes', 'load_movielens', 'load_triples', 'make_synthetic',
           'random_split', 'get_model', 'model_names', 'evaluate', 'fit', 'plot_history',
           'Recommender', 'load_model', 'save_model', 'similar_items', 'similar_users',
           'recommend', 'recommend_all']
