"""Seeded train/test splits of Ratings: random, per-user hold-out, k-fold."""
import logging

import numpy as np

from .ratings import Ratings

__all__ = ['random_split', 'user_holdout_split', 'new_user_split', 'kfold',
           'cold_start_counts', 'random_rank_within']

logger = logging.getLogger(__name__)


def cold_start_counts(train, test):
    """Count test users, items and ratings unknown to ``train``.

    Returns
    -------
    dict
        ``users``, ``items``: distinct test users / items with no training rating;
        ``ratings``: test ratings that involve either.
    """
    known_user = train.user_counts() > 0
    known_item = train.item_counts() > 0
    new_user = ~known_user[test.user]
    new_item = ~known_item[test.item]
    return {'users': int(len(np.unique(test.user[new_user]))),
            'items': int(len(np.unique(test.item[new_item]))),
            'ratings': int((new_user | new_item).sum())}


def _report(train, test):
    counts = cold_start_counts(train, test)
    if counts['ratings']:
        logger.warning('%d test ratings involve %d users and %d items unseen in training',
                       counts['ratings'], counts['users'], counts['items'])
    return train, test


def _check_fraction(name, value):
    if not 0.0 < value < 1.0:
        raise ValueError(f'{name} must lie strictly between 0 and 1, got {value}')


def random_split(ratings, test_fraction=0.2, seed=0):
    """Split ratings at random into (train, test).

    Parameters
    ----------
    ratings : Ratings
    test_fraction : float
        Share of ratings in the test part, in (0, 1).
    seed : int

    Returns
    -------
    (Ratings, Ratings)
        Both share ``ratings``' id maps; unseen test users or items are logged
        (see ``cold_start_counts``).
    """
    _check_fraction('test_fraction', test_fraction)
    order = np.random.RandomState(seed).permutation(len(ratings))
    n_test = int(round(len(ratings) * test_fraction))
    if n_test == 0 or n_test == len(ratings):
        raise ValueError(f'test_fraction={test_fraction} leaves an empty part '
                         f'of {len(ratings)} ratings')
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    return _report(ratings.subset(train_idx), ratings.subset(test_idx))


def random_rank_within(groups, rng):
    """Each element's position among the elements of its group, in a random order drawn
    from ``rng`` (0 for one of each group's elements, 1 for another, ...); ``groups``
    holds integer group codes (user ids). Taking ``rank < k`` picks k random elements of
    each group at once."""
    groups = np.asarray(groups)
    order = np.lexsort((rng.random_sample(len(groups)), groups))
    ordered = groups[order]
    rank = np.empty(len(groups), dtype=np.int64)
    rank[order] = np.arange(len(groups)) - np.searchsorted(ordered, ordered)
    return rank


def user_holdout_split(ratings, k=1, min_ratings=None, seed=0):
    """Hold out ``k`` random ratings of each user.

    Users with fewer than ``min_ratings`` ratings (default ``k + 1``) stay whole in
    train. With timestamps this is still a random hold-out, not a temporal one.

    Returns
    -------
    (Ratings, Ratings)
    """
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    min_ratings = k + 1 if min_ratings is None else min_ratings
    if min_ratings <= k:
        raise ValueError(f'min_ratings ({min_ratings}) must exceed k ({k})')
    # The first k of each user in a random order are test.
    rank = random_rank_within(ratings.user, np.random.RandomState(seed))
    test_mask = (rank < k) & (ratings.user_counts()[ratings.user] >= min_ratings)
    if not test_mask.any():
        raise ValueError(f'no user has {min_ratings} ratings to hold {k} out')
    return _report(ratings.subset(~test_mask), ratings.subset(test_mask))


def _only_users(ratings, mask, name):
    """The ratings at ``mask``, with a user map of just the users they contain."""
    part = ratings.subset(mask)
    users, codes = np.unique(part.user, return_inverse=True)
    return Ratings(codes, part.item, part.rating, ratings.user_map.raw_ids[users],
                   ratings.item_map, ratings.scale, timestamp=part.timestamp, name=name,
                   item_names=ratings.item_names)


def new_user_split(ratings, fraction=0.2, seed=0):
    """Hold out a random ``fraction`` of the users with all their ratings.

    For cold-start and fold-in studies: the model trains on the other users, and the
    held-out users arrive as new ones. Each part has a user map of its own users only
    (so the held-out ids are unknown to a model trained on the first); the item map is
    shared.

    Returns
    -------
    (Ratings, Ratings)
        The ratings of the kept users and of the held-out ones.
    """
    _check_fraction('fraction', fraction)
    present = np.flatnonzero(ratings.user_counts() > 0)
    count = int(round(len(present) * fraction))
    if count == 0 or count == len(present):
        raise ValueError(f'fraction={fraction} of {len(present)} users leaves an empty part')
    held = np.zeros(ratings.num_users, dtype=bool)
    held[np.random.RandomState(seed).choice(present, count, replace=False)] = True
    mask = held[ratings.user]
    return (_only_users(ratings, ~mask, ratings.name),
            _only_users(ratings, mask, ratings.name + ' (held-out users)'))


def kfold(ratings, n_splits=5, seed=0):
    """Yield ``n_splits`` (train, test) pairs whose test parts partition the ratings."""
    if n_splits < 2 or n_splits > len(ratings):
        raise ValueError(f'n_splits must lie in [2, {len(ratings)}], got {n_splits}')
    order = np.random.RandomState(seed).permutation(len(ratings))
    for fold in np.array_split(order, n_splits):
        mask = np.zeros(len(ratings), dtype=bool)
        mask[fold] = True
        yield _report(ratings.subset(~mask), ratings.subset(mask))
