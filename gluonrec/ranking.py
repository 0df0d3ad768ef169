"""Top-n selection per row of a score matrix: the one place that ranks candidates."""
import numpy as np

__all__ = ['top_n']

#: Rows with at least this many columns per wanted item find their cut-off through
#: block maxima (``_block_bound``); narrower ones by a partition of the row.
_PREFILTER_RATIO = 16


def top_n(scores, n):
    """Column indices of the ``n`` largest scores per row, best first; equal scores in
    column order.

    Parameters
    ----------
    scores : float array (rows, columns)
        ``-inf`` marks a column that may not be returned.
    n : int
        At most the number of columns.

    Returns
    -------
    (indices, scores) : int64 array (rows, n), float array (rows, n)
        The scores keep a float input's precision (float32 scores are ranked as
        float32, without a copy), other inputs become float64.
        Slots left without a finite candidate hold index -1 (and score -inf).
    """
    scores = np.asarray(scores)
    if scores.dtype.kind != 'f':
        scores = scores.astype(np.float64)
    n = min(int(n), scores.shape[1])
    if n < 1:
        raise ValueError(f'n must be >= 1, got {n}')
    if scores.shape[1] >= _PREFILTER_RATIO * n and scores.shape[1] >= 256:
        bound = _block_bound(scores, n)
    else:  # the n-th largest score itself
        bound = -np.partition(-scores, n - 1, axis=1)[:, n - 1]
    top, top_scores = _above(scores, bound, n)
    top[~np.isfinite(top_scores)] = -1
    return top, top_scores


def _block_bound(scores, n):
    """A score that at least ``n`` columns of each row reach, found from block maxima:
    with the columns cut into B >= n blocks, the n-th largest block maximum. About n
    columns per row reach it, so ``_above`` sorts few; the cost is a selection over B
    maxima and one comparison per score, instead of a partition of every row."""
    cols = scores.shape[1]
    blocks = max(n, int(np.sqrt(cols)))
    starts = np.linspace(0, cols, blocks, endpoint=False).astype(np.int64)
    maxima = np.maximum.reduceat(scores, starts, axis=1)
    return -np.partition(-maxima, n - 1, axis=1)[:, n - 1]


def _above(scores, bound, n):
    """The ``n`` best of each row's columns scoring >= its ``bound`` (which at least n
    reach), best first, equal scores in column order."""
    rows = scores.shape[0]
    row, col = np.divmod(np.flatnonzero(scores >= bound[:, None]), scores.shape[1])
    # (np.nonzero of a 2-D mask is several times slower than this)
    value = scores[row, col]
    order = np.lexsort((col, -value, row))  # by row, best first, ties in column order
    row, col, value = row[order], col[order], value[order]
    rank = np.arange(len(row)) - np.searchsorted(row, row)
    keep = rank < n
    top = np.full((rows, n), -1, dtype=np.int64)
    top_scores = np.full((rows, n), -np.inf, dtype=scores.dtype)
    top[row[keep], rank[keep]] = col[keep]
    top_scores[row[keep], rank[keep]] = value[keep]
    return top, top_scores
