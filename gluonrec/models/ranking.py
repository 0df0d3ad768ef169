"""Models that learn to rank from implicit feedback with sampled negatives: BPR-MF, and
NCF's GMF and NeuMF."""
import numpy as np

from .._compat import mx  # noqa: F401  (numpy aliases before mxnet)
from mxnet import gluon, init

from .base import RecModel, check_positive_int, table
from .mf import MatrixFactorization

__all__ = ['BPRMF', 'GMF', 'NeuMF', 'newton_fold_in', 'FOLD_IN_MIN_REG']

#: What the ranking models train with unless the caller says otherwise (Adam with lazy
#: row updates; early stopping on validation NDCG@10).
_RANKING_DEFAULTS = dict(num_factors=64, batch_size=1024, optimizer='adam', lr=0.003,
                         reg=0.0, epochs=60, patience=5, sparse_grad=True)


#: The smallest L2 weight fold-in uses: without one a user whose positives all score
#: above the rest has no finite optimum.
FOLD_IN_MIN_REG = 1e-3
#: (positive, negative) pairs one new user's BPR fold-in holds at a time; beyond it the
#: negatives are a seeded uniform sample.
_PAIR_BUDGET = 2 ** 23


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _user_objective(loss, qp, bp, w, qn, bn, reg, negatives):
    """f(p) -> (value, gradient, Hessian) of one new user's training objective with the
    item side fixed: BPR over every (positive, non-positive) pair, or BCE with the
    negatives' term scaled to ``negatives`` per positive, plus ``reg * |p|^2`` (the
    per-positive objective of training, averaged over the user's positives)."""
    k = qp.shape[1]

    def evaluate(p):
        if loss == 'bpr':
            x = (qp @ p + bp)[:, None] - (qn @ p + bn)[None, :]
            scale = w[:, None] / (len(qp) * len(qn))
            value = float(np.sum(scale * _softplus(-x)))
            slope = -scale * _sigmoid(-x)  # d value / d x
            grad = slope.sum(axis=1) @ qp - slope.sum(axis=0) @ qn
            curve = scale * _sigmoid(x) * _sigmoid(-x)
            cross = qp.T @ curve @ qn
            hess = qp.T @ (curve.sum(axis=1)[:, None] * qp) + \
                qn.T @ (curve.sum(axis=0)[:, None] * qn) - cross - cross.T
        else:
            xp, xn = qp @ p + bp, qn @ p + bn
            wp, wn = w / len(qp), np.full(len(qn), negatives / len(qn))
            value = float(wp @ _softplus(-xp) + wn @ _softplus(xn))
            grad = -(wp * _sigmoid(-xp)) @ qp + (wn * _sigmoid(xn)) @ qn
            hess = qp.T @ ((wp * _sigmoid(xp) * _sigmoid(-xp))[:, None] * qp) + \
                qn.T @ ((wn * _sigmoid(xn) * _sigmoid(-xn))[:, None] * qn)
        return value + reg * p @ p, grad + 2 * reg * p, hess + 2 * reg * np.eye(k)
    return evaluate


def newton_fold_in(design, offset, index, inner, weight, count, reg, loss, negatives=1,
                   steps=50, seed=0):
    """New users' rows minimising the model's own ranking loss over every item, the
    item side (``design`` (items, k) and ``offset`` (items,)) fixed: a convex problem in
    the user's row, solved by damped Newton steps, one user at a time.

    ``loss`` 'bpr': every (positive, non-positive item) pair, the expectation of what
    sampled triples train; 'bce': each positive against every non-positive item, those
    weighted to ``negatives`` per positive. ``reg`` is floored at ``FOLD_IN_MIN_REG``.
    """
    reg = max(float(reg), FOLD_IN_MIN_REG)
    rng = np.random.RandomState(seed)
    rows = np.zeros((count, design.shape[1]))
    for user in range(count):  # one k x k Newton solve per new user and step
        mine = np.asarray(index) == user
        pos = np.asarray(inner)[mine]
        rest = np.setdiff1d(np.arange(len(design)), pos)
        if loss == 'bpr' and len(pos) * len(rest) > _PAIR_BUDGET:
            rest = np.sort(rng.choice(rest, max(1, _PAIR_BUDGET // len(pos)), replace=False))
        f = _user_objective(loss, design[pos], offset[pos],
                            np.asarray(weight, dtype=np.float64)[mine], design[rest],
                            offset[rest], reg, negatives)
        p = np.zeros(design.shape[1])
        value, grad, hess = f(p)
        for _ in range(steps):
            step = np.linalg.solve(hess, grad)
            t = 1.0
            while t > 1e-8:  # backtrack until the value falls enough (Armijo)
                value_t, grad_t, hess_t = f(p - t * step)
                if value_t <= value - 1e-4 * t * grad @ step:
                    break
                t /= 2
            p, value, grad, hess = p - t * step, value_t, grad_t, hess_t
            if np.abs(grad).max() < 1e-9:
                break
        rows[user] = p
    return rows


class BPRMF(MatrixFactorization):
    r"""Matrix factorisation with an item bias, :math:`x_{ui} = p_u^\top q_i + b_i`,
    trained by BPR on (user, positive, sampled negative) triples.

    Rendle, Freudenthaler, Gantner and Schmidt-Thieme, "BPR: Bayesian Personalized
    Ranking from Implicit Feedback", UAI 2009. The loss is
    :math:`-\ln\sigma(x_{ui} - x_{uj})` plus ``reg`` times the squared norms of the rows
    used (``gluonrec.train.objective.RankingObjective``).

    Parameters are those of ``MatrixFactorization``.
    """

    task = 'ranking'
    objective = 'bpr'
    num_negatives = 1
    #: lr 0.001, reg 0.01: the best of ranking.py's grid on ml-100k (RESULTS.md).
    training_defaults = dict(_RANKING_DEFAULTS, lr=0.001, reg=0.01, epochs=100)
    #: On the fused engine (one Adagrad step per positive, in chunks of 65536): lr 0.1,
    #: reg 0.01, the best of ranking.py's grid for it on ml-100k (RESULTS.md).
    fused_training_defaults = dict(optimizer='adagrad', lr=0.1, batch_size=65536)

    def __init__(self, num_users, num_items, num_factors=64, sparse_grad=False,
                 initializer='normal', init_scale=0.1, row_sparse_weights=False, **kwargs):
        super().__init__(num_users, num_items, num_factors, sparse_grad=sparse_grad,
                         initializer=initializer, init_scale=init_scale,
                         row_sparse_weights=row_sparse_weights, **kwargs)
        with self.name_scope():
            self.item_bias = self.embedding('item', 1, init.Zero())

    def hybrid_forward(self, F, user, item):
        return super().hybrid_forward(F, user, item) + F.reshape(self.item_bias(item), (-1,))

    def score_matrix(self, users, items=None):
        bias = table(self.item_bias).asnumpy()[:, 0]
        if items is not None:
            bias = bias[np.asarray(items)]
        return super().score_matrix(users, items) + bias[None, :]

    def fold_in_positives(self, index, inner, weight, count, reg):
        """A new user's factors minimising BPR over all their (positive, other item)
        pairs, the item factors and biases fixed (``newton_fold_in``)."""
        bias = table(self.item_bias).asnumpy()[:, 0].astype(np.float64)
        rows = newton_fold_in(self.item_factors().astype(np.float64), bias, index, inner,
                              weight, count, reg, 'bpr')
        return {self.user_embedding: rows}


class GMF(MatrixFactorization):
    r"""Generalized matrix factorisation, :math:`x_{ui} = h^\top (p_u \odot q_i)`, NCF's
    GMF trained with binary cross-entropy over sampled negatives: MF with a learnt
    weight per factor.

    He, Liao, Zhang, Nie, Hu and Chua, "Neural Collaborative Filtering", WWW 2017
    (eq. 9; the output's sigmoid is in the loss). ``h`` starts at 1, so the model
    starts as plain MF.

    Parameters
    ----------
    num_users, num_items : int
    num_factors : int
    sparse_grad, initializer, init_scale, row_sparse_weights : as in ``RecModel``.
    """

    task = 'ranking'
    objective = 'bce'
    num_negatives = 4
    training_defaults = dict(_RANKING_DEFAULTS, lr=0.001)

    def __init__(self, num_users, num_items, num_factors=64, sparse_grad=False,
                 initializer='normal', init_scale=0.1, row_sparse_weights=False, **kwargs):
        super().__init__(num_users, num_items, num_factors, sparse_grad=sparse_grad,
                         initializer=initializer, init_scale=init_scale,
                         row_sparse_weights=row_sparse_weights, **kwargs)
        with self.name_scope():
            self.h = self.params.get('h', shape=(num_factors,), init=init.One())

    def hybrid_forward(self, F, user, item, h):
        joint = self.user_embedding(user) * self.item_embedding(item)
        return F.sum(F.broadcast_mul(joint, F.reshape(h, (1, -1))), axis=-1)

    def _h(self):
        return self.h.data(self._first_ctx()).asnumpy()

    def score_matrix(self, users, items=None):
        p = self.user_factors()[np.asarray(users)] * self._h()[None, :]
        q = self.item_factors() if items is None else self.item_factors()[np.asarray(items)]
        return p @ q.T  # MatrixFactorization's, with h folded into the user rows

    def fold_in_positives(self, index, inner, weight, count, reg):
        """A new user's factors minimising GMF's BCE (each positive against every other
        item, weighted to the training's negatives per positive), the item side fixed
        (``newton_fold_in``)."""
        design = self.item_factors().astype(np.float64) * self._h()[None, :]
        rows = newton_fold_in(design, np.zeros(len(design)), index, inner, weight, count,
                              reg, 'bce', negatives=self.num_negatives)
        return {self.user_embedding: rows}


class NeuMF(RecModel):
    r"""NeuMF: GMF's :math:`p_u \odot q_i` beside an MLP over :math:`[p'_u; q'_i]`
    (separate embeddings), joined by one linear output.

    He et al., "Neural Collaborative Filtering", WWW 2017 (eq. 12), trained from
    scratch with binary cross-entropy over sampled negatives (the paper's pre-training
    of the two branches is left out).

    Parameters
    ----------
    num_users, num_items : int
    num_factors : int
        Width of the GMF embeddings.
    mlp_factors : int
        Width of each MLP embedding (the first layer sees twice that).
    hidden : sequence of int
        The MLP's layers (NCF's tower halves each layer).
    sparse_grad, initializer, init_scale, row_sparse_weights : as in ``RecModel``.
    """

    task = 'ranking'
    objective = 'bce'
    num_negatives = 4
    training_defaults = dict(_RANKING_DEFAULTS, num_factors=32, lr=0.001)

    def __init__(self, num_users, num_items, num_factors=32, mlp_factors=32,
                 hidden=(64, 32, 16), sparse_grad=False, initializer='normal',
                 init_scale=0.1, row_sparse_weights=False, **kwargs):
        check_positive_int('num_factors', num_factors)
        check_positive_int('mlp_factors', mlp_factors)
        for size in hidden:
            check_positive_int('hidden', size)
        super().__init__(num_users, num_items, num_factors, num_factors,
                         sparse_grad=sparse_grad, initializer=initializer,
                         init_scale=init_scale, row_sparse_weights=row_sparse_weights,
                         **kwargs)
        weight_init = init.Normal(init_scale)
        with self.name_scope():
            self.mlp_user = self.embedding('user', mlp_factors, weight_init)
            self.mlp_item = self.embedding('item', mlp_factors, weight_init)
            self.tower = gluon.nn.HybridSequential(prefix='tower_')
            with self.tower.name_scope():
                for size in hidden:
                    self.tower.add(gluon.nn.Dense(size, activation='relu'))
            self.output = gluon.nn.Dense(1, prefix='output_')

    def hybrid_forward(self, F, user, item):
        gmf = self.user_embedding(user) * self.item_embedding(item)
        mlp = self.tower(F.concat(self.mlp_user(user), self.mlp_item(item), dim=-1))
        return F.reshape(self.output(F.concat(gmf, mlp, dim=-1)), (-1,))
