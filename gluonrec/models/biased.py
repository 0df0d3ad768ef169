"""Biased matrix factorisation: global offset, user and item biases, dot product."""
import numpy as np

from .._compat import mx  # noqa: F401  (numpy aliases before mxnet)
from mxnet import init

from .base import table
from .mf import MatrixFactorization

__all__ = ['BiasedMF']


class BiasedMF(MatrixFactorization):
    r"""Biased MF, :math:`\hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i`.

    Koren, Bell and Volinsky, "Matrix Factorization Techniques for Recommender
    Systems", IEEE Computer 42(8), 2009 (eq. 4).

    Parameters are those of ``MatrixFactorization``; the biases start at zero and
    share its ``sparse_grad`` setting.
    """

    def __init__(self, num_users, num_items, num_factors=16, sparse_grad=False,
                 initializer='normal', init_scale=0.1, row_sparse_weights=False, **kwargs):
        super().__init__(num_users, num_items, num_factors, sparse_grad=sparse_grad,
                         initializer=initializer, init_scale=init_scale,
                         row_sparse_weights=row_sparse_weights, **kwargs)
        with self.name_scope():
            self.user_bias = self.embedding('user', 1, init.Zero())
            self.item_bias = self.embedding('item', 1, init.Zero())
            self.global_bias = self.params.get('global_bias', shape=(1,), init=init.Zero())

    def hybrid_forward(self, F, user, item, global_bias):
        dot = super().hybrid_forward(F, user, item)
        biases = F.reshape(self.user_bias(user), (-1,)) + F.reshape(self.item_bias(item), (-1,))
        return F.broadcast_add(dot + biases, global_bias)

    def fold_in_view(self, index, inner, scaled, count, item_side):
        """``[q_i, 1] . [p_u, b_u]`` after ``mu + b_i``."""
        factors, mu, item_bias = item_side
        q = factors[inner]
        k = q.shape[1]
        return np.hstack([q, np.ones((len(q), 1))]), mu + item_bias[inner], \
            lambda w: {self.user_embedding: w[:, :k], self.user_bias: w[:, k:]}, None

    def biases(self):
        """(global, user biases (num_users,), item biases (num_items,)) as numpy."""
        return self._bias_tables()

    def _bias_tables(self):
        ctx = self._first_ctx()
        return (float(self.global_bias.data(ctx).asnumpy()[0]),
                table(self.user_bias).asnumpy()[:, 0], table(self.item_bias).asnumpy()[:, 0])

    def score_matrix(self, users, items=None):
        users = np.asarray(users)
        mu, bu, bi = self._bias_tables()  # zeros where a subclass switches biases off
        if items is not None:
            bi = bi[np.asarray(items)]
        scores = super().score_matrix(users, items)
        scores += bu[users][:, None]  # in place: a chunk of scores is the big array
        scores += bi + np.float32(mu)
        return scores
