"""Top-N recommendation for users, leaving out what they rated in training."""
import numpy as np

from .ranking import top_n
from .recommender import unknown_policy

__all__ = ['recommend', 'recommend_all', 'top_n']


def _mask(scores, rec, users, rated, exclude_rated, exclude_untrained):
    if exclude_untrained:
        scores[:, rec.item_counts == 0] = -np.inf
    if exclude_rated:
        rows, cols = rated[users].nonzero()
        scores[rows, cols] = -np.inf
    return scores


def recommend(rec, raw_user_id, n=10, exclude_rated=True, exclude_untrained=True,
              unknown='error', fallback=None):
    """Top-``n`` items for one user, as (raw item id, predicted rating) pairs.

    Parameters
    ----------
    rec : RecommenderBase
        A ``Recommender``, a ``Blend``, or any implementation of the contract.
    raw_user_id : raw user id
    n : int
    exclude_rated : bool
        Leave out the items the user rated in training.
    exclude_untrained : bool
        Leave out items with no training rating (their factors are random).
    unknown : {'error', 'baseline', 'popular'}
        For a user the model never saw (``gluonrec.recommender.UNKNOWN``): raise
        ``KeyError``, or return the items with the highest predicted rating for such a
        user ('baseline': global + item bias for biased models, else the item's mean
        training rating), or the most rated items ('popular', scored by their mean
        training rating).
    fallback : {None, 'bias', 'popular'}
        The older name of ``unknown`` (None, 'bias', 'popular'); give one of the two.
    """
    if fallback is not None:
        if unknown != 'error':
            raise ValueError('give unknown= or its older name fallback=, not both')
        unknown = fallback
    unknown = unknown_policy(unknown)
    if int(n) != n or n < 1:
        raise ValueError(f'n must be a positive integer, got {n!r}')
    if not rec.user_map.contains(raw_user_id)[0]:
        if unknown == 'error':
            raise KeyError(f'unknown user {raw_user_id!r} (not in the training data); '
                           "pass unknown='popular' or 'baseline' for a default list")
        return _fallback_items(rec, n, unknown)
    user = rec.user_map.to_inner(raw_user_id, 'user')
    scores = _mask(rec.score_users([user]), rec, [user], rec.rated_matrix(), exclude_rated,
                   exclude_untrained)
    top, top_scores = top_n(scores, n)
    keep = top[0] >= 0
    return list(zip(np.asarray(rec.item_map.to_raw(top[0][keep])).tolist(),
                    top_scores[0][keep].tolist()))


def _fallback_items(rec, n, kind):
    counts = rec.item_counts
    if kind == 'popular':
        score = rec.item_means()
        key = np.where(counts > 0, counts + score / 1e6, -np.inf)  # ties broken by mean
    else:
        score = rec.item_baseline()
        key = np.where(counts > 0, score, -np.inf)
    top, _ = top_n(key[None, :], n)
    top = top[0][top[0] >= 0]
    return list(zip(np.asarray(rec.item_map.to_raw(top)).tolist(), score[top].tolist()))


def recommend_all(rec, n=10, users=None, exclude_rated=True, exclude_untrained=True,
                  chunk_size=2048):
    """Top-``n`` inner item ids for many users, one matrix product per chunk of users.

    Memory stays at ``chunk_size x num_items`` scores at a time.

    Parameters
    ----------
    rec : RecommenderBase
    n : int
    users : int array, optional
        Inner user ids (default: all users).
    chunk_size : int

    Returns
    -------
    (users, items, scores)
        Inner user ids (U,), inner item ids (U, n) best first (-1 where fewer than n
        items remain), and predicted ratings (U, n). Map to raw ids with
        ``rec.item_map.to_raw``.
    """
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    users = np.arange(len(rec.user_map)) if users is None else np.asarray(users)
    rated = rec.rated_matrix()
    n = min(int(n), len(rec.item_map))
    items = np.empty((len(users), n), dtype=np.int64)
    scores = np.empty((len(users), n))
    for start in range(0, len(users), chunk_size):
        chunk = users[start:start + chunk_size]
        block = _mask(rec.score_users(chunk), rec, chunk, rated, exclude_rated,
                      exclude_untrained)
        items[start:start + len(chunk)], scores[start:start + len(chunk)] = top_n(block, n)
    return users, items, scores
