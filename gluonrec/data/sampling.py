"""Negative sampling: the shuffling ``mx.io.DataIter`` that ranking models train on."""
import numpy as np

from .._compat import mx
from .implicit import in_sorted, pair_keys
from .iterators import RatingIter

__all__ = ['NegativeSampleIter', 'SAMPLING']

#: How negatives are drawn: uniformly over the items, or in proportion to an item's
#: training positives raised to ``alpha`` (word2vec's 0.75; 0 is uniform again).
SAMPLING = ('uniform', 'popularity')

#: Rejection rounds before giving up on a user whose training positives cover almost
#: every item that can be drawn (each round redraws only the rejected negatives).
MAX_ROUNDS = 10000
#: Up to this many (user, item) pairs, the rejection test reads a table of one byte per
#: pair (128 MiB at most); above it, a binary search in the sorted keys (the candidates
#: of an epoch come in shuffled order, so that search misses the cache at every step:
#: 5x slower on ml-1m's 22M pairs).
MEMBER_TABLE_LIMIT = 1 << 27


class NegativeSampleIter(RatingIter):
    """Batches of (user, positive item, ``num_negatives`` negative items) -> weight.

    Every training positive appears once per epoch, in a new seeded order (that of
    ``RatingIter``: epoch ``e``'s order and its negatives depend only on
    ``(seed, e)``, so a resumed run sees the same batches). Each positive gets
    ``num_negatives`` items drawn for it that are never one of that user's training
    positives: candidates are drawn for the whole epoch at once and checked against the
    positives' (user, item) pairs (a table of a byte per pair up to
    ``MEMBER_TABLE_LIMIT`` pairs, else a binary search in the sorted pairs), and only
    the rejected ones are drawn again, round after round (no Python loop per example).

    A batch is ``DataBatch(data=[user (B,), item (B,), negative (B, num_negatives)],
    label=[weight (B,)])``, named 'user', 'item', 'negative' and 'weight' in
    ``provide_data`` / ``provide_label``; the ranking losses of ``gluonrec.train``
    read it so. ``last_batch_handle``, shards, ``prefetch`` and ``ctx`` are as in
    ``RatingIter``; a large ``batch_size`` gives an engine large chunks.

    Parameters
    ----------
    user, item : array-like of int, shape (n,)
        The training positives (inner ids), each iterated once per epoch
        (``gluonrec.data.positives`` keeps one row per pair).
    weight : array-like of float, shape (n,), optional
        Each positive's weight in the loss (default 1).
    num_users, num_items : int
        Table sizes; negatives are drawn from ``[0, num_items)``.
    num_negatives : int
    sampling : {'uniform', 'popularity'}
    alpha : float
        The exponent of 'popularity': an item is drawn with probability proportional to
        (its training positives) ** alpha, so (for alpha > 0) never when it has none.
    """

    def __init__(self, user, item, weight=None, num_users=None, num_items=None,
                 batch_size=1024, num_negatives=1, sampling='uniform', alpha=0.75,
                 shuffle=True, seed=0, last_batch_handle='pad', num_parts=1, part_index=0,
                 ctx=None, prefetch=True):
        if num_users is None or num_items is None:
            raise ValueError('NegativeSampleIter needs num_users and num_items')
        if isinstance(num_negatives, bool) or int(num_negatives) != num_negatives or \
                num_negatives < 1:
            raise ValueError(f'num_negatives must be a positive integer, got {num_negatives!r}')
        if sampling not in SAMPLING:
            raise ValueError(f'sampling must be one of {SAMPLING}, got {sampling!r}')
        if not alpha >= 0:
            raise ValueError(f'alpha must be >= 0, got {alpha!r}')
        user = np.asarray(user)
        item = np.asarray(item)
        weight = np.ones(len(user), dtype=np.float32) if weight is None else np.asarray(weight)
        self.num_negatives, self.sampling, self.alpha = int(num_negatives), sampling, alpha
        super().__init__(user, item, weight, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, last_batch_handle=last_batch_handle, num_users=num_users,
                         num_items=num_items, num_parts=num_parts, part_index=part_index,
                         ctx=ctx, data_names=('user', 'item'), label_name='weight',
                         prefetch=False)
        # Every positive of the data, not only this shard's: a negative is never any of
        # the user's positives.
        self._keys = np.unique(pair_keys(user, item, num_items))
        self._member = None
        if int(num_users) * int(num_items) <= MEMBER_TABLE_LIMIT:
            self._member = np.zeros(int(num_users) * int(num_items), dtype=bool)
            self._member[self._keys] = True
        self.num_users, self.num_items = int(num_users), int(num_items)
        counts = np.bincount(item, minlength=num_items).astype(np.float64)
        if sampling == 'popularity':
            mass = counts ** alpha  # (0 ** 0 is 1: alpha 0 is uniform again)
            self._p = mass / mass.sum()
        else:
            self._p = None
        self._check_drawable()
        self.prefetch = bool(prefetch)
        self._carry = np.empty(0, dtype=np.int64)
        self._build_epoch()  # again, now with negatives (the base built it without)

    @classmethod
    def from_ratings(cls, ratings, **kwargs):
        """Sample over the positives in ``ratings`` (their ``rating`` as the weight;
        see ``gluonrec.data.positives``)."""
        kwargs.setdefault('num_users', ratings.num_users)
        kwargs.setdefault('num_items', ratings.num_items)
        return cls(ratings.user, ratings.item, ratings.rating, **kwargs)

    def _check_drawable(self):
        """Refuse a user for whom no item can be drawn as a negative."""
        p = self._p if self._p is not None else np.full(self.num_items, 1.0 / self.num_items)
        pairs = self._keys
        taken = np.bincount(pairs // self.num_items, weights=p[pairs % self.num_items],
                            minlength=self.num_users)
        full = np.flatnonzero(taken > 1 - 1e-9)
        if len(full):
            raise ValueError(f'user {int(full[0])} (inner id) has every item that can be '
                             f'drawn as a negative among its positives ({len(full)} such '
                             'users); remove them, or sample uniformly')

    @property
    def provide_data(self):
        return [mx.io.DataDesc('user', (self.batch_size,), np.int32),
                mx.io.DataDesc('item', (self.batch_size,), np.int32),
                mx.io.DataDesc('negative', (self.batch_size, self.num_negatives), np.int32)]

    def _draw(self, rng, size):
        if self._p is None:
            return rng.randint(0, self.num_items, size=size).astype(np.int64)
        return rng.choice(self.num_items, size=size, p=self._p).astype(np.int64)

    def _is_positive(self, user, item):
        keys = pair_keys(user, item, self.num_items)
        return self._member[keys] if self._member is not None else in_sorted(self._keys, keys)

    def negatives(self, user, epoch):
        """``num_negatives`` negatives for each user in ``user`` (inner ids), drawn as
        epoch ``epoch`` draws them: (len(user), num_negatives) int32."""
        rng = np.random.RandomState([self.seed, epoch, 1])
        users = np.repeat(np.asarray(user, dtype=np.int64), self.num_negatives)
        drawn = self._draw(rng, users.size)
        bad = np.flatnonzero(self._is_positive(users, drawn))
        rounds = 0
        while bad.size:
            rounds += 1
            if rounds > MAX_ROUNDS:
                raise RuntimeError(f'no negative found for user {int(users[bad[0]])} in '
                                   f'{MAX_ROUNDS} rounds')
            drawn[bad] = self._draw(rng, bad.size)
            bad = bad[self._is_positive(users[bad], drawn[bad])]
        return drawn.reshape(-1, self.num_negatives).astype(np.int32)

    def _plan(self, epoch, carry):
        order, gathered, bounds, pad, leftover = super()._plan(epoch, carry)
        if getattr(self, '_keys', None) is None:  # the base's first build, before __init__ ends
            return order, gathered, bounds, pad, leftover
        return order, (*gathered, self.negatives(gathered[0], epoch)), bounds, pad, leftover

    def next(self):
        if self._cursor >= len(self):
            raise StopIteration
        start, stop = (int(b) for b in self._bounds[self._cursor:self._cursor + 2])
        self._cursor += 1
        user, item, weight, negative = (array[start:stop] for array in self._arrays)
        pad = self._pad_last if self._cursor == len(self) else 0
        return mx.io.DataBatch(data=[user, item, negative], label=[weight], pad=pad,
                               provide_data=self.provide_data,
                               provide_label=self.provide_label)
