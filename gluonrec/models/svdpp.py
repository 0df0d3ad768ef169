"""SVD++: biased MF whose user factors are offset by the items the user rated."""
import numpy as np

from .base import _initializer, table
from .biased import BiasedMF
from .neighbourhood import ReadsRatings, RowSets

__all__ = ['SVDpp']


class SVDpp(ReadsRatings, BiasedMF):
    r"""SVD++, :math:`\hat r_{ui} = \mu + b_u + b_i + q_i^\top (p_u + |N(u)|^{-1/2}
    \sum_{j \in N(u)} y_j)`, N(u) the items u rated in training.

    Koren, "Factorization Meets the Neighborhood: a Multifaceted Collaborative Filtering
    Model", KDD 2008 (eq. 15). Batched: the implicit sums of a batch's users are one
    sparse (users x items) product with the ``y`` table, whose gradient is row_sparse
    (always: a batch touches only the rows its users rated). The penalty adds
    ``|N(u)|^-1 sum |y_j|^2`` per rating, the mean squared norm of the ``y`` rows it
    used (Surprise regularises each of them at every rating of the user, ``|N(u)|``
    times as hard).

    The sets N(u) come from the training ratings: ``attach_ratings(train)`` (which
    ``train_model`` and ``load_model`` call) before the first forward. Runs imperatively
    (``hybridize`` is a no-op); the generic engine trains it.

    Parameters are those of ``BiasedMF``.
    """

    def __init__(self, num_users, num_items, num_factors=16, sparse_grad=False,
                 initializer='normal', init_scale=0.1, row_sparse_weights=False, **kwargs):
        if row_sparse_weights:
            raise ValueError('svdpp does not support row_sparse_weights=True (its implicit '
                             'sums are computed where the model runs)')
        super().__init__(num_users, num_items, num_factors, sparse_grad=sparse_grad,
                         initializer=initializer, init_scale=init_scale, **kwargs)
        with self.name_scope():
            self.implicit = self.params.get(
                'implicit', shape=(num_items, num_factors),
                init=_initializer(initializer, init_scale),
                grad_stype='row_sparse')
        self._sets = None

    def attach_ratings(self, train, scaler=None):
        """Take N(u), the items each user rated, from the training ``Ratings``."""
        self._check_ratings(train)
        self._sets = RowSets.normalised(train.user, train.item, self.num_users,
                                        self.num_items)

    def _sets_or_fail(self):
        return self._attached(self._sets)

    def hybrid_forward(self, F, user, item, global_bias, implicit):
        self._imperative(F)
        p = self.user_embedding(user) + self._sets_or_fail().sums(user, implicit)
        q = self.item_embedding(item)
        biases = F.reshape(self.user_bias(user), (-1,)) + F.reshape(self.item_bias(item),
                                                                    (-1,))
        return F.broadcast_add(F.sum(p * q, axis=-1) + biases, global_bias)

    def penalty(self, F, user, item):
        base = super().penalty(F, user, item)
        return base + self._sets_or_fail().penalty(user, self.implicit.data(user.context))

    def implicit_sums(self, users, items, count):
        """``|N(u)|^-1/2 sum_j y_j`` for ``count`` users who are not (yet) in the
        model, from their (user 0..count-1, item) pairs: numpy (count, k)."""
        y = self.implicit.data(self._first_ctx()).asnumpy()
        sets = RowSets.normalised(np.asarray(users), np.asarray(items), count,
                                  self.num_items)
        return sets.all_sums(y)

    def fold_in_view(self, index, inner, scaled, count, item_side):
        """As ``BiasedMF``'s, after ``q_i . |N(u)|^-1/2 sum y_j`` as well: a new user's
        implicit sum comes from the items they rate."""
        design, offset, split, free = super().fold_in_view(index, inner, scaled, count,
                                                           item_side)
        implicit = self.implicit_sums(index, inner, count)
        offset = offset + np.einsum('nk,nk->n', item_side[0][inner], implicit[index])
        return design, offset, split, free

    def user_factors(self):
        """The effective user factors: ``p_u`` plus the normalised implicit sum."""
        y = self.implicit.data(self._first_ctx()).asnumpy()
        return table(self.user_embedding).asnumpy() + \
            self._sets_or_fail().all_sums(y).astype(np.float32)
