"""Top-N recommendation for users, leaving out what they rated in training."""
import numpy as np

from .ranking import top_n
from .ranking_eval import top_k_items
from .recommender import unknown_policy

__all__ = ['recommend', 'recommend_all', 'top_n']


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
    _, top, top_scores = recommend_all(rec, n, users=[user], exclude_rated=exclude_rated,
                                       exclude_untrained=exclude_untrained)
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
                  chunk_size=None):
    """Top-``n`` inner item ids for many users, one matrix product per chunk of users.

    Each chunk's scores are float32 (``rec.rank_scores``: for a factor model the
    network's own scores, one GEMM), the rated items masked through the CSR rows of
    ``rec.rated_matrix()``, the ``n`` best chosen by ``argpartition`` and then sorted;
    only those are converted to predicted ratings. Memory stays at
    ``chunk_size x num_items`` float32 scores; by default the chunk is what
    ``gluonrec.ranking_eval.SCORE_BUDGET`` (256 MiB) holds.

    Parameters
    ----------
    rec : RecommenderBase
    n : int
    users : int array, optional
        Inner user ids (default: all users).
    chunk_size : int, optional

    Returns
    -------
    (users, items, scores)
        Inner user ids (U,), inner item ids (U, n) best first (-1 where fewer than n
        items remain), and predicted ratings (U, n) (-inf at the -1s). Map to raw ids
        with ``rec.item_map.to_raw``.
    """
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    users = np.arange(len(rec.user_map)) if users is None else np.asarray(users)
    n = min(int(n), len(rec.item_map))
    items, raw = top_k_items(rec.rank_scores, users, n, len(rec.item_map),
                             exclude=rec.rated_matrix() if exclude_rated else None,
                             chunk_size=chunk_size, with_scores=True,
                             columns=rec.item_counts == 0 if exclude_untrained else None)
    scores = np.full(raw.shape, -np.inf)
    found = items >= 0
    scores[found] = rec.from_rank_scores(raw[found])
    return users, items, scores
