"""Matrix factorisation: the dot product of a user and an item embedding."""
import numpy as np

from .base import RecModel, check_positive_int

__all__ = ['MatrixFactorization']


class MatrixFactorization(RecModel):
    r"""Plain matrix factorisation, :math:`\hat r_{ui} = p_u^\top q_i`.

    The model of the original "MF on Jester with MXNet Gluon" blog; Koren, Bell and
    Volinsky, "Matrix Factorization Techniques for Recommender Systems", IEEE
    Computer 42(8), 2009.

    Parameters
    ----------
    num_users, num_items : int
    num_factors : int
        Width k of :math:`p_u, q_i`.
    sparse_grad : bool
        row_sparse embedding gradients (see ``RecModel``).
    initializer : {'normal', 'uniform', 'xavier'}
    init_scale : float
    """

    def __init__(self, num_users, num_items, num_factors=16, sparse_grad=False,
                 initializer='normal', init_scale=0.1, row_sparse_weights=False, **kwargs):
        check_positive_int('num_factors', num_factors)
        super().__init__(num_users, num_items, num_factors, num_factors,
                         sparse_grad=sparse_grad, initializer=initializer,
                         init_scale=init_scale, row_sparse_weights=row_sparse_weights,
                         **kwargs)
        self.num_factors = int(num_factors)

    def hybrid_forward(self, F, user, item):
        p = self.user_embedding(user)
        q = self.item_embedding(item)
        return F.sum(p * q, axis=-1)

    def fold_in_view(self, index, inner, scaled, count, item_side):
        """A new user's prediction is ``p_u . q_i``: the design is the item factors."""
        q = item_side[0][inner]
        return q, np.zeros(len(q)), lambda w: {self.user_embedding: w}, None

    def score_matrix(self, users, items=None):
        users = np.asarray(users)
        p = self.user_factors()[users]
        q = self.item_factors() if items is None else self.item_factors()[np.asarray(items)]
        return p @ q.T
