"""Ranking models solved in closed form: implicit ALS and EASE.

Both train through ``fit`` like every model: the 'solver' engine hands each epoch's
one batch (every training positive) to the model's ``solve``, so they have the same
history, checkpoints, early stopping on validation NDCG, save and load.
"""
import numpy as np
import scipy.sparse as sp

from .._compat import mx, physical_memory
from mxnet import init

from .base import RecModel, table
from .mf import MatrixFactorization

__all__ = ['IALS', 'EASE', 'implicit_user_rows', 'SOLVERS']

#: How iALS solves each user's (and item's) k x k system: exactly (a batched LAPACK
#: solve of the normal equations) or by a few conjugate-gradient steps started from the
#: current factors (Takacs, Pilaszy and Tikk 2011; what the implicit package does).
SOLVERS = ('exact', 'cg')

#: Rows whose k x k systems the exact solver builds and solves at a time.
_SOLVE_CHUNK = 1024


def _segment_sums(values, bounds):
    """Sums of ``values`` (rows grouped by segment, in order) over the segments
    ``bounds[j]:bounds[j + 1]``, zeros for empty segments: one sparse product with the
    (segments x rows) indicator matrix, whose CSR row pointers are ``bounds``."""
    count, n = len(bounds) - 1, int(bounds[-1] - bounds[0])
    start = int(bounds[0])
    indicator = sp.csr_matrix((np.ones(n), np.arange(n), np.asarray(bounds) - start),
                              shape=(count, n))
    return indicator @ values[start:start + n]


def _check_rows(index, inner, weight, count, side):
    if len(index) != len(inner) or len(index) != len(weight):
        raise ValueError('index, inner and weight lengths differ')
    if len(index) and (index.min() < 0 or index.max() >= count):
        raise ValueError(f'row ids must lie in [0, {count})')
    if len(inner) and (inner.min() < 0 or inner.max() >= side):
        raise ValueError(f'column ids must lie in [0, {side})')


def implicit_user_rows(fixed, index, inner, weight, count, reg, alpha, solver='exact',
                       start=None, cg_steps=3):
    r"""iALS's solve for ``count`` rows given the other side ``fixed`` (Hu, Koren and
    Volinsky 2008): row :math:`u` minimises
    :math:`\sum_i c_{ui} (p_{ui} - x_u^\top y_i)^2 + \lambda \|x_u\|^2` over every
    column :math:`i`, with :math:`p_{ui} = 1, c_{ui} = 1 + \alpha w_{ui}` for the
    row's positives and :math:`p = 0, c = 1` elsewhere:
    :math:`x_u = (Y^\top Y + \sum_{i \in u} \alpha w_{ui} y_i y_i^\top + \lambda I)^{-1}
    \sum_{i \in u} (1 + \alpha w_{ui}) y_i`.

    Parameters
    ----------
    fixed : float64 array (columns, k)
    index, inner, weight : arrays (n,)
        Each positive's row (0..count-1), column, and weight.
    count : int
    reg, alpha : float
    solver : {'exact', 'cg'}
    start : float64 array (count, k), optional
        Where conjugate gradient starts (the current rows; zeros by default).
    cg_steps : int

    Returns
    -------
    float64 array (count, k)
    """
    if solver not in SOLVERS:
        raise ValueError(f'solver must be one of {SOLVERS}, got {solver!r}')
    index = np.asarray(index, dtype=np.int64)
    inner = np.asarray(inner, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    _check_rows(index, inner, weight, count, len(fixed))
    order = np.argsort(index, kind='stable')
    index, inner, conf = index[order], inner[order], alpha * weight[order]
    bounds = np.searchsorted(index, np.arange(count + 1))
    k = fixed.shape[1]
    gram = fixed.T @ fixed + reg * np.eye(k)
    y = fixed[inner]
    rhs = _segment_sums(y * (1.0 + conf)[:, None], bounds)
    if solver == 'cg':
        return _conjugate_gradient(gram, y, conf, index, bounds, rhs, start, cg_steps)
    rows = np.empty((count, k))
    weighted = y * conf[:, None]
    for first in range(0, count, _SOLVE_CHUNK):  # one batched LAPACK solve per chunk
        last = min(count, first + _SOLVE_CHUNK)
        systems = np.broadcast_to(gram, (last - first, k, k)).copy()
        for row in range(first, last):  # a k x k product per row (BLAS), none per positive
            lo, hi = bounds[row], bounds[row + 1]
            if hi > lo:
                systems[row - first] += weighted[lo:hi].T @ y[lo:hi]
        rows[first:last] = np.linalg.solve(systems, rhs[first:last, :, None])[:, :, 0]
    return rows


def _conjugate_gradient(gram, y, conf, index, bounds, rhs, start, steps):
    """``steps`` conjugate-gradient steps on every row's system at once, the products
    ``A x`` formed from the positives without building A."""
    x = np.zeros_like(rhs) if start is None else np.array(start, dtype=np.float64)

    def apply(v):
        return v @ gram + _segment_sums(y * (conf * np.einsum('nk,nk->n', y, v[index]))
                                        [:, None], bounds)

    r = rhs - apply(x)
    p = r.copy()
    rr = np.einsum('uk,uk->u', r, r)
    for _ in range(int(steps)):
        ap = apply(p)
        denom = np.einsum('uk,uk->u', p, ap)
        step = np.divide(rr, denom, out=np.zeros_like(rr), where=denom > 0)
        x += step[:, None] * p
        r -= step[:, None] * ap
        new = np.einsum('uk,uk->u', r, r)
        p = r + np.divide(new, rr, out=np.zeros_like(rr), where=rr > 0)[:, None] * p
        rr = new
    return x


class IALS(MatrixFactorization):
    r"""Implicit alternating least squares, :math:`x_{ui} = p_u^\top q_i`, solved in
    closed form one side at a time (``implicit_user_rows``): an epoch solves every user,
    then every item.

    Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback Datasets",
    ICDM 2008; Rendle, Krichene, Zhang and Koren, "Revisiting the Performance of iALS on
    Item Recommendation Benchmarks", RecSys 2022. ``reg`` (the training setting) is
    :math:`\lambda`.

    Parameters
    ----------
    num_users, num_items, num_factors : as in ``MatrixFactorization``.
    alpha : float
        Confidence of a positive: :math:`c = 1 + \alpha w` (implicit's ``alpha``).
    solver : {'cg', 'exact'}
        See ``SOLVERS``; 'cg' (the default, as in implicit) reaches the exact solver's
        NDCG on ml-100k in a third of its time at k=128 (the fold-in of new users is
        always exact).
    cg_steps : int
        Conjugate-gradient steps per solve with ``solver='cg'``.
    init_scale : float
        Standard deviation of the starting factors.
    """

    task = 'ranking'
    closed_form = True
    #: reg 20: the best of 1-100 on ml-100k's ranking protocol (RESULTS.md, ranking.py);
    #: larger data sets want it larger (it weighs against the sum over every item).
    training_defaults = dict(num_factors=64, reg=20.0, epochs=15, patience=3,
                             batch_size=1024, optimizer='none', lr=1.0, sparse_grad=False)

    def __init__(self, num_users, num_items, num_factors=64, alpha=1.0, solver='cg',
                 cg_steps=3, sparse_grad=False, initializer='normal', init_scale=0.01,
                 row_sparse_weights=False, **kwargs):
        if not alpha >= 0:
            raise ValueError(f'alpha must be >= 0, got {alpha!r}')
        if solver not in SOLVERS:
            raise ValueError(f'solver must be one of {SOLVERS}, got {solver!r}')
        if row_sparse_weights:
            raise ValueError('ials is solved in one process: row_sparse_weights must be '
                             'False')
        super().__init__(num_users, num_items, num_factors, sparse_grad=sparse_grad,
                         initializer=initializer, init_scale=init_scale, **kwargs)
        self.alpha, self.solver, self.cg_steps = float(alpha), solver, int(cg_steps)

    def _set(self, block, rows):
        block.weight.set_data(mx.nd.array(rows, ctx=self._first_ctx(), dtype=np.float32))

    def solve(self, user, item, weight, reg):
        """One alternation on the training positives: every user's factors, then every
        item's. Returns the objective per positive (the weighted squared error over
        every (user, item) pair plus the L2 term, divided by the positives)."""
        q = self.item_factors().astype(np.float64)
        p = implicit_user_rows(q, user, item, weight, self.num_users, reg, self.alpha,
                               self.solver, self.user_factors().astype(np.float64),
                               self.cg_steps)
        q = implicit_user_rows(p, item, user, weight, self.num_items, reg, self.alpha,
                               self.solver, q, self.cg_steps)
        self._set(self.user_embedding, p)
        self._set(self.item_embedding, q)
        score = np.einsum('nk,nk->n', p[user], q[item])
        conf = 1.0 + self.alpha * np.asarray(weight, dtype=np.float64)
        every = float(np.sum((p @ (q.T @ q)) * p))  # sum of x^2 over all pairs
        loss = every + float(np.sum(conf * (1 - score) ** 2 - score ** 2)) + \
            reg * float(np.sum(p ** 2) + np.sum(q ** 2))
        return loss / max(len(user), 1)

    def fold_in_positives(self, index, inner, weight, count, reg):
        """The exact iALS solve of the new users' rows, the item factors fixed."""
        rows = implicit_user_rows(self.item_factors().astype(np.float64), index, inner,
                                  weight, count, reg, self.alpha)
        return {self.user_embedding: rows}


class EASE(RecModel):
    r"""EASE, a linear item-item model with a closed form (Steck, "Embarrassingly
    Shallow Autoencoders for Sparse Data", WWW 2019): :math:`x_{u\cdot} = X_{u\cdot} B`
    with :math:`B = I - P \,\mathrm{diag}(1 / \mathrm{diag}(P))`,
    :math:`P = (X^\top X + \lambda I)^{-1}` (so :math:`\mathrm{diag}(B) = 0`), where
    :math:`\lambda` is the training setting ``reg``.

    Its "user table" holds each user's row of X (the training positives' weights) and
    its "item table" the columns of B, so scores, save and load, fold-in (a new user's
    row is their positives) and recommendation work as for a factor model of width
    ``num_items``. Refused before allocating when the dense ``num_items x num_items``
    matrices (four copies in float64 and float32 while solving) and the user rows do not
    fit in half the memory.

    Parameters
    ----------
    num_users, num_items : int
    num_factors : ignored (EASE's width is the item count); accepted so that every
        recipe can pass one.
    """

    task = 'ranking'
    closed_form = True
    training_defaults = dict(reg=500.0, epochs=1, patience=0, batch_size=1024,
                             optimizer='none', lr=1.0, sparse_grad=False, num_factors=1)

    def __init__(self, num_users, num_items, num_factors=None, sparse_grad=False,
                 row_sparse_weights=False, **kwargs):
        need = self.memory_needed(num_users, num_items)
        memory = physical_memory()
        if memory and need > memory / 2:
            raise ValueError(f'EASE needs a dense item x item matrix: {num_items:,} items '
                             f'take about {need / 2 ** 30:,.1f} GiB to solve, more than half '
                             f'of the {memory / 2 ** 30:,.1f} GiB of memory here; use ials or '
                             'bpr_mf for this catalogue, or keep fewer items (k_core)')
        if row_sparse_weights:
            raise ValueError('ease is solved in one process: row_sparse_weights must be '
                             'False')
        super().__init__(num_users, num_items, num_items, num_items, sparse_grad=False,
                         initializer='normal', init_scale=0.01, **kwargs)
        self.user_embedding.weight.init = init.Zero()
        self.item_embedding.weight.init = init.Zero()

    @staticmethod
    def memory_needed(num_users, num_items):
        """Bytes EASE's solve holds: the Gram matrix, its inverse and B in float64, B's
        table and the user rows in float32."""
        return num_items * num_items * (3 * 8 + 4) + num_users * num_items * 4

    def hybrid_forward(self, F, user, item):
        return F.sum(self.user_embedding(user) * self.item_embedding(item), axis=-1)

    def solve(self, user, item, weight, reg):
        r"""B from the training positives (one solve; later epochs repeat it). Returns
        :math:`(\|X - XB\|_F^2 + \lambda \|B\|_F^2)` per positive."""
        x = sp.csr_matrix((np.asarray(weight, dtype=np.float64), (user, item)),
                          shape=(self.num_users, self.num_items))
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += reg
        inverse = np.linalg.inv(gram)
        b = -inverse / np.diag(inverse)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        ctx = self._first_ctx()
        self.item_embedding.weight.set_data(mx.nd.array(b.T, ctx=ctx, dtype=np.float32))
        rows = x.toarray().astype(np.float32)
        self.user_embedding.weight.set_data(mx.nd.array(rows, ctx=ctx))
        residual = float(np.sum((rows - x @ b) ** 2))
        return (residual + reg * float(np.sum(b ** 2))) / max(len(user), 1)

    def score_matrix(self, users, items=None):
        rows = table(self.user_embedding).asnumpy()[np.asarray(users)]
        b = self.item_factors() if items is None else self.item_factors()[np.asarray(items)]
        return rows @ b.T

    def fold_in_positives(self, index, inner, weight, count, reg):
        """A new user's row of X: their positives' weights (exact)."""
        rows = np.zeros((count, self.num_items))
        np.add.at(rows, (np.asarray(index), np.asarray(inner)), np.asarray(weight))
        return {self.user_embedding: rows}
