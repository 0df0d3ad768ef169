"""A multi-layer perceptron over concatenated user and item embeddings."""
from .._compat import mx  # noqa: F401  (numpy aliases before mxnet)
from mxnet import gluon

from .base import RecModel, check_positive_int

__all__ = ['MLPRecommender']

_ACTIVATIONS = ('relu', 'sigmoid', 'tanh', 'softrelu', 'softsign')


class MLPRecommender(RecModel):
    r"""MLP on :math:`[p_u; q_i]`: dropout, Dense layers, one linear output.

    The "deep" model of the Keras MovieLens notebooks; He et al., "Neural
    Collaborative Filtering", WWW 2017 (the MLP branch).

    Parameters
    ----------
    num_users, num_items : int
    num_factors : int
        Embedding width for users and items unless given apart.
    user_factors, item_factors : int, optional
        Separate widths (the Keras notebook used 5 and 8).
    hidden : sequence of int
        Sizes of the hidden Dense layers.
    activation : str
        One of 'relu', 'sigmoid', 'tanh', 'softrelu', 'softsign'.
    dropout : float
        Dropout on the concatenated embeddings and after each hidden layer.
    sparse_grad, initializer, init_scale : as in ``RecModel``.
    """

    def __init__(self, num_users, num_items, num_factors=16, user_factors=None,
                 item_factors=None, hidden=(64, 32), activation='relu', dropout=0.0,
                 sparse_grad=False, initializer='normal', init_scale=0.1,
                 row_sparse_weights=False, **kwargs):
        check_positive_int('num_factors', num_factors)
        user_factors = int(user_factors or num_factors)
        item_factors = int(item_factors or num_factors)
        super().__init__(num_users, num_items, user_factors, item_factors,
                         sparse_grad=sparse_grad, initializer=initializer,
                         init_scale=init_scale, row_sparse_weights=row_sparse_weights,
                         **kwargs)
        if activation not in _ACTIVATIONS:
            raise ValueError(f'activation must be one of {_ACTIVATIONS}, got {activation!r}')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must lie in [0, 1), got {dropout}')
        hidden = [int(size) for size in hidden]
        if any(size < 1 for size in hidden):
            raise ValueError(f'hidden sizes must be positive, got {hidden}')
        with self.name_scope():
            self.body = gluon.nn.HybridSequential()
            if dropout:
                self.body.add(gluon.nn.Dropout(dropout))
            for size in hidden:
                self.body.add(gluon.nn.Dense(size, activation=activation))
                if dropout:
                    self.body.add(gluon.nn.Dropout(dropout))
            self.body.add(gluon.nn.Dense(1))
        self.num_factors = int(num_factors)

    def hybrid_forward(self, F, user, item):
        features = F.concat(self.user_embedding(user), self.item_embedding(item), dim=-1)
        return F.reshape(self.body(features), (-1,))
