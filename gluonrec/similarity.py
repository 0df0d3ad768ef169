"""Cosine similarity over item (or user) factors: "jokes that make the same people laugh"."""
import numpy as np

from .ranking import top_n

__all__ = ['similar_items', 'similar_users', 'similar_items_batch', 'cosine_top_k']


def cosine_top_k(factors, queries, k, valid=None):
    """Top-k cosine neighbours of rows ``queries`` of ``factors``, excluding each query.

    Parameters
    ----------
    factors : float array (n, d)
    queries : int array (q,)
        Row indices.
    k : int
        Neighbours per query; fewer when fewer candidates exist.
    valid : bool array (n,), optional
        Rows that may be returned (e.g. items with a training rating).

    Returns
    -------
    (indices, scores) : int array (q, k'), float array (q, k'), best first
    """
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2:
        raise ValueError(f'factors must be 2-D, got shape {factors.shape}')
    if int(k) != k or k < 1:
        raise ValueError(f'k must be a positive integer, got {k!r}')
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    # A zero vector has no direction: its cosine with anything is taken as 0, not NaN.
    unit = np.divide(factors, norms, out=np.zeros_like(factors), where=norms > 0)
    queries = np.asarray(queries, dtype=np.int64)
    scores = unit[queries] @ unit.T
    candidates = np.ones(len(factors), dtype=bool) if valid is None else np.asarray(valid)
    scores[:, ~candidates] = -np.inf
    scores[np.arange(len(queries)), queries] = -np.inf
    available = int(candidates.sum()) - int(candidates[queries].any())
    k = min(int(k), max(available, 0), len(factors) - 1)
    if k <= 0:
        empty = np.empty((len(queries), 0))
        return empty.astype(np.int64), empty
    return top_n(scores, k)


def _source(source, kind):
    """(factors, id map or None, trained mask) from a Recommender or an array."""
    if hasattr(source, 'item_factors') and hasattr(source, f'{kind}_counts'):
        factors = source.item_factors() if kind == 'item' else source.user_factors()
        id_map = source.item_map if kind == 'item' else source.user_map
        return factors, id_map, getattr(source, f'{kind}_counts') > 0
    factors = np.asarray(source)
    return factors, None, np.ones(len(factors), dtype=bool)


def _similar(source, raw_ids, k, kind):
    factors, id_map, trained = _source(source, kind)
    raw_ids = list(raw_ids)
    if id_map is None:
        rows = np.asarray(raw_ids, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(factors)):
            raise KeyError(f'{kind} row out of range [0, {len(factors)})')
        to_raw = lambda idx: idx.tolist()  # noqa: E731
    else:
        rows = np.asarray(id_map.to_inner(raw_ids, kind), dtype=np.int64)
        to_raw = lambda idx: np.asarray(id_map.to_raw(idx)).tolist()  # noqa: E731
    untrained = [raw for raw, row in zip(raw_ids, rows) if not trained[row]]
    if untrained:
        raise ValueError(f'{kind} {untrained[0]!r} was never rated in the training data, so '
                         'its factors are untrained and it has no meaningful neighbours')
    top, scores = cosine_top_k(factors, rows, k, valid=trained)
    return [list(zip(to_raw(t), s.tolist())) for t, s in zip(top, scores)]


def similar_items(source, raw_item_id, k=10):
    """The ``k`` items most cosine-similar to ``raw_item_id``, best first.

    Parameters
    ----------
    source : Recommender or array (num_items, factors)
        A recommender (raw ids, and only items rated in training are candidates) or a
        factor matrix (ids are row numbers, all rows are candidates).
    raw_item_id : raw item id (or row number for a matrix)
    k : int

    Returns
    -------
    list of (raw id, cosine score)
        Without the item itself; all candidates when there are fewer than ``k``.

    Raises
    ------
    KeyError
        Unknown item. ``ValueError``: the item was never rated in training.
    """
    return _similar(source, [raw_item_id], k, 'item')[0]


def similar_items_batch(source, raw_item_ids, k=10):
    """``similar_items`` for many query items in one matrix product."""
    return _similar(source, raw_item_ids, k, 'item')


def similar_users(source, raw_user_id, k=10):
    """The ``k`` users most cosine-similar to ``raw_user_id`` (as ``similar_items``)."""
    return _similar(source, [raw_user_id], k, 'user')[0]
