"""Shuffling mx.io.DataIter over (user, item, rating) arrays: ``RatingIter`` batches
ratings, ``RowIter`` batches whole rows (every rating of some items, or of some users)."""
import threading

import numpy as np

from .._compat import mx

__all__ = ['by_name', 'DATA_NAMES', 'RatingIter', 'RowIter']

_MODES = ('pad', 'discard', 'roll_over')


#: The names ``fit`` reads a batch's data by, in the order the engines take them.
DATA_NAMES = ('user', 'item')


class _Renamed(mx.io.DataIter):
    """An iterator whose batches' data arrays are reordered to ``DATA_NAMES``."""

    def __init__(self, inner, order):
        super().__init__(inner.batch_size)
        self.inner, self.order = inner, order

    @property
    def provide_data(self):
        return [self.inner.provide_data[i] for i in self.order]

    @property
    def provide_label(self):
        return self.inner.provide_label

    def reset(self):
        self.inner.reset()

    def next(self):
        batch = self.inner.next()
        return mx.io.DataBatch([batch.data[i] for i in self.order], batch.label,
                               pad=batch.pad, index=batch.index,
                               provide_data=self.provide_data,
                               provide_label=self.provide_label)


def by_name(data_iter, argument='data_iter'):
    """``data_iter``, whose batches give their data in ``DATA_NAMES`` order ('user'
    then 'item', as ``provide_data`` names them), or a view of it reordered so; a
    ``ValueError`` naming ``argument`` when those names are not there. (MXNet's
    ``NDArrayIter(data={'user': ..., 'item': ...})`` sorts its names: item first.)"""
    names = [desc.name for desc in data_iter.provide_data]
    if names[:len(DATA_NAMES)] == list(DATA_NAMES):
        return data_iter
    if sorted(names) != sorted(DATA_NAMES):
        raise ValueError(f'{argument} provides data named {names}; gluonrec reads a batch '
                         f'by the names {list(DATA_NAMES)} (set them in provide_data, e.g. '
                         "NDArrayIter(data={'user': ..., 'item': ...}))")
    return _Renamed(data_iter, [names.index(name) for name in DATA_NAMES])


class RatingIter(mx.io.DataIter):
    """Batches of ``(user, item) -> rating`` for Gluon or the Module API.

    The arrays are kept whole; each epoch gathers them once in a new order (one
    vectorised take, optionally onto ``ctx``) and batches are slices of that.

    Parameters
    ----------
    user, item : array-like of int, shape (n,)
        Inner ids (use ``RatingIter.from_ratings`` to start from a ``Ratings``).
    rating : array-like of float, shape (n,)
        Targets, already scaled if the model trains on a scaled range.
    batch_size : int
    shuffle : bool
        Draw a new order at every ``reset()`` from the iterator's own
        ``numpy.random.RandomState``; the order of epoch ``e`` depends only on
        ``(seed, e)``, so a resumed run sees the same orders.
    seed : int
    last_batch_handle : {'pad', 'discard', 'roll_over'}
        As in ``mx.io.NDArrayIter``: pad the last batch with examples from the start of
        the epoch (``DataBatch.pad`` says how many), drop it, or carry its examples
        into the next epoch.
    num_users, num_items : int, optional
        Table sizes; ids outside ``[0, num_users)`` / ``[0, num_items)`` raise, since
        ``nn.Embedding`` would silently clamp them.
    num_parts, part_index : int
        Read only shard ``part_index`` of ``num_parts`` (contiguous, in input order);
        the shards partition the data.
    ctx : mx.Context
        Where batches live.
    data_names, label_name : names used in ``provide_data`` / ``provide_label``.
    prefetch : bool
        Shuffle and gather the next epoch in a background thread while this one is
        consumed (same orders; not with 'roll_over', whose next order depends on this
        epoch). On a 1.7M-rating set that work takes as long as a fused-engine epoch.
    """

    def __init__(self, user, item, rating, batch_size=1024, shuffle=True, seed=0,
                 last_batch_handle='pad', num_users=None, num_items=None, num_parts=1,
                 part_index=0, ctx=None, data_names=('user', 'item'), label_name='rating',
                 prefetch=True):
        super().__init__(batch_size)
        user = np.asarray(user)
        item = np.asarray(item)
        rating = np.asarray(rating)
        if not (user.ndim == item.ndim == rating.ndim == 1):
            raise ValueError('user, item and rating must be 1-D arrays')
        if not len(user) == len(item) == len(rating):
            raise ValueError(f'user, item and rating lengths differ: '
                             f'{len(user)}, {len(item)}, {len(rating)}')
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f'batch_size must be a positive integer, got {batch_size}')
        if last_batch_handle not in _MODES:
            raise ValueError(f'last_batch_handle must be one of {_MODES}, '
                             f'got {last_batch_handle!r}')
        if num_parts < 1 or not 0 <= part_index < num_parts:
            raise ValueError(f'need num_parts >= 1 and 0 <= part_index < num_parts, '
                             f'got {num_parts}, {part_index}')
        for name, ids, size in (('user', user, num_users), ('item', item, num_items)):
            if ids.dtype.kind not in 'iu':
                raise ValueError(f'{name} ids must be integers, got dtype {ids.dtype}')
            if len(ids) and (ids.min() < 0 or (size is not None and ids.max() >= size)):
                raise ValueError(f'{name} ids must lie in [0, {size}), '
                                 f'got [{ids.min()}, {ids.max()}]')
        if rating.dtype.kind not in 'fiu':
            raise ValueError(f'ratings must be numeric, got dtype {rating.dtype}')
        if not np.isfinite(rating).all():
            raise ValueError('ratings contain NaN or infinite values')
        if num_parts > 1 and last_batch_handle == 'roll_over':
            raise ValueError("last_batch_handle='roll_over' cannot keep shards in step; "
                             "use 'pad' or 'discard' with num_parts > 1")
        shard = np.array_split(np.arange(len(user)), num_parts)[part_index]
        # Shards differ in size by at most one rating; every shard yields as many batches
        # as the largest ('pad') or the smallest ('discard') would, so that workers
        # training in lock step (dist_sync) make the same number of steps.
        sizes = (len(user) // num_parts + (len(user) % num_parts > 0), len(user) // num_parts)
        self._shard_batches = {'pad': -(-sizes[0] // batch_size) if num_parts > 1 else None,
                               'discard': sizes[1] // batch_size if num_parts > 1 else None
                               }.get(last_batch_handle)
        self._user = np.ascontiguousarray(user[shard], dtype=np.int32)
        self._item = np.ascontiguousarray(item[shard], dtype=np.int32)
        self._rating = np.ascontiguousarray(rating[shard], dtype=np.float32)
        if len(self._user) == 0:
            raise ValueError('no ratings to iterate over')
        if last_batch_handle == 'discard' and len(self._user) < batch_size:
            raise ValueError(f'batch_size {batch_size} exceeds the {len(self._user)} '
                             "ratings and last_batch_handle='discard' would yield nothing")
        self.batch_size = int(batch_size)
        self.shuffle, self.seed, self.prefetch = shuffle, seed, bool(prefetch)
        self.num_parts, self.part_index = num_parts, part_index
        self.last_batch_handle = last_batch_handle
        self.ctx = ctx if ctx is not None else mx.cpu()
        self.data_names, self.label_name = tuple(data_names), label_name
        self.epoch = 0
        self._carry = np.empty(0, dtype=np.int64)  # roll_over leftovers
        self._build_epoch()

    @classmethod
    def from_ratings(cls, ratings, scaler=None, **kwargs):
        """Iterate over a ``Ratings``, scaling its ratings with ``scaler`` if given."""
        values = ratings.rating if scaler is None else scaler.transform(ratings.rating)
        kwargs.setdefault('num_users', ratings.num_users)
        kwargs.setdefault('num_items', ratings.num_items)
        return cls(ratings.user, ratings.item, values, **kwargs)

    def __len__(self):
        """Batches in the current epoch."""
        return len(self._bounds) - 1

    @property
    def num_examples(self):
        return len(self._rating)

    @property
    def provide_data(self):
        return [mx.io.DataDesc(name, (self.batch_size,), np.int32)
                for name in self.data_names]

    @property
    def provide_label(self):
        return [mx.io.DataDesc(self.label_name, (self.batch_size,), np.float32)]

    def _order(self, epoch):
        n = len(self._rating)
        if not self.shuffle:
            return np.arange(n)
        return np.random.RandomState([self.seed, epoch]).permutation(n)

    def _plan(self, epoch, carry):
        """The numpy side of an epoch: (order, gathered arrays, batch bounds, padding,
        leftover); batch ``b`` is ``bounds[b]:bounds[b + 1]`` of the gathered arrays.
        Depends only on ``(seed, epoch, carry)``, so it may run in a background thread."""
        order = self._order(epoch)
        if self.last_batch_handle == 'roll_over' and len(carry):
            order = np.concatenate([carry, order])
        n, size = len(order), self.batch_size
        full, pad = n // size, 0
        if self._shard_batches is not None and self.last_batch_handle == 'pad' and \
                self._shard_batches * size > n:
            pad = self._shard_batches * size - n
            order = np.concatenate([order, np.resize(order, pad)])
            full = self._shard_batches
        elif self.last_batch_handle == 'pad' and n % size:
            # Pad to a whole batch with examples from the start of the epoch, as
            # NDArrayIter does; wrap again if the data is shorter than the padding.
            pad = size - n % size
            order = np.concatenate([order, np.resize(order, pad)])
            full += 1
        if self._shard_batches is not None and self.last_batch_handle == 'discard':
            full = min(full, self._shard_batches)
        leftover = order[full * size:] if self.last_batch_handle == 'roll_over' else None
        order = order[:full * size]
        gathered = (self._user[order], self._item[order], self._rating[order])
        return order, gathered, np.arange(0, full * size + 1, size), pad, leftover

    def _build_epoch(self):
        plan = self._take_prefetched(self.epoch)
        self._untouched = not len(self._carry)  # built from the epoch's order alone
        if plan is None:
            plan = self._plan(self.epoch, self._carry)
        order, gathered, self._bounds, self._pad_last, leftover = plan
        if leftover is not None:
            self._carry = leftover
        # One gather per epoch, then every batch is a view into these.
        self._arrays = [mx.nd.array(array, ctx=self.ctx, dtype=array.dtype)
                        for array in gathered]
        self._order_used = order
        self._cursor = 0
        self._prefetch(self.epoch + 1)

    def _prefetch(self, epoch):
        """Shuffle and gather epoch ``epoch`` in a background thread while this one
        trains (numpy releases the GIL for both), unless the order depends on this
        epoch's leftovers (roll_over) or there is nothing to shuffle."""
        self._next = None
        if not self.prefetch or not self.shuffle or self.last_batch_handle == 'roll_over':
            return
        box = {}
        thread = threading.Thread(target=lambda: box.update(plan=self._plan(epoch, None)),
                                  name='RatingIter-prefetch', daemon=True)
        thread.start()
        self._next = (epoch, thread, box)

    def _take_prefetched(self, epoch):
        if getattr(self, '_next', None) is None:
            return None
        ready, thread, box = self._next
        self._next = None
        thread.join()
        return box.get('plan') if ready == epoch else None

    def set_epoch(self, epoch):
        """Position at the start of epoch ``epoch`` (for resuming)."""
        if int(epoch) == self.epoch and self._cursor == 0 and self._untouched:
            return  # already there: keep the arrays and the prefetch under way
        self.epoch = int(epoch)
        self._carry = np.empty(0, dtype=np.int64)
        self._build_epoch()

    def reset(self):
        """Start the next epoch, in a new order when shuffling."""
        self.epoch += 1
        self._build_epoch()

    def next(self):
        if self._cursor >= len(self):
            raise StopIteration
        start, stop = (int(b) for b in self._bounds[self._cursor:self._cursor + 2])
        self._cursor += 1
        user, item, rating = (array[start:stop] for array in self._arrays)
        pad = self._pad_last if self._cursor == len(self) else 0
        return mx.io.DataBatch(data=[user, item], label=[rating], pad=pad,
                               provide_data=self.provide_data,
                               provide_label=self.provide_label)

    def arrays(self):
        """This shard's (user, item, rating) arrays in input order, read-only views (what
        engines check ids against and checkpoints fingerprint)."""
        views = []
        for array in (self._user, self._item, self._rating):
            view = array.view()
            view.flags.writeable = False
            views.append(view)
        return tuple(views)

    def epoch_indices(self):
        """Positions (into this shard's arrays) of the current epoch, in batch order."""
        return self._order_used.copy()


class RowIter(RatingIter):
    """Batches of whole rows: every training rating of ``batch_size`` items (or users),
    the rows in a new order each epoch.

    What an autoencoder over rating vectors trains on (AutoRec): a batch holds the
    complete rating vector of each of its rows, so the model encodes a row once and
    is scored on all of that row's ratings. Batches are the ``(user, item) -> rating``
    triples of ``RatingIter``, grouped by row, so every engine and ``fit`` take them
    unchanged; their length varies with the rows' sizes (``provide_data`` gives the
    mean). Rows without ratings are never visited.

    Parameters
    ----------
    user, item, rating, shuffle, seed, num_users, num_items, ctx, data_names,
    label_name, prefetch : as in ``RatingIter`` (no shards, no padding: a batch is
    whole rows).
    batch_size : int
        Rows per batch; the last batch holds the rows left over.
    rows : {'item', 'user'}
        What a row is: an item's ratings (I-AutoRec) or a user's.
    """

    def __init__(self, user, item, rating, batch_size=64, rows='item', shuffle=True, seed=0,
                 num_users=None, num_items=None, ctx=None, data_names=('user', 'item'),
                 label_name='rating', prefetch=True):
        if rows not in ('item', 'user'):
            raise ValueError(f"rows must be 'item' or 'user', got {rows!r}")
        self.rows = rows
        keys = np.asarray(item if rows == 'item' else user)
        # Positions grouped by row, and where each present row starts among them (no
        # ratings at all is refused by RatingIter below).
        self._grouped = np.argsort(keys, kind='stable')
        cuts = np.flatnonzero(np.diff(keys[self._grouped])) + 1
        self._row_starts = np.concatenate([[0], cuts]).astype(np.int64)
        self._row_sizes = np.diff(np.concatenate([self._row_starts, [keys.size]]))
        super().__init__(user, item, rating, batch_size=batch_size, shuffle=shuffle, seed=seed,
                         num_users=num_users, num_items=num_items, ctx=ctx,
                         data_names=data_names, label_name=label_name, prefetch=prefetch)

    @property
    def num_rows(self):
        """Rows with at least one rating (what an epoch visits)."""
        return len(self._row_sizes)

    @property
    def provide_data(self):
        mean = max(1, round(self.num_examples * min(self.batch_size, self.num_rows)
                            / max(self.num_rows, 1)))
        return [mx.io.DataDesc(name, (mean,), np.int32) for name in self.data_names]

    @property
    def provide_label(self):
        return [mx.io.DataDesc(self.label_name, self.provide_data[0].shape, np.float32)]

    def _plan(self, epoch, carry):
        """Rows in a new order (each row's ratings in input order), cut every
        ``batch_size`` rows."""
        rows = np.arange(self.num_rows)
        if self.shuffle:
            rows = np.random.RandomState([self.seed, epoch]).permutation(self.num_rows)
        sizes = self._row_sizes[rows]
        ends = np.cumsum(sizes)
        # Position k of the epoch belongs to row r = rows[j]: its offset within that row
        # is k - (ends[j] - sizes[j]), so it is grouped[row_starts[r] + offset].
        offsets = np.arange(int(ends[-1])) - np.repeat(ends - sizes, sizes)
        order = self._grouped[np.repeat(self._row_starts[rows], sizes) + offsets]
        bounds = np.concatenate([[0], ends[self.batch_size - 1::self.batch_size]])
        if bounds[-1] != len(order):
            bounds = np.concatenate([bounds, [len(order)]])
        gathered = (self._user[order], self._item[order], self._rating[order])
        return order, gathered, bounds, 0, None
