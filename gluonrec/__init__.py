"""gluonrec: collaborative filtering with Apache MXNet Gluon."""
from ._version import __version__
from . import _compat  # noqa: F401  (restores numpy aliases before mxnet loads)
from .data import (MinMaxScaler, RatingIter, Ratings, fetch, load_dataset, load_jester,
                   load_jester_jokes, load_movielens, load_triples, make_synthetic,
                   random_split)
from .models import RecModel, get_model, model_names, register_model
from .train import evaluate, fit, plot_history
from .recommender import Recommender
from .persist import add_users, load_model, save_model
from .recipe import TrainedModel, train_model
from .similarity import similar_items, similar_users
from .recommend import recommend, recommend_all
from .blend import Blend

__all__ = ['__version__', 'MinMaxScaler', 'RatingIter', 'Ratings', 'fetch', 'load_dataset',
           'load_jester', 'load_jester_jokes', 'load_movielens', 'load_triples',
           'make_synthetic', 'random_split', 'RecModel', 'get_model', 'model_names',
           'register_model', 'evaluate', 'fit',
           'plot_history', 'Recommender', 'load_model', 'save_model', 'add_users',
           'TrainedModel', 'train_model', 'similar_items', 'similar_users', 'recommend',
           'recommend_all', 'Blend']
