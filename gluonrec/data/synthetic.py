"""Synthetic ratings with a planted low-rank structure."""
import numpy as np

from .ratings import Ratings

__all__ = ['make_synthetic', 'make_implicit', 'make_jester_scale']


def make_synthetic(num_users=1000, num_items=150, num_ratings=20000, rank=4,
                   scale=(-10.0, 10.0), noise=0.1, seed=0, name='synthetic'):
    r"""Sample ratings from :math:`\mathrm{clip}(b_u + b_i + p_u^\top q_i + \epsilon)`.

    Parameters
    ----------
    num_users, num_items : int
    num_ratings : int
        Distinct (user, item) pairs to sample; at most ``num_users * num_items``.
    rank : int
        Rank of the planted interaction term.
    scale : (float, float)
        Rating scale; the signal is centred in it and spread over about half of it.
    noise : float
        Gaussian noise, as a fraction of the scale's half-width.
    seed : int

    Returns
    -------
    Ratings
        Raw ids are ``1..num_users`` and ``1..num_items`` (as in Jester's files); the
        planted factors are in ``ratings.truth`` (dict of numpy arrays).
    """
    if num_users < 1 or num_items < 1 or rank < 1:
        raise ValueError('num_users, num_items and rank must be >= 1')
    if not 0 < num_ratings <= num_users * num_items:
        raise ValueError(f'num_ratings must lie in [1, {num_users * num_items}], '
                         f'got {num_ratings}')
    rng = np.random.RandomState(seed)
    flat = rng.choice(num_users * num_items, size=num_ratings, replace=False)
    flat.sort()
    user, item = np.divmod(flat, num_items)
    centre, half = (scale[0] + scale[1]) / 2.0, (scale[1] - scale[0]) / 2.0
    p = rng.normal(0, 1, (num_users, rank)) / np.sqrt(rank)
    q = rng.normal(0, 1, (num_items, rank)) / np.sqrt(rank)
    bu = rng.normal(0, 0.15, num_users)
    bi = rng.normal(0, 0.15, num_items)
    signal = bu[user] + bi[item] + np.einsum('ij,ij->i', p[user], q[item]) * 0.35
    values = centre + half * (signal + noise * rng.normal(size=num_ratings))
    values = np.clip(values, scale[0], scale[1]).astype(np.float32)
    ratings = Ratings(user, item, values, np.arange(1, num_users + 1),
                      np.arange(1, num_items + 1), scale, name=name)
    ratings.truth = {'user_factors': p, 'item_factors': q, 'user_bias': bu, 'item_bias': bi}
    return ratings


def make_implicit(num_users=300, num_items=200, per_user=20, groups=5, affinity=0.8,
                  seed=0, name='synthetic implicit'):
    """Positives with a planted preference structure, for ranking models.

    Users and items fall into ``groups`` equal groups; each user has ``per_user``
    distinct positives, each drawn from the user's own group's items with probability
    ``affinity`` (else from any item), more popular items more often (Zipf-like
    weights). A ranking model that learns the groups ranks a user's held-out positives
    far above what popularity does. Timestamps are the draw order, so the temporal
    splits apply.

    Returns
    -------
    Ratings
        Positives of weight 1 (scale (0, 1)), raw ids ``1..n``; the groups are in
        ``ratings.truth`` ('user_group', 'item_group').
    """
    if groups < 1 or num_items < groups or not 0 <= affinity <= 1:
        raise ValueError('need 1 <= groups <= num_items and 0 <= affinity <= 1')
    if not 1 <= per_user < num_items // groups:
        raise ValueError(f'per_user must lie in [1, {num_items // groups}), got {per_user}')
    rng = np.random.RandomState(seed)
    user_group = np.arange(num_users) % groups
    item_group = rng.permutation(np.arange(num_items) % groups)
    popularity = 1.0 / np.arange(1, num_items + 1) ** 0.5
    popularity = popularity[rng.permutation(num_items)]
    users, items = [], []
    for group in range(groups):  # one vectorised draw per group of users
        members = np.flatnonzero(user_group == group)
        own = np.where(item_group == group, popularity, 0.0)
        mix = affinity * own / own.sum() + (1 - affinity) * popularity / popularity.sum()
        with np.errstate(divide='ignore'):  # weight 0 (affinity 1): key 0, never drawn
            keys = rng.random_sample((len(members), num_items)) ** (1.0 / mix)
        chosen = np.argsort(-keys, axis=1)[:, :per_user]  # draws without replacement
        users.append(np.repeat(members, per_user))
        items.append(chosen.ravel())
    user, item = np.concatenate(users), np.concatenate(items)
    order = np.argsort(user, kind='stable')
    user, item = user[order], item[order]
    timestamp = np.tile(np.arange(per_user), num_users) + 1_000_000
    ratings = Ratings(user, item, np.ones(len(user), dtype=np.float32),
                      np.arange(1, num_users + 1), np.arange(1, num_items + 1), (0.0, 1.0),
                      timestamp=timestamp, name=name)
    ratings.truth = {'user_group': user_group, 'item_group': item_group}
    return ratings


def make_jester_scale(num_ratings=1_700_000, seed=0):
    """The benchmarks' speed set: Jester dataset 2's shape (59,132 users, 150 jokes,
    1.7M ratings by default) with a planted structure, on the -10..10 scale."""
    return make_synthetic(59132, 150, num_ratings, seed=seed, name='synthetic')
