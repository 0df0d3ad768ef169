"""Top-n selection per row of a score matrix: the one place that ranks candidates."""
import numpy as np

__all__ = ['top_n']


def top_n(scores, n):
    """Column indices of the ``n`` largest scores per row, best first.

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
    top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind='stable')
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    top[~np.isfinite(top_scores)] = -1
    return top.astype(np.int64), top_scores
