"""What every gluonrec model shares: id embeddings, factors, config, constraints."""
import numpy as np

from .._compat import mx
from mxnet import gluon, init

__all__ = ['RecModel', 'check_positive_int']


def _initializer(name, scale):
    if name == 'normal':
        return init.Normal(scale)
    if name == 'uniform':
        return init.Uniform(scale)
    if name == 'xavier':
        return init.Xavier()
    raise ValueError(f"initializer must be 'normal', 'uniform' or 'xavier', got {name!r}")


def check_positive_int(name, value):
    """Raise ValueError unless ``value`` is a positive integer."""
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}')


class RecModel(gluon.HybridBlock):
    """Base of the models: user and item embedding tables and their contract.

    Subclasses implement ``hybrid_forward(F, user, item, ...)`` mapping int id batches
    of shape (batch,) to scores of shape (batch,), and may override ``constrain``
    (a projection applied after every optimiser update) and ``score_matrix``.

    Parameters
    ----------
    num_users, num_items : int
        Table sizes (inner ids run over ``0..num_users-1`` and ``0..num_items-1``).
    user_factors, item_factors : int
        Embedding widths.
    sparse_grad : bool
        Give the embedding tables row_sparse gradients, so an update touches only the
        rows in the batch (with a lazy optimiser such as adam, sgd or adagrad).
    initializer : {'normal', 'uniform', 'xavier'}
    init_scale : float
        Standard deviation ('normal') or half-width ('uniform') of the embeddings.
    """

    #: The range ratings should be scaled to for this model (see MinMaxScaler).
    feature_range = (-1.0, 1.0)

    def __init__(self, num_users, num_items, user_factors, item_factors, sparse_grad=False,
                 initializer='normal', init_scale=0.1, **kwargs):
        super().__init__(**kwargs)
        for name, value in (('num_users', num_users), ('num_items', num_items),
                            ('user_factors', user_factors), ('item_factors', item_factors)):
            check_positive_int(name, value)
        if init_scale <= 0:
            raise ValueError(f'init_scale must be > 0, got {init_scale}')
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.sparse_grad = bool(sparse_grad)
        weight_init = _initializer(initializer, init_scale)
        with self.name_scope():
            self.user_embedding = gluon.nn.Embedding(num_users, user_factors,
                                                     sparse_grad=sparse_grad,
                                                     weight_initializer=weight_init)
            self.item_embedding = gluon.nn.Embedding(num_items, item_factors,
                                                     sparse_grad=sparse_grad,
                                                     weight_initializer=weight_init)
        self.config = {}

    def _set_config(self, **kwargs):
        """Record the constructor arguments (JSON-serialisable) to rebuild the model."""
        self.config = dict(kwargs)

    def embedding_tables(self):
        """(block, 'user' or 'item') for each table a batch looks rows up in."""
        return [(self.user_embedding, 'user'), (self.item_embedding, 'item')]

    def penalty(self, F, user, item):
        """Per-example squared L2 norm of the rows the batch uses, shape (batch,).

        ``F`` is ``mx.nd`` or ``mx.sym``, so the trainer can hybridize the loss with it.
        The trainer adds ``reg * penalty`` to the loss: L2 regularisation of the rows
        actually used, as Surprise's SVD does, which also works with row_sparse
        gradients where an optimiser's ``wd`` would not.
        """
        ids = {'user': user, 'item': item}
        terms = [F.sum(F.square(block(ids[kind])), axis=-1)
                 for block, kind in self.embedding_tables()]
        return F.add_n(*terms)

    def constrain(self):
        """Project parameters back onto the feasible set after an update (no-op here)."""

    def user_factors(self):
        """The effective user embedding matrix, numpy (num_users, user_factors)."""
        return self.user_embedding.weight.data(self._first_ctx()).asnumpy()

    def item_factors(self):
        """The effective item embedding matrix, numpy (num_items, item_factors)."""
        return self.item_embedding.weight.data(self._first_ctx()).asnumpy()

    def _first_ctx(self):
        return self.user_embedding.weight.list_ctx()[0]

    def score_matrix(self, users, items=None):
        """Scores of every (user, item) pair, shape (len(users), len(items)).

        Generic version: runs the network on the cross product. Models with a closed
        form (dot products) override it with a matrix product.
        """
        ctx = self._first_ctx()
        users = np.asarray(users, dtype=np.int32)
        items = np.arange(self.num_items, dtype=np.int32) if items is None else \
            np.asarray(items, dtype=np.int32)
        u = mx.nd.array(np.repeat(users, len(items)), ctx=ctx, dtype=np.int32)
        i = mx.nd.array(np.tile(items, len(users)), ctx=ctx, dtype=np.int32)
        return self(u, i).asnumpy().reshape(len(users), len(items))
