"""Implicit feedback: positives from ratings or logs, k-core filtering, and the splits
that ranking papers publish on.

A set of positives is a ``Ratings`` whose ``rating`` is each positive's weight (1.0, or
a count for logs that keep one) on the scale ``(0, max weight)``: every loader, id map,
split and model already takes that type. The splits here keep the id maps of their
input, so a model trained on one part ranks the items of another, and a held-out
positive never appears in the training part:

- ``split_per_user``: each user's positives at random in the given fractions (RecBole's
  80/10/10, "RO" with user grouping);
- ``leave_one_out``: each user's latest positive for test (and the one before it for
  validation), NCF's protocol;
- ``temporal_split``: one global cut in time (everything at or after it is held out);
- held-out users ("strong generalisation", VAE-CF): ``gluonrec.data.new_user_split``,
  whose held-out users arrive as new ones through fold-in.
"""
import logging
import os

import numpy as np
import pandas as pd

from .tables import load_triples
from .ratings import Ratings

__all__ = ['pair_keys', 'in_sorted', 'positives', 'k_core', 'split_per_user', 'leave_one_out',
           'temporal_split', 'is_positives', 'ranking_protocol', 'load_interactions']

logger = logging.getLogger(__name__)


def pair_keys(user, item, num_items):
    """One int64 per (user, item) pair, ``user * num_items + item``: what the sampler,
    the splits and the evaluation sort and search pairs by."""
    return np.asarray(user, dtype=np.int64) * num_items + np.asarray(item, dtype=np.int64)


def in_sorted(keys, query):
    """Which of ``query`` lie in the sorted array ``keys`` (one vectorised binary
    search)."""
    query = np.asarray(query)
    if not len(keys):
        return np.zeros(query.shape, dtype=bool)
    return keys[np.minimum(np.searchsorted(keys, query), len(keys) - 1)] == query


def is_positives(ratings):
    """True when ``ratings`` is a set of positives as ``positives`` makes them (every
    weight > 0 on a scale starting at 0)."""
    return ratings.scale[0] == 0.0 and (len(ratings) == 0 or float(ratings.rating.min()) > 0)


def positives(ratings, threshold=None, weights='one', name=None):
    """The (user, item) pairs that count as positives, one row per pair.

    Parameters
    ----------
    ratings : Ratings
        Explicit ratings, or an implicit log read as ratings (a triples file whose third
        column is a count or a weight).
    threshold : float, optional
        A rating counts when it is ``>= threshold`` (e.g. 3 on MovieLens). Default: every
        rating is a positive ("rated at all").
    weights : {'one', 'sum'}
        'one': every positive weighs 1.0; 'sum': its weight is the sum of the pair's
        values (play counts of a log, iALS's confidence input). A pair seen several
        times in the input is kept once either way.
    name : str, optional
        Default: the input's name, with the threshold.

    Returns
    -------
    Ratings
        Same id maps and timestamps (the pair's latest), ``scale`` (0, max weight).
    """
    if weights not in ('one', 'sum'):
        raise ValueError(f"weights must be 'one' or 'sum', got {weights!r}")
    keep = np.ones(len(ratings), dtype=bool) if threshold is None else \
        ratings.rating >= float(threshold)
    if not keep.any():
        raise ValueError(f'{ratings.name}: no rating is >= {threshold}, so there are no '
                         'positives')
    value = ratings.rating[keep].astype(np.float64)
    if weights == 'sum' and (value <= 0).any():
        raise ValueError(f"{ratings.name}: weights='sum' needs positive values; "
                         f'{int((value <= 0).sum())} are <= 0')
    key = pair_keys(ratings.user[keep], ratings.item[keep], ratings.num_items)
    pairs, inverse = np.unique(key, return_inverse=True)
    weight = np.ones(len(pairs)) if weights == 'one' else \
        np.bincount(inverse, weights=value, minlength=len(pairs))
    timestamp = None
    if ratings.timestamp is not None:
        timestamp = np.full(len(pairs), np.iinfo(np.int64).min)
        np.maximum.at(timestamp, inverse, ratings.timestamp[keep])
    label = name or (ratings.name if threshold is None else
                     f'{ratings.name} (ratings >= {threshold:g})')
    return Ratings(pairs // ratings.num_items, pairs % ratings.num_items, weight,
                   ratings.user_map, ratings.item_map, (0.0, max(1.0, float(weight.max()))),
                   timestamp=timestamp, name=label, item_names=ratings.item_names)


def load_interactions(source, sep=',', columns=('user', 'item'), header=None,
                      name=None):
    """An implicit log: one line per interaction (a click, a play), as positives.

    Parameters
    ----------
    source : str or pandas.DataFrame
        A delimited file, or a DataFrame with the named columns.
    columns : sequence of str
        The fields in file order: 'user' and 'item', optionally 'count' (a weight per
        line, e.g. plays) and 'timestamp'; other names are read and ignored.
    header : bool
        Whether the first line names the fields (default: no).

    Returns
    -------
    Ratings
        One row per (user, item) pair: its weight the number of lines (or the sum of
        their counts), its timestamp the latest, scale (0, max weight). Feed it to
        ``positives`` for 'one' weights, or straight to the ranking models.
    """
    columns = list(columns)
    if not {'user', 'item'} <= set(columns):
        raise ValueError(f'columns must name user and item; got {columns}')
    label = name or (os.path.basename(os.fspath(source)) if not
                     isinstance(source, pd.DataFrame) else 'interactions')
    if isinstance(source, pd.DataFrame):
        frame = source[[c for c in columns if c in ('user', 'item', 'count', 'timestamp')]]
    else:
        try:
            frame = pd.read_csv(source, sep=sep, header=0 if header else None, names=columns,
                                engine='python', dtype={'user': str, 'item': str})
        except (pd.errors.ParserError, ValueError) as exc:
            raise ValueError(f'{source}: {exc}') from None
    if not len(frame):
        raise ValueError(f'{label}: no interactions')
    frame = frame.assign(count=pd.to_numeric(frame['count'], errors='coerce')
                         if 'count' in frame else 1.0)
    bad = np.flatnonzero(~np.isfinite(frame['count'].to_numpy(np.float64)) |
                         (frame['count'].to_numpy(np.float64) <= 0))
    if len(bad):
        where = f'line {bad[0] + 1 + bool(header)}' if not isinstance(
            source, pd.DataFrame) else f'row {frame.index[bad[0]]!r}'
        raise ValueError(f'{label}: {where}: the count must be a number > 0, got '
                         f'{frame["count"].iloc[bad[0]]!r}')
    agg = {'count': 'sum', **({'timestamp': 'max'} if 'timestamp' in frame else {})}
    pairs = frame.groupby(['user', 'item'], sort=False, as_index=False).agg(agg)
    keys = ['user', 'item', 'count'] + (['timestamp'] if 'timestamp' in pairs else [])
    top = float(pairs['count'].max())
    return load_triples(pairs, columns=keys, scale=(0.0, max(1.0, top)), name=label)


def k_core(ratings, min_user=10, min_item=10):
    """Remove users with fewer than ``min_user`` rows and items with fewer than
    ``min_item``, again and again until none is left (removing items can push a user
    below the limit), then renumber what remains (new id maps, raw ids kept).

    The filter of RecBole's benchmark tables (``user_inter_num_interval: [10,inf)``).
    """
    for name, value in (('min_user', min_user), ('min_item', min_item)):
        if int(value) != value or value < 1:
            raise ValueError(f'{name} must be a positive integer, got {value!r}')
    keep = np.ones(len(ratings), dtype=bool)
    while True:
        users = np.bincount(ratings.user[keep], minlength=ratings.num_users)
        items = np.bincount(ratings.item[keep], minlength=ratings.num_items)
        drop = keep & ((users[ratings.user] < min_user) | (items[ratings.item] < min_item))
        if not drop.any():
            break
        keep &= ~drop
    if not keep.any():
        raise ValueError(f'{ratings.name}: nothing is left of it with at least {min_user} '
                         f'rows per user and {min_item} per item')
    part = ratings.subset(keep)
    users, user_codes = np.unique(part.user, return_inverse=True)
    items, item_codes = np.unique(part.item, return_inverse=True)
    return Ratings(user_codes, item_codes, part.rating, ratings.user_map.raw_ids[users],
                   ratings.item_map.raw_ids[items], ratings.scale, timestamp=part.timestamp,
                   name=ratings.name, item_names=ratings.item_names)


def _part_sizes(count, fractions):
    """Rows of each part for a user with ``count`` rows: the held-out parts get the
    floor of their share, raised to 1 while the training part keeps at least one row
    (so a user with 3 positives gives one to each of 80/10/10); the rest is training."""
    held = [int(np.floor(f * count)) for f in fractions[1:]]
    for j, f in enumerate(fractions[1:]):
        if held[j] == 0 and f > 0 and count - sum(held) > 1:
            held[j] = 1
    return [count - sum(held), *held]


def split_per_user(ratings, fractions=(0.8, 0.1, 0.1), seed=0):
    """Each user's rows, in a random order, cut into parts of the given ``fractions``
    (RecBole's per-user random split).

    Parameters
    ----------
    ratings : Ratings
    fractions : sequence of float
        Shares of the training part and the held-out parts (validation, test, ...);
        they must sum to 1. A user's held-out parts get the floor of their share, or 1
        while the training part keeps one row.
    seed : int

    Returns
    -------
    tuple of Ratings
        One per fraction, sharing ``ratings``' id maps.
    """
    fractions = [float(f) for f in fractions]
    if len(fractions) < 2 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9 or \
            fractions[0] <= 0:
        raise ValueError(f'fractions must be >= 0, the first > 0, and sum to 1 '
                         f'(e.g. (0.8, 0.1, 0.1)), got {tuple(fractions)}')
    rng = np.random.RandomState(seed)
    order = np.lexsort((rng.random_sample(len(ratings)), ratings.user))
    users = ratings.user[order]
    start = np.searchsorted(users, users)  # first row of each row's user
    rank = np.arange(len(users)) - start
    counts = np.bincount(ratings.user, minlength=ratings.num_users)
    sizes = np.array([_part_sizes(c, fractions) for c in range(counts.max() + 1)])
    cuts = np.cumsum(sizes, axis=1)[counts[users]]  # (rows, parts): end of each part
    part = (rank[:, None] >= cuts).sum(axis=1)
    labels = np.empty(len(ratings), dtype=np.int64)
    labels[order] = part
    return tuple(ratings.subset(np.flatnonzero(labels == j)) for j in range(len(fractions)))


def _need_time(ratings, what):
    if ratings.timestamp is None:
        raise ValueError(f'{ratings.name}: {what} needs timestamps, which these ratings '
                         'do not have')


def leave_one_out(ratings, validation=True):
    """Each user's latest row held out for test and, with ``validation``, the latest
    before it for validation (NCF's protocol); ties in time are broken by input order
    (the later row counts as later). A user keeps at least one training row: users with
    too few rows stay whole in train.

    Returns
    -------
    (train, val, test) or (train, test) : Ratings sharing the id maps
    """
    _need_time(ratings, 'leave-one-out')
    order = np.lexsort((np.arange(len(ratings)), ratings.timestamp, ratings.user))
    users = ratings.user[order]
    from_end = np.searchsorted(users, users, side='right') - 1 - np.arange(len(users))
    counts = np.bincount(ratings.user, minlength=ratings.num_users)[users]
    held = 2 if validation else 1
    label = np.zeros(len(ratings), dtype=np.int64)  # 0 train, 1 test, 2 val
    eligible = counts > held
    label[order[eligible & (from_end == 0)]] = 1
    if validation:
        label[order[eligible & (from_end == 1)]] = 2
    parts = [ratings.subset(np.flatnonzero(label == j)) for j in (0, 2, 1)]
    return tuple(parts) if validation else (parts[0], parts[2])


def temporal_split(ratings, cut=None, fraction=0.2):
    """One global cut in time: rows at or after ``cut`` are held out.

    Parameters
    ----------
    cut : int, optional
        A timestamp; default: the one that holds out the latest ``fraction`` of the rows.
    fraction : float

    Returns
    -------
    (train, test) : Ratings sharing the id maps. Users and items of the test part that
    have no training row are logged (a ranking evaluation skips users without one).
    """
    _need_time(ratings, 'a temporal split')
    if cut is None:
        if not 0 < fraction < 1:
            raise ValueError(f'fraction must lie strictly between 0 and 1, got {fraction}')
        cut = int(np.sort(ratings.timestamp)[int(round(len(ratings) * (1 - fraction)))])
    test = ratings.timestamp >= cut
    if test.all() or not test.any():
        raise ValueError(f'cut {cut} leaves an empty part of {len(ratings)} rows')
    train, held = ratings.subset(~test), ratings.subset(test)
    new_users = np.setdiff1d(np.unique(held.user), np.unique(train.user))
    if len(new_users):
        logger.info('%d of the test users have no training row before the cut',
                    len(new_users))
    return train, held


def ranking_protocol(ratings, threshold=3, min_count=10, fractions=(0.8, 0.1, 0.1), seed=0):
    """The protocol of RecBole's published tables, in one call: ratings ``>= threshold``
    are positives, users and items with fewer than ``min_count`` of them removed until
    none is left (``k_core``), then each user's positives split at random into
    ``fractions`` (``split_per_user``). Returns (train, val, test)."""
    kept = k_core(positives(ratings, threshold), min_count, min_count)
    return split_per_user(kept, fractions, seed=seed)
