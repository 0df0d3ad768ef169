"""The trained-model contract (``RecommenderBase``) and ``Recommender``, a trained network
with its id maps, scaler and training ratings.

What every consumer of a trained model asks of it (``recommend``, ``recommend_all``,
``similar_items``, ``evaluation``, the scripts) is stated once, in ``RecommenderBase``;
``Recommender`` (one network) and ``Blend`` (an average of several) implement it.
"""
import abc
import os

import numpy as np
import scipy.sparse as sp

from ._compat import mx
from .models import model_name_of

__all__ = ['RecommenderBase', 'Recommender', 'UNKNOWN', 'unknown_policy']

#: What to do for a user (or item) a trained model never saw, one vocabulary across
#: ``predict``, ``recommend``, ``RatingRegressor`` and ``recommend.py --unknown``:
#: 'error' raises ``KeyError`` naming it; 'baseline' uses the model's baseline (global
#: plus the known side's bias for a model with biases, else training means); 'popular'
#: (top-N only) lists the most rated items.
UNKNOWN = ('error', 'baseline', 'popular')
_OLD_NAMES = {None: 'error', 'mean': 'baseline', 'bias': 'baseline'}  # earlier releases'


def unknown_policy(value, allowed=UNKNOWN, argument='unknown'):
    """``value`` checked against ``allowed`` (the older names 'mean' and 'bias' are
    'baseline', None is 'error'); ``ValueError`` naming ``argument`` otherwise."""
    policy = _OLD_NAMES.get(value, value) if isinstance(value, (str, type(None))) else value
    if policy not in allowed:
        raise ValueError(f'{argument} must be one of {allowed}, got {value!r}')
    return policy


class RecommenderBase(abc.ABC):
    """What a trained model answers; everything that serves models relies on this only.

    A subclass calls ``super().__init__(train)`` with the training ``Ratings`` and
    implements the three abstract methods. The rest follows from the training
    ratings.

    Attributes
    ----------
    train : Ratings
        What the model was trained on. Its id maps (``user_map``, ``item_map``) define
        the raw ids the model knows (inner ids ``0..n-1`` index every array below), and
        its pairs what each user already rated (``rated_matrix``).
    scale : (float, float)
        The rating scale; every prediction and score is on it.
    item_names : dict
        Raw item id -> title or text (``item_name``).
    item_counts, user_counts : numpy.ndarray of int
        Training ratings per inner item and user; an item with 0 has no trained factors.
    """

    def __init__(self, train):
        self.train = train
        self.user_map, self.item_map = train.user_map, train.item_map
        self.scale = tuple(train.scale)
        self.item_names = dict(train.item_names)
        self.item_counts = train.item_counts()
        self.user_counts = train.user_counts()
        self.global_mean = float(np.mean(train.rating)) if len(train) else 0.0
        self._rated = None

    @abc.abstractmethod
    def predict(self, raw_users, raw_items, unknown='error'):
        """Predicted ratings of (user, item) pairs given by raw ids (broadcast), on the
        rating scale; ``unknown`` is 'error' or 'baseline' (see ``UNKNOWN``)."""

    @abc.abstractmethod
    def score_users(self, inner_users):
        """Predicted ratings of every item for inner users, (len(inner_users),
        num_items), on the rating scale: what top-N ranks."""

    @abc.abstractmethod
    def item_baseline(self):
        """Each inner item's predicted rating for a user the model never saw (the
        'baseline' of ``UNKNOWN``), shape (num_items,)."""

    def rank_scores(self, inner_users):
        """Scores that order every item as ``score_users`` does, (len(inner_users),
        num_items), as cheap as the model allows (float32, before the conversion to the
        rating scale): what top-N selects on. ``from_rank_scores`` converts the selected
        ones. Default: ``score_users`` itself."""
        return self.score_users(inner_users)

    def from_rank_scores(self, scores):
        """``rank_scores`` values -> the ``score_users`` values they stand for."""
        return scores

    def item_means(self):
        """Mean training rating per inner item (-inf for an item never rated)."""
        sums = np.bincount(self.train.item, weights=self.train.rating,
                           minlength=len(self.item_counts))
        return np.divide(sums, self.item_counts, out=np.full(len(self.item_counts), -np.inf),
                         where=self.item_counts > 0)

    def rated_matrix(self):
        """The training pairs as a boolean CSR matrix (num_users, num_items), cached."""
        if self._rated is None:
            self._rated = sp.csr_matrix(
                (np.ones(len(self.train), dtype=bool), (self.train.user, self.train.item)),
                shape=(len(self.user_map), len(self.item_map)))
        return self._rated

    def top_rated(self, raw_user, n=10):
        """The user's ``n`` highest training ratings as (raw item id, rating), best first."""
        mine = self.train.user == self.user_map.to_inner(raw_user, 'user')
        ratings = self.train.rating[mine]
        order = np.argsort(-ratings, kind='stable')[:n]
        items = np.atleast_1d(self.item_map.to_raw(self.train.item[mine][order]))
        return list(zip(items.tolist(), ratings[order].astype(float).tolist()))

    def item_name(self, raw_item):
        """Title or text of a raw item id ('' when unknown)."""
        return self.item_names.get(raw_item, self.item_names.get(str(raw_item), ''))


class Recommender(RecommenderBase):
    """A trained model with its id maps and scaler: predictions on the rating scale.

    Built by ``load_model``, by ``Recommender.from_training``, or by the training
    recipe (``TrainedModel.recommender()``). Besides the contract of
    ``RecommenderBase`` it offers what reads one network: factors (``item_factors``,
    ``user_factors``, so ``similar_items`` works), fold-in and export.

    Parameters
    ----------
    net : RecModel
    train : Ratings
        The training ratings: their id maps define the raw ids the model knows, and
        their pairs what each user already rated.
    scaler : MinMaxScaler
        The scaler the network was trained with (any scaler of the contract in
        ``gluonrec.data.scaling``).
    test : Ratings, optional
        Held-out ratings sharing the id maps.
    history : list of dict, optional
    config : dict, optional
        The saved ``config.json`` (empty for a model that was never saved).
    """

    def __init__(self, net, train, scaler, test=None, history=None, config=None):
        super().__init__(train)
        self.net, self.test, self.scaler = net, test, scaler
        self.history = list(history or [])
        self.config = config or {}
        self._item_side = None
        self._fold_in_reg = {}

    @classmethod
    def from_training(cls, net, train, scaler, test=None, history=None, settings=None):
        """Wrap a just-trained network and its ``Ratings``. The settings it was trained
        with (``settings``, else those ``fit`` recorded on ``history``) are kept, so
        fold-in finds the ``reg`` it was trained with."""
        settings = settings if settings is not None else getattr(history, 'settings', None)
        config = {'extra': {'settings': dict(settings)}} if settings else None
        return cls(net, train, scaler, test=test, history=history, config=config)

    @property
    def model_name(self):
        return model_name_of(self.net)

    def training_reg(self):
        """The L2 weight the network was trained with, from the saved settings;
        ``ValueError`` when this model does not record it."""
        extra = self.config.get('extra', {})
        reg = extra.get('settings', {}).get('reg', extra.get('reg'))
        if reg is None:
            raise ValueError('this model does not record the reg it was trained with; '
                             'pass reg= explicitly')
        return float(reg)

    def recorded_fold_in_regs(self):
        """``{reveal: weight}``: fold-in weights chosen when the model was trained
        (``gluonrec.foldin.fold_in_weights``; a refit model records them from its
        selection run), or {}."""
        table = self.config.get('extra', {}).get('settings', {}).get('fold_in_reg') or {}
        return {int(reveal): float(weight) for reveal, weight in table.items()}

    def fold_in_reg(self, reveal=10):
        """The fold-in L2 weight for new users with ``reveal`` ratings: the recorded one
        for the nearest number of ratings (on a log scale) where weights were recorded,
        else the one ``gluonrec.foldin.choose_reg`` picks (cached per ``reveal``)."""
        recorded = self.recorded_fold_in_regs()
        if recorded:
            nearest = min(recorded, key=lambda r: (abs(np.log(r) - np.log(reveal)), r))
            return recorded[nearest]
        if reveal not in self._fold_in_reg:
            from .foldin import choose_reg
            self._fold_in_reg[reveal] = choose_reg(self, reveal=reveal)[0]
        return self._fold_in_reg[reveal]

    def fold_in(self, ratings, users=None, reg=None, method='auto', skip_unknown=False):
        """A copy that also knows new users, fitted from their ratings with the item side
        fixed (see ``gluonrec.foldin.fold_in``): ``rec.fold_in({7: 3.5, 8: -2.1})``."""
        from .foldin import fold_in
        return fold_in(self, ratings, users=users, reg=reg, method=method,
                       skip_unknown=skip_unknown)

    def _ctx(self):
        return self.net._first_ctx()

    def to_original(self, scaled):
        """Network outputs -> ratings, clipped to the rating scale; a ranking model's
        scores as they are (they are no ratings)."""
        if self.net.task == 'ranking':
            return np.asarray(scaled, dtype=np.float64)
        return np.clip(self.scaler.inverse_transform(scaled), self.scale[0], self.scale[1])

    def predict(self, raw_users, raw_items, unknown='error'):
        """Predicted ratings of (user, item) pairs given by raw ids.

        Parameters
        ----------
        raw_users, raw_items : scalar or array-like
            Raw ids, as in the data files; broadcast against each other.
        unknown : {'error', 'baseline'}
            For an id the model never saw: raise ``KeyError`` naming it, or fall back
            to the baseline: the global bias plus the known side's bias for biased
            models, the training mean otherwise (see ``UNKNOWN``).

        Returns
        -------
        float or numpy.ndarray of float64
        """
        unknown = unknown_policy(unknown, ('error', 'baseline'))
        scalar = np.ndim(raw_users) == 0 and np.ndim(raw_items) == 0
        users, items = np.broadcast_arrays(np.atleast_1d(np.asarray(raw_users, dtype=object)),
                                           np.atleast_1d(np.asarray(raw_items, dtype=object)))
        if unknown == 'error':
            out = self.score_pairs(self.user_map.to_inner(users, 'user'),
                                   self.item_map.to_inner(items, 'item'))
        else:
            known_u, known_i = self.user_map.contains(users), self.item_map.contains(items)
            out = self._fallback(users, items, known_u, known_i)
            both = known_u & known_i
            if both.any():
                out[both] = self.score_pairs(self.user_map.to_inner(users[both]),
                                             self.item_map.to_inner(items[both]))
        return float(out[0]) if scalar else out

    def score_pairs(self, u, i):
        """Predicted ratings (original scale) of inner-id pairs ``u``, ``i``."""
        ctx = self._ctx()
        pred = self.net(mx.nd.array(u, ctx=ctx, dtype=np.int32),
                        mx.nd.array(i, ctx=ctx, dtype=np.int32)).asnumpy()
        return self.to_original(pred)

    def _fallback(self, users, items, known_u, known_i):
        biases = self.net.biases()
        if biases is None:
            return np.full(len(users), self.global_mean)
        mu, bu, bi = biases
        scaled = np.full(len(users), mu)
        if known_u.any():
            scaled[known_u] += bu[self.user_map.to_inner(users[known_u])]
        if known_i.any():
            scaled[known_i] += bi[self.item_map.to_inner(items[known_i])]
        return self.to_original(scaled)

    def item_baseline(self):
        """Predicted rating of each inner item for an average user, on the rating scale:
        global plus item bias for a model with biases, else the item's training mean."""
        biases = self.net.biases()
        if biases is None:
            return self.item_means()
        mu, _, bi = biases
        return self.to_original(mu + bi)

    def item_side(self):
        """(item factors float64 (num_items, k), global bias, item biases (num_items,))
        of a factorisation model, biases None without them; read once and cached, as a
        Recommender is a snapshot of a trained network (fold-in reads it per call)."""
        if self._item_side is None:
            factors = self.net.item_factors().astype(np.float64)
            biases = self.net.biases()
            mu, bi = (None, None) if biases is None else (biases[0], biases[2])
            self._item_side = (factors, mu, bi)
        return self._item_side

    def score_users(self, inner_users):
        """Predicted ratings of every item for the given inner users,
        shape (len(inner_users), num_items), on the rating scale."""
        return self.to_original(self.net.score_matrix(np.asarray(inner_users)))

    def _monotone(self):
        """Whether the scaler maps network outputs to ratings in increasing order (the
        two built-in scalers do; a scaler of one's own is not assumed to)."""
        from .data.scaling import IdentityScaler, MinMaxScaler
        return type(self.scaler) in (MinMaxScaler, IdentityScaler)

    def rank_scores(self, inner_users):
        """The network's own float32 scores (one matrix product for the factor models):
        they order items as the predicted ratings do, except that items clipped to the
        top of the scale keep their order."""
        raw = self.net.score_matrix(np.asarray(inner_users))
        if not self._monotone():
            return self.to_original(raw)
        return np.asarray(raw, dtype=np.float32)

    def from_rank_scores(self, scores):
        return self.to_original(scores) if self._monotone() else scores

    def user_factors(self):
        """User embedding matrix (num_users, factors), numpy."""
        return self.net.user_factors()

    def item_factors(self):
        """Item embedding matrix (num_items, factors), numpy."""
        return self.net.item_factors()

    def export(self, path):
        """Export the network with ``HybridBlock.export`` (``path-symbol.json`` and
        ``path-0000.params``) for serving without gluonrec (ids are inner ids)."""
        if not self.net.hybridizable:
            raise ValueError(f'{self.model_name} runs imperatively (it reads the training '
                             'ratings per batch), so it has no symbol to export; use '
                             'save_model')
        self.net.hybridize()
        ctx = self._ctx()
        self.net(mx.nd.zeros((1,), ctx=ctx, dtype=np.int32),
                 mx.nd.zeros((1,), ctx=ctx, dtype=np.int32))
        self.net.export(os.fspath(path))
        return f'{path}-symbol.json', f'{path}-0000.params'
