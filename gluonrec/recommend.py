"""Top-N recommendation for users, leaving out what they rated in training."""
import numpy as np
import scipy.sparse as sp

__all__ = ['recommend', 'recommend_all', 'top_n']

_FALLBACKS = (None, 'popular', 'bias')


def top_n(scores, n):
    """Column indices of the ``n`` largest scores per row, best first; -inf entries are
    never returned (their slots hold -1). Returns (indices, scores)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = min(int(n), scores.shape[1])
    if n < 1:
        raise ValueError(f'n must be >= 1, got {n}')
    top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind='stable')
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    top[~np.isfinite(top_scores)] = -1
    return top, top_scores


def _rated(rec):
    train = rec.train
    return sp.csr_matrix((np.ones(len(train['user']), dtype=bool),
                          (train['user'], train['item'])),
                         shape=(len(rec.user_map), len(rec.item_map)))


def _mask(scores, rec, users, rated, exclude_rated, exclude_untrained):
    if exclude_untrained:
        scores[:, rec.item_counts == 0] = -np.inf
    if exclude_rated:
        rows, cols = rated[users].nonzero()
        scores[rows, cols] = -np.inf
    return scores


def recommend(rec, raw_user_id, n=10, exclude_rated=True, exclude_untrained=True,
              fallback=None):
    """Top-``n`` items for one user, as (raw item id, predicted rating) pairs.

    Parameters
    ----------
    rec : Recommender
    raw_user_id : raw user id
    n : int
    exclude_rated : bool
        Leave out the items the user rated in training.
    exclude_untrained : bool
        Leave out items with no training rating (their factors are random).
    fallback : {None, 'popular', 'bias'}
        For a user the model never saw: raise ``KeyError`` (None), or return the most
        rated items ('popular', scored by their mean training rating) or the items with
        the highest predicted rating for an average user ('bias': global + item bias
        for biased models, else the item's mean training rating).
    """
    if fallback not in _FALLBACKS:
        raise ValueError(f'fallback must be one of {_FALLBACKS}, got {fallback!r}')
    if int(n) != n or n < 1:
        raise ValueError(f'n must be a positive integer, got {n!r}')
    if not rec.user_map.contains(raw_user_id)[0]:
        if fallback is None:
            raise KeyError(f'unknown user {raw_user_id!r} (not in the training data); '
                           "pass fallback='popular' or 'bias' for a default list")
        return _fallback_items(rec, n, fallback)
    user = rec.user_map.to_inner(raw_user_id, 'user')
    scores = _mask(rec.score_users([user]), rec, [user], _rated(rec), exclude_rated,
                   exclude_untrained)
    top, top_scores = top_n(scores, n)
    keep = top[0] >= 0
    return list(zip(np.asarray(rec.item_map.to_raw(top[0][keep])).tolist(),
                    top_scores[0][keep].tolist()))


def _fallback_items(rec, n, kind):
    counts = rec.item_counts
    sums = np.bincount(rec.train['item'], weights=rec.train['rating'], minlength=len(counts))
    means = np.divide(sums, counts, out=np.full(len(counts), -np.inf), where=counts > 0)
    if kind == 'popular':
        key = np.where(counts > 0, counts + means / 1e6, -np.inf)  # ties broken by mean
        score = means
    elif hasattr(rec.net, 'biases') and getattr(rec.net, 'use_bias', True):
        mu, _, bi = rec.net.biases()
        score = rec.to_original(mu + bi)
        key = np.where(counts > 0, score, -np.inf)
    else:
        key = score = means
    top, _ = top_n(key[None, :], n)
    top = top[0][top[0] >= 0]
    return list(zip(np.asarray(rec.item_map.to_raw(top)).tolist(), score[top].tolist()))


def recommend_all(rec, n=10, users=None, exclude_rated=True, exclude_untrained=True,
                  chunk_size=2048):
    """Top-``n`` inner item ids for many users, one matrix product per chunk of users.

    Memory stays at ``chunk_size x num_items`` scores at a time.

    Parameters
    ----------
    rec : Recommender
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
    rated = _rated(rec)
    n = min(int(n), len(rec.item_map))
    items = np.empty((len(users), n), dtype=np.int64)
    scores = np.empty((len(users), n))
    for start in range(0, len(users), chunk_size):
        chunk = users[start:start + chunk_size]
        block = _mask(rec.score_users(chunk), rec, chunk, rated, exclude_rated,
                      exclude_untrained)
        items[start:start + len(chunk)], scores[start:start + len(chunk)] = top_n(block, n)
    return users, items, scores
