"""scikit-learn estimators and cross-validation splitters for rating prediction.

``RatingRegressor`` wraps ``train_model`` as a scikit-learn regressor over (user, item)
pairs, so ``GridSearchCV``, ``RandomizedSearchCV``, ``cross_validate``, ``clone`` and
pipelines work on any registered model::

    from sklearn.model_selection import GridSearchCV
    from gluonrec.sklearn import RatingRegressor, UserKFold

    search = GridSearchCV(RatingRegressor('biased_mf'),
                          {'num_factors': [32, 64], 'reg': [0.02, 0.05], 'lr': [0.02, 0.05]},
                          cv=UserKFold(3, random_state=0),
                          scoring='neg_root_mean_squared_error')
    search.fit(frame[['user', 'item']], frame['rating'])

The splitters keep recommendation data sensible where ``KFold`` does not: every user's
ratings are spread over the folds, and a user's only rating never lands in validation.
"""
import os
import shutil
import tempfile

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils.validation import check_array, check_is_fitted

from .data.ratings import Ratings
from .data.split import random_rank_within
from .metrics import rmse
from .models import model_names
from .recommender import unknown_policy

__all__ = ['RatingRegressor', 'UserKFold', 'LeaveKOutPerUser', 'split_pairs', 'rmse_score']



def split_pairs(X, name='X'):
    """(users, items) raw id arrays from a DataFrame with columns user and item (else
    its first two columns) or an array-like of shape (n, 2).

    Arrays go through scikit-learn's ``check_array`` first (no sparse or complex
    input, at least one row), so errors read as they do for any estimator."""
    if isinstance(X, pd.DataFrame):
        if {'user', 'item'} <= set(X.columns):
            return X['user'].to_numpy(), X['item'].to_numpy()
        if X.shape[1] != 2:
            raise ValueError(f'{name}: a DataFrame needs columns user and item, or exactly '
                             f'two columns; got {list(X.columns)}')
        return X.iloc[:, 0].to_numpy(), X.iloc[:, 1].to_numpy()
    array = check_array(X, dtype=None, accept_sparse=False, ensure_all_finite=False,
                        input_name=name)
    if array.shape[1] != 2:
        raise ValueError(f'{name}: expected (user, item) ids of shape (n, 2), got shape '
                         f'{array.shape} (n_features = {array.shape[1]})')
    return array[:, 0], array[:, 1]


def _ids(values, name):
    """Raw ids as integers or strings (an id column of floats must hold integers)."""
    values = np.asarray(values)
    if values.dtype.kind == 'c':
        raise ValueError(f'{name}: complex data not supported')
    if values.dtype.kind == 'f':
        if not np.isfinite(values).all() or (values != np.round(values)).any():
            raise ValueError(f'{name}: ids must be integers or strings, got non-integral '
                             'numbers')
        return values.astype(np.int64)
    if values.dtype.kind == 'b':
        raise ValueError(f'{name}: ids must be integers or strings, got booleans')
    if values.dtype.kind in 'iuU':
        return values
    return values.astype(str).astype(object)


def rmse_score(estimator, X, y):
    """A scorer: the negative RMSE on the original scale (greater is better), the same
    number as scikit-learn's ``'neg_root_mean_squared_error'``."""
    return -rmse(np.asarray(y, dtype=np.float64), estimator.predict(X))


class RatingRegressor(RegressorMixin, BaseEstimator):
    """Rating prediction from (user, item) ids with any registered gluonrec model.

    Every constructor argument is a hyperparameter stored as given; those left None are
    filled from the family's preset when ``fit`` runs (so ``clone``, ``get_params`` and
    ``set_params`` see only what was asked for), and ``settings_`` records every value
    used.

    Parameters
    ----------
    model : str
        A registered model name ('mf', 'biased_mf', 'nnmf', 'mlp', ...).
    family : {'jester', 'movielens'}, optional
        Whose presets fill unset settings (default: from the rating scale).
    num_factors, epochs, batch_size, optimizer, lr, wd, reg, patience : optional
        Training settings, as in ``train_model``.
    engine : {'auto', 'fused', 'generic'}, optional
    validation_fraction : float
        Share of the training pairs held out for early stopping (default 0.2, as
        ``train_model``'s; 0: none, train on all for ``epochs``, ``patience`` then has
        no effect).
    refit : bool
        With a validation share: after early stopping chose the number of epochs on
        it, train afresh on all the pairs for that many epochs (``train_model``'s
        ``refit``; the default, as there). False keeps the selection run's model,
        trained on the other pairs only.
    scale : (low, high), optional
        The rating scale (default: the smallest and largest training rating).
    unknown : {'baseline', 'error'}
        Prediction for a user or item absent from the training pairs
        (``gluonrec.recommender.UNKNOWN``): the baseline of ``Recommender.predict``
        (global plus known bias, else the training mean), or ``KeyError``; 'mean' is
        the older name of 'baseline'.
    model_kwargs : dict, optional
        Further constructor arguments of the model (``hidden``, ``dropout``, ...).
    random_state : int
        Seeds the validation split, the shuffling and the parameters.
    ctx : str
        Device, as in ``train_model`` ('cpu', 'gpu:0', 'auto').

    Attributes
    ----------
    recommender_ : Recommender
        The trained model with its id maps: ``similar_items``, ``recommend`` and
        ``save`` work on it.
    trained_ : TrainedModel
    settings_ : dict
    history_ : list of dict
    scale_ : (float, float)
    n_features_in_ : int
        Always 2 (user, item).
    feature_names_in_ : ndarray
        Column names when fitted on a DataFrame with string column names.
    """

    def __init__(self, model='biased_mf', family=None, num_factors=None, epochs=None,
                 batch_size=None, optimizer=None, lr=None, wd=None, reg=None, patience=None,
                 engine=None, validation_fraction=0.2, refit=True, scale=None,
                 unknown='baseline', model_kwargs=None, random_state=0, ctx='cpu'):
        self.model = model
        self.family = family
        self.num_factors = num_factors
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.wd = wd
        self.reg = reg
        self.patience = patience
        self.engine = engine
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.scale = scale
        self.unknown = unknown
        self.model_kwargs = model_kwargs
        self.random_state = random_state
        self.ctx = ctx

    def _check_params(self):
        if self.model not in model_names('rating'):
            what = ' (a ranking model: it scores items, it predicts no ratings; train it ' \
                'with train_model)' if self.model in model_names('ranking') else ''
            raise ValueError(f'model={self.model!r}{what}; choose from '
                             f'{model_names("rating")}')
        unknown_policy(self.unknown, ('error', 'baseline'))
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError('validation_fraction must lie in [0, 1), got '
                             f'{self.validation_fraction!r}')
        seed = self.random_state
        if seed is None or isinstance(seed, np.random.RandomState):
            raise ValueError('random_state must be an int (gluonrec seeds MXNet and numpy '
                             'from it), got {!r}'.format(seed))

    def _ratings(self, X, y):
        if y is None:
            raise ValueError(f'{type(self).__name__} requires y to be passed, but the target '
                             'y is None')
        users, items = split_pairs(X)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f'y: expected one rating per pair, got shape {y.shape}')
        if len(y) != len(users):
            raise ValueError(f'X has {len(users)} pairs but y has {len(y)} ratings')
        if len(y) < 2:
            raise ValueError(f'need at least 2 ratings to fit, got n_samples = {len(y)}')
        if not np.isfinite(y).all():
            raise ValueError('y: ratings must be finite (found NaN or infinity)')
        if self.scale is None:
            low, high = float(y.min()), float(y.max())
            if low == high:
                raise ValueError('y: all ratings are equal; give scale=(low, high)')
        else:
            low, high = (float(v) for v in self.scale)
            if ((y < low) | (y > high)).any():
                raise ValueError(f'y: ratings outside scale={self.scale}')
        return Ratings.from_raw(_ids(users, 'X[:, 0] (users)'), _ids(items, 'X[:, 1] (items)'),
                                y.astype(np.float32), (low, high), name='sklearn')

    def fit(self, X, y):
        """Train on (user, item) pairs ``X`` and their ratings ``y``."""
        from .recipe import train_model
        self._check_params()
        if hasattr(X, 'shape') and len(X.shape) and X.shape[0] == 1:
            raise ValueError('need at least 2 ratings to fit, got n_samples = 1')
        ratings = self._ratings(X, y)
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, 'feature_names_in_'):
            del self.feature_names_in_
        self.trained_ = train_model(
            ratings, model=self.model, family=self.family,
            val_fraction=self.validation_fraction, num_factors=self.num_factors,
            epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer,
            lr=self.lr, wd=self.wd, reg=self.reg, patience=self.patience,
            model_kwargs=self.model_kwargs, seed=int(self.random_state), ctx=self.ctx,
            engine=self.engine, refit=None if self.refit else False)
        self._set_fitted(self.trained_.recommender())
        return self

    def _set_fitted(self, rec):
        self.recommender_ = rec
        self.settings_ = dict(rec.config.get('extra', {}).get('settings', {}))
        self.history_ = list(rec.history)
        self.scale_ = tuple(rec.scale)
        self.n_features_in_ = 2

    def predict(self, X):
        """Predicted ratings of the pairs ``X``, on the original scale."""
        check_is_fitted(self, 'recommender_')
        users, items = split_pairs(X)
        if len(users) == 0:
            return np.empty(0)
        rec = self.recommender_
        return np.asarray(rec.predict(_ids(users, 'X[:, 0] (users)'),
                                      _ids(items, 'X[:, 1] (items)'),
                                      unknown=self.unknown), dtype=np.float64)

    # score: RegressorMixin's R^2 (scikit-learn's convention for regressors); use
    # scoring='neg_root_mean_squared_error' or rmse_score for the RMSE.

    def save(self, folder):
        """Write the fitted model with ``save_model`` (a folder; no pickle)."""
        from .persist import save_model
        check_is_fitted(self, 'recommender_')
        rec = self.recommender_
        return save_model(folder, rec.net, rec.train, rec.scaler, history=rec.history,
                          test=rec.test, item_names=rec.item_names,
                          extra={'settings': self.settings_,
                                 'estimator': self.get_params(deep=False)})

    @classmethod
    def load(cls, folder, ctx=None):
        """An estimator fitted from a folder written by ``save`` (or ``save_model``)."""
        from .persist import load_model
        rec = load_model(folder, ctx=ctx)
        params = dict(rec.config.get('extra', {}).get('estimator') or {})
        if 'scale' in params and params['scale'] is not None:
            params['scale'] = tuple(params['scale'])
        estimator = cls(**{k: v for k, v in params.items() if k in cls._get_param_names()})
        if not params:
            estimator.model = rec.model_name
        estimator._set_fitted(rec)
        return estimator

    # In-memory pickling (joblib's n_jobs > 1, copy.deepcopy): a fitted estimator
    # travels as the bytes of its model folder, never as pickled MXNet objects.
    def __getstate__(self):
        state = self.__dict__.copy()
        if 'recommender_' not in state:
            return state
        state.pop('recommender_')
        state.pop('trained_', None)
        folder = tempfile.mkdtemp(prefix='gluonrec-pickle-')
        try:
            self.save(os.path.join(folder, 'model'))
            root = os.path.join(folder, 'model')
            state['_model_files'] = {name: open(os.path.join(root, name), 'rb').read()
                                     for name in os.listdir(root)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return state

    def __setstate__(self, state):
        files = state.pop('_model_files', None)
        self.__dict__.update(state)
        if files is None:
            return
        from .persist import load_model
        folder = tempfile.mkdtemp(prefix='gluonrec-unpickle-')
        try:
            for name, data in files.items():
                with open(os.path.join(folder, name), 'wb') as handle:
                    handle.write(data)
            self.recommender_ = load_model(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.target_tags.required = True
        return tags


def _users_of(X):
    return _ids(split_pairs(X)[0], 'X[:, 0] (users)')


def _within_user_rank(users, rng):
    """(user codes, each pair's position among its user's pairs in a random order,
    each pair's user's number of pairs)."""
    codes = pd.factorize(users)[0]
    return codes, random_rank_within(codes, rng), np.bincount(codes)[codes]


class UserKFold(BaseCrossValidator):
    """K-fold over each user's ratings: every user's pairs are dealt round-robin (in a
    random order) to the folds, so each validation fold holds about 1/k of every user's
    ratings; a user's only rating stays in training in every fold.

    Parameters
    ----------
    n_splits : int
    random_state : int, optional
        Seeds the order within each user (None: a fresh order each ``split``).
    """

    def __init__(self, n_splits=5, random_state=None):
        if isinstance(n_splits, bool) or int(n_splits) != n_splits or n_splits < 2:
            raise ValueError(f'n_splits must be an integer >= 2, got {n_splits!r}')
        self.n_splits = int(n_splits)
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _iter_test_masks(self, X=None, y=None, groups=None):
        rng = np.random.RandomState(self.random_state)
        codes, rank, counts = _within_user_rank(_users_of(X), rng)
        # Each user starts dealing at a random fold, so the folds stay balanced when
        # many users have fewer ratings than there are folds.
        start = rng.randint(self.n_splits, size=codes.max() + 1 if len(codes) else 0)
        fold = (rank + start[codes]) % self.n_splits
        for k in range(self.n_splits):
            yield (fold == k) & (counts > 1)


class LeaveKOutPerUser(BaseCrossValidator):
    """Repeated hold-out: in each split, ``k`` random ratings of every user with more
    than ``k`` ratings go to validation (users with ``k`` or fewer stay in training).

    Parameters
    ----------
    k : int
    n_splits : int
        Number of independent draws.
    random_state : int, optional
    """

    def __init__(self, k=1, n_splits=3, random_state=None):
        for name, value in (('k', k), ('n_splits', n_splits)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f'{name} must be a positive integer, got {value!r}')
        self.k, self.n_splits, self.random_state = int(k), int(n_splits), random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _iter_test_masks(self, X=None, y=None, groups=None):
        users = _users_of(X)
        rng = np.random.RandomState(self.random_state)
        for _ in range(self.n_splits):
            _, rank, counts = _within_user_rank(users, rng)
            yield (rank < self.k) & (counts > self.k)
