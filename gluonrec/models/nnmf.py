"""Non-negative matrix factorisation by projected gradient steps."""
import numpy as np

from .._compat import mx
from .base import table
from .biased import BiasedMF

__all__ = ['NonNegativeMF']


class NonNegativeMF(BiasedMF):
    r"""Non-negative MF: :math:`\hat r_{ui} = p_u^\top q_i` with :math:`p_u, q_i \ge 0`.

    The factors are clipped to >= 0 after every optimiser update (``constrain``, called
    by the trainer), a projected gradient step; Lee and Seung, "Algorithms for
    Non-negative Matrix Factorization", NIPS 2000, and Luo et al., "An Efficient
    Non-Negative Matrix-Factorization-Based Approach to Collaborative Filtering for
    Recommender Systems", IEEE TII 10(2), 2014.

    Without biases its predictions are never negative, so it is trained on ratings
    scaled to (0, 1) (``feature_range``). With ``use_bias=True`` it adds the biases of
    ``BiasedMF``, which are not constrained.

    Parameters
    ----------
    use_bias : bool
        Add global, user and item biases.
    Others as in ``MatrixFactorization``; factors start uniform in [0, init_scale].
    """

    feature_range = (0.0, 1.0)
    constrained = True

    def __init__(self, num_users, num_items, num_factors=16, use_bias=False,
                 sparse_grad=False, initializer='uniform', init_scale=0.3,
                 row_sparse_weights=False, **kwargs):
        if row_sparse_weights:
            # Row-sparse tables are updated on the parameter servers, where the
            # projection onto >= 0 could not be applied after each update.
            raise ValueError('nnmf does not support row_sparse_weights=True; use dense '
                             'weights (sparse_grad is fine) for distributed training')
        super().__init__(num_users, num_items, num_factors, sparse_grad=sparse_grad,
                         initializer=initializer, init_scale=init_scale,
                         row_sparse_weights=row_sparse_weights, **kwargs)
        self.use_bias = bool(use_bias)
        if not self.use_bias:
            # Biases pinned at zero: one forward for both variants, and nothing trains them.
            for param in (self.user_bias.weight, self.item_bias.weight, self.global_bias):
                param.grad_req = 'null'

    def constrain(self):
        """Clip the factor tables to >= 0 in place (the projection step)."""
        for block in (self.user_embedding, self.item_embedding):
            for weight in block.weight.list_data():
                mx.nd.relu(weight, out=weight)

    def check_loaded(self):
        """Factors >= 0, and biases at 0 unless ``use_bias``: what training keeps true
        (a biased_mf model relabelled nnmf would otherwise load silently)."""
        for block in (self.user_embedding, self.item_embedding):
            low = float(table(block).min().asscalar())
            if low < 0:
                raise ValueError(f'{block.weight.name} has negative factors (min {low:g}); '
                                 'non-negative MF never trains any')
        if not self.use_bias:
            for param in (self.user_bias.weight, self.item_bias.weight, self.global_bias):
                if float(param.data().abs().max().asscalar()) != 0:
                    raise ValueError(f'{param.name} is not 0 but use_bias is false')

    def fold_in_view(self, index, inner, scaled, count, item_side):
        """As ``BiasedMF``'s (as ``MatrixFactorization``'s without biases, the user bias
        held at 0), the factor columns constrained to >= 0 and the bias free."""
        k = item_side[0].shape[1]
        if self.use_bias:
            design, offset, split, _ = super().fold_in_view(index, inner, scaled, count,
                                                            item_side)
        else:
            design, offset = item_side[0][inner], np.zeros(len(inner))

            def split(w):
                return {self.user_embedding: w, self.user_bias: np.zeros((count, 1))}
        free = np.zeros(design.shape[1], dtype=bool)
        free[k:] = True
        return design, offset, split, free

    def biases(self):
        return super().biases() if self.use_bias else None

    def embedding_tables(self):
        tables = super().embedding_tables()
        return tables if self.use_bias else tables[:2]
