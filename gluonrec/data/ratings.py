"""The Ratings value object: inner ids, ratings and the raw ids they stand for."""
import numpy as np
import pandas as pd

__all__ = ['Ratings', 'IdMap']


class IdMap:
    """Two-way map between raw ids (as in the files) and inner ids ``0..n-1``.

    Parameters
    ----------
    raw_ids : array-like, shape (n,)
        The raw id of each inner id, in inner-id order; must be unique.
    """

    def __init__(self, raw_ids):
        raw = np.asarray(raw_ids)
        if raw.dtype.kind not in 'iuU' and raw.dtype != object:
            raise ValueError(f'raw ids must be integers or strings, got dtype {raw.dtype}')
        self.raw_ids = raw
        self._index = pd.Index(raw)
        if not self._index.is_unique:
            raise ValueError('raw ids must be unique')

    def __len__(self):
        return len(self.raw_ids)

    def _coerce(self, raw):
        # Users type "9" on a command line for an id stored as the integer 9. What is no
        # int64 (2^63 and beyond, 1.5, "x") is returned as objects, which match no id.
        values = np.asarray(raw)
        if self.raw_ids.dtype.kind not in 'iu':
            return values.astype(str).astype(object)
        if values.dtype.kind == 'u' and (values > np.iinfo(np.int64).max).any():
            return values.astype(object)
        try:
            ints = values.astype(np.int64)
        except (TypeError, ValueError, OverflowError):
            return np.asarray(raw, dtype=object)
        if values.dtype.kind == 'f' and not (ints == values).all():
            return values.astype(object)
        return ints

    def contains(self, raw):
        """Boolean mask: which of the raw ids ``raw`` are known."""
        return self._index.get_indexer(np.atleast_1d(self._coerce(raw))) >= 0

    def to_inner(self, raw, kind='id'):
        """Inner ids of raw ids; raises ``KeyError`` naming the first unknown one."""
        scalar = np.ndim(raw) == 0
        codes = self._index.get_indexer(np.atleast_1d(self._coerce(raw)))
        if (codes < 0).any():
            bad = np.atleast_1d(raw)[np.flatnonzero(codes < 0)[0]]
            raise KeyError(f'unknown {kind} {bad!r}')
        codes = codes.astype(np.int32)
        return int(codes[0]) if scalar else codes

    def canonical(self, raw, default=None):
        """The stored raw id equal to ``raw`` (so '9' typed on a command line gives the
        integer 9 of an integer map), or ``default`` when it is unknown."""
        codes = self._index.get_indexer(np.atleast_1d(self._coerce(raw)))
        return default if codes[0] < 0 else self.to_raw(codes[0])

    def to_raw(self, inner):
        """Raw ids of inner ids (numpy scalars converted to Python ones)."""
        out = self.raw_ids[np.asarray(inner)]
        return out.item() if isinstance(out, np.generic) else out  # object ids: as stored

    def to_list(self):
        """JSON-ready list of raw ids."""
        return self.raw_ids.tolist()


class Ratings:
    """Explicit ratings with inner ids, as loaded from a data set.

    Parameters
    ----------
    user, item : array-like of int, shape (n,)
        Inner ids, ``0 <= user < len(user_map)``.
    rating : array-like of float, shape (n,)
    user_map, item_map : IdMap or array-like
        Raw ids of the inner ids.
    scale : (float, float)
        The declared rating scale (low, high).
    timestamp : array-like of int, shape (n,), optional
    name : str
    item_names : dict, optional
        Raw item id -> title or text.
    """

    def __init__(self, user, item, rating, user_map, item_map, scale, timestamp=None,
                 name='ratings', item_names=None):
        self.user = np.ascontiguousarray(user, dtype=np.int32)
        self.item = np.ascontiguousarray(item, dtype=np.int32)
        self.rating = np.ascontiguousarray(rating, dtype=np.float32)
        self.timestamp = None if timestamp is None else np.asarray(timestamp, dtype=np.int64)
        self.user_map = user_map if isinstance(user_map, IdMap) else IdMap(user_map)
        self.item_map = item_map if isinstance(item_map, IdMap) else IdMap(item_map)
        self.scale = (float(scale[0]), float(scale[1]))
        self.name = name
        self.item_names = dict(item_names or {})
        n = len(self.rating)
        lengths = {'user': len(self.user), 'item': len(self.item)}
        if self.timestamp is not None:
            lengths['timestamp'] = len(self.timestamp)
        for key, value in lengths.items():
            if value != n:
                raise ValueError(f'{key} has {value} entries but rating has {n}')
        if not self.scale[0] < self.scale[1]:
            raise ValueError(f'scale must be (low, high) with low < high, got {scale}')
        for key, ids, size in (('user', self.user, self.num_users),
                               ('item', self.item, self.num_items)):
            if n and (ids.min() < 0 or ids.max() >= size):
                raise ValueError(f'inner {key} ids must lie in [0, {size}), '
                                 f'got [{ids.min()}, {ids.max()}]')

    @classmethod
    def from_raw(cls, raw_user, raw_item, rating, scale, timestamp=None, name='ratings',
                 item_names=None):
        """Build from raw ids, giving inner ids in sorted raw-id order."""
        user, user_ids = pd.factorize(np.asarray(raw_user), sort=True)
        item, item_ids = pd.factorize(np.asarray(raw_item), sort=True)
        return cls(user, item, rating, np.asarray(user_ids), np.asarray(item_ids), scale,
                   timestamp=timestamp, name=name, item_names=item_names)

    @property
    def num_users(self):
        return len(self.user_map)

    @property
    def num_items(self):
        return len(self.item_map)

    def __len__(self):
        return len(self.rating)

    def __repr__(self):
        return (f'Ratings(name={self.name!r}, ratings={len(self)}, users={self.num_users}, '
                f'items={self.num_items}, scale={self.scale})')

    def subset(self, index, name=None):
        """The ratings at ``index`` (mask or positions), sharing the id maps."""
        ts = None if self.timestamp is None else self.timestamp[index]
        return Ratings(self.user[index], self.item[index], self.rating[index], self.user_map,
                       self.item_map, self.scale, timestamp=ts, name=name or self.name,
                       item_names=self.item_names)

    def user_counts(self):
        """Ratings per inner user, shape (num_users,)."""
        return np.bincount(self.user, minlength=self.num_users)

    def item_counts(self):
        """Ratings per inner item, shape (num_items,)."""
        return np.bincount(self.item, minlength=self.num_items)

    def to_dataframe(self):
        """A DataFrame with raw ``user``, ``item`` ids and ``rating``."""
        frame = pd.DataFrame({'user': self.user_map.to_raw(self.user),
                              'item': self.item_map.to_raw(self.item),
                              'rating': self.rating})
        if self.timestamp is not None:
            frame['timestamp'] = self.timestamp
        return frame
