"""Synthetic ratings with a planted low-rank structure."""
import numpy as np

from .ratings import Ratings

__all__ = ['make_synthetic', 'make_jester_scale']


def make_synthetic(num_users=1000, num_items=150, num_ratings=20000, rank=4,
                   scale=(-10.0, 10.0), noise=0.1, seed=0, name='synthetic'):
    """Sample ratings from ``clip(b_u + b_i + p_u . q_i + noise)`` on a rating scale.

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


def make_jester_scale(num_ratings=1_700_000, seed=0):
    """The benchmarks' speed set: Jester dataset 2's shape (59,132 users, 150 jokes,
    1.7M ratings by default) with a planted structure, on the -10..10 scale."""
    return make_synthetic(59132, 150, num_ratings, seed=seed, name='synthetic')
