"""Rating and ranking metrics: numpy in, float out."""
import numpy as np
import scipy.sparse as sp

__all__ = ['rmse', 'mae', 'rounded_mae', 'relevance_matrix', 'precision_at_k',
           'recall_at_k', 'map_at_k', 'ndcg_at_k', 'hit_rate_at_k', 'mrr_at_k',
           'ranking_metrics', 'per_user_metrics', 'RANKING_METRICS']


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f'shapes differ: y_true {y_true.shape}, y_pred {y_pred.shape}')
    if y_true.size == 0:
        raise ValueError('metrics need at least one rating')
    return y_true, y_pred


def rmse(y_true, y_pred):
    """Root of the mean squared error (in the units of the ratings given)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true, y_pred):
    """Mean absolute error."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def rounded_mae(y_true, y_pred, scale=None):
    """MAE after rounding predictions to the nearest whole rating (the Keras blog's
    measure on MovieLens), clipped to ``scale`` = (low, high) when given."""
    y_true, y_pred = _pair(y_true, y_pred)
    rounded = np.rint(y_pred)
    if scale is not None:
        rounded = np.clip(rounded, scale[0], scale[1])
    return float(np.mean(np.abs(y_true - rounded)))


def relevance_matrix(user, item, rating, num_users, num_items, threshold=None,
                     top_quantile=None):
    """Which held-out (user, item) pairs count as relevant, as a sparse bool matrix.

    Exactly one rule must be given:

    - ``threshold``: relevant when ``rating >= threshold`` (e.g. 4 stars);
    - ``top_quantile``: relevant when the rating is in the user's top ``top_quantile``
      share of their held-out ratings, i.e. ``rating >= quantile(1 - top_quantile)``
      of that user's held-out ratings (the Keras MovieLens notebook used 0.15).

    Returns
    -------
    scipy.sparse.csr_matrix of bool, shape (num_users, num_items)
    """
    user = np.asarray(user, dtype=np.int64)
    item = np.asarray(item, dtype=np.int64)
    rating = np.asarray(rating, dtype=np.float64)
    if (threshold is None) == (top_quantile is None):
        raise ValueError('give exactly one of threshold= or top_quantile=')
    if threshold is not None:
        keep = rating >= threshold
    else:
        if not 0 < top_quantile <= 1:
            raise ValueError(f'top_quantile must lie in (0, 1], got {top_quantile}')
        frame_order = np.argsort(user, kind='stable')
        users_sorted = user[frame_order]
        starts = np.flatnonzero(np.r_[True, users_sorted[1:] != users_sorted[:-1]])
        cut = np.empty(len(rating))
        for begin, end in zip(starts, np.r_[starts[1:], len(users_sorted)]):
            idx = frame_order[begin:end]
            cut[idx] = np.quantile(rating[idx], 1.0 - top_quantile)
        keep = rating >= cut
    return sp.csr_matrix((np.ones(keep.sum(), dtype=bool), (user[keep], item[keep])),
                         shape=(num_users, num_items))


def _hits(recommended, relevant, k):
    recommended = np.asarray(recommended)
    if recommended.ndim != 2:
        raise ValueError('recommended must be a 2-D array (users, ranked items)')
    if k < 1 or k > recommended.shape[1]:
        raise ValueError(f'k must lie in [1, {recommended.shape[1]}], got {k}')
    relevant = sp.csr_matrix(relevant, dtype=bool)
    if relevant.shape[0] != recommended.shape[0]:
        raise ValueError(f'recommended has {recommended.shape[0]} rows but relevant has '
                         f'{relevant.shape[0]}')
    top = recommended[:, :k]
    valid = top >= 0  # -1 pads lists shorter than k
    rows = np.repeat(np.arange(top.shape[0]), k).reshape(top.shape)
    hits = np.zeros(top.shape, dtype=bool)
    hits[valid] = np.asarray(relevant[rows[valid], top[valid]]).ravel()
    n_relevant = np.asarray(relevant.sum(axis=1)).ravel()
    return hits, n_relevant


#: The ranking metrics ``per_user_metrics`` computes, in the order it reports them.
RANKING_METRICS = ('precision', 'recall', 'map', 'ndcg', 'hit', 'mrr')


def per_user_metrics(recommended, relevant, k):
    """Each user's ranking metrics at ``k``, for the users with a relevant item.

    With ``hits`` the relevance (0/1) of a user's top-k list in rank order, ``R`` the
    user's relevant items and ``m = min(|R|, k)`` (RecBole's definitions):

    - precision@k = sum(hits) / k;
    - recall@k = sum(hits) / |R|;
    - map@k = sum over hit ranks j of precision@j, divided by m;
    - ndcg@k = DCG / IDCG, DCG = sum over hit ranks j of 1 / log2(j + 1), IDCG the DCG
      of m hits at the top;
    - hit@k = 1 when any of the top k is relevant (HR@k), else 0;
    - mrr@k = 1 / (rank of the first hit), 0 without one in the top k.

    Parameters
    ----------
    recommended : int array (num_users, >= k)
        Ranked inner item ids per user, best first; -1 pads short lists.
    relevant : sparse or dense bool matrix (num_users, num_items)
        See ``relevance_matrix``. Users with no relevant item are left out.
    k : int

    Returns
    -------
    (rows, values)
        The row positions of the users kept (int array), and a dict of float arrays,
        one per name of ``RANKING_METRICS``, keyed ``f'{name}@{k}'``.
    """
    hits, n_rel = _hits(recommended, relevant, k)
    rows = np.flatnonzero(n_rel > 0)
    hits, n_rel = hits[rows], n_rel[rows]
    count = hits.sum(axis=1)
    rank = np.arange(1, k + 1)
    ideal = np.minimum(n_rel, k)
    discount = 1.0 / np.log2(rank + 1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    values = {'precision': count / k,
              'recall': count / np.maximum(n_rel, 1),
              'map': (np.cumsum(hits, axis=1) / rank * hits).sum(axis=1) / np.maximum(ideal, 1),
              'ndcg': (hits * discount).sum(axis=1) /
              np.cumsum(discount)[np.maximum(ideal, 1) - 1],
              'hit': (count > 0).astype(np.float64),
              'mrr': np.divide(1.0, first, out=np.zeros(len(first)), where=first > 0)}
    return rows, {f'{name}@{k}': values[name].astype(np.float64) for name in RANKING_METRICS}


def _mean_of(name, recommended, relevant, k):
    _, values = per_user_metrics(recommended, relevant, k)
    column = values[f'{name}@{k}']
    return float(column.mean()) if len(column) else float('nan')


def precision_at_k(recommended, relevant, k):
    """Mean over users with a relevant item of (hits in top k) / k (see
    ``per_user_metrics`` for the arguments and every definition)."""
    return _mean_of('precision', recommended, relevant, k)


def recall_at_k(recommended, relevant, k):
    """Mean over users with a relevant item of (hits in top k) / (relevant items)."""
    return _mean_of('recall', recommended, relevant, k)


def map_at_k(recommended, relevant, k):
    """Mean average precision: per user, sum of precision@j at each hit j <= k, divided
    by min(relevant items, k)."""
    return _mean_of('map', recommended, relevant, k)


def ndcg_at_k(recommended, relevant, k):
    """Binary-relevance NDCG@k: DCG = sum of 1/log2(rank + 1) over hits, divided by the
    DCG of an ideal list with min(relevant items, k) hits."""
    return _mean_of('ndcg', recommended, relevant, k)


def hit_rate_at_k(recommended, relevant, k):
    """Share of users with a relevant item who find one in their top k (HR@k)."""
    return _mean_of('hit', recommended, relevant, k)


def mrr_at_k(recommended, relevant, k):
    """Mean over users with a relevant item of 1 / (rank of the first hit), 0 when none
    is in the top k."""
    return _mean_of('mrr', recommended, relevant, k)


def ranking_metrics(recommended, relevant, k):
    """precision, recall, map and ndcg at ``k`` in one dict."""
    _, values = per_user_metrics(recommended, relevant, k)
    return {key: float(column.mean()) if len(column) else float('nan')
            for key, column in values.items() if key.split('@')[0] in RANKING_METRICS[:4]}
