"""What every gluonrec model shares: id embeddings, factors, config, constraints."""
import numpy as np

from .._compat import mx
from mxnet import gluon, init

__all__ = ['RecModel', 'RowSparseEmbedding', 'check_positive_int', 'dense_data',
           'make_embedding', 'table']


def _initializer(name, scale):
    if name == 'normal':
        return init.Normal(scale)
    if name == 'uniform':
        return init.Uniform(scale)
    if name == 'xavier':
        return init.Xavier()
    raise ValueError(f"initializer must be 'normal', 'uniform' or 'xavier', got {name!r}")


class RowSparseEmbedding(gluon.HybridBlock):
    """An embedding table stored as row_sparse, for parameter-server training.

    Its forward pulls only the rows a batch uses (``Parameter.row_sparse_data``), so a
    distributed job moves rows touched, not whole tables, in both directions. It runs
    imperatively only: a model holding one cannot be hybridized.
    """

    def __init__(self, input_dim, output_dim, weight_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.weight = self.params.get('weight', shape=(input_dim, output_dim),
                                      init=weight_initializer, stype='row_sparse',
                                      grad_stype='row_sparse')

    def forward(self, x):
        if not isinstance(x, mx.nd.NDArray):
            raise RuntimeError('a model with row_sparse_weights=True cannot be hybridized')
        weight = self.weight.row_sparse_data(x)
        return mx.nd.Embedding(x, weight, input_dim=self.input_dim,
                               output_dim=self.output_dim, sparse_grad=True)

    def table(self):
        """The whole table as a dense NDArray (pulled from the kvstore when training)."""
        ctx = self.weight.list_ctx()[0]
        rows = mx.nd.arange(self.input_dim, ctx=ctx)
        return self.weight.row_sparse_data(rows).tostype('default')


def make_embedding(num, dim, sparse_grad, row_sparse_weights, weight_initializer):
    """nn.Embedding, or a RowSparseEmbedding for parameter-server training."""
    if row_sparse_weights:
        return RowSparseEmbedding(num, dim, weight_initializer=weight_initializer)
    return gluon.nn.Embedding(num, dim, sparse_grad=sparse_grad,
                              weight_initializer=weight_initializer)


def dense_data(param, ctx):
    """A parameter's whole value as a dense NDArray on ``ctx`` (row_sparse ones pulled
    in full, as from a kvstore)."""
    if param._stype == 'row_sparse':
        return param.row_sparse_data(mx.nd.arange(param.shape[0], ctx=ctx)) \
            .tostype('default')
    return param.data(ctx)


def table(block):
    """The dense weight matrix of an embedding block, as an NDArray."""
    if isinstance(block, RowSparseEmbedding):
        return block.table()
    return block.weight.data(block.weight.list_ctx()[0])


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
    row_sparse_weights : bool
        Store the tables as row_sparse too (``RowSparseEmbedding``; implies sparse
        gradients), for parameter-server training where workers then push and pull only
        the rows a batch touches. Such a model runs imperatively (no hybridize).
    initializer : {'normal', 'uniform', 'xavier'}
    init_scale : float
        Standard deviation ('normal') or half-width ('uniform') of the embeddings.
    """

    #: The range ratings should be scaled to for this model (see MinMaxScaler).
    feature_range = (-1.0, 1.0)
    #: True when ``constrain`` projects the parameters after every update; the trainer
    #: then keeps the update where the projection can act (on the worker, not on a
    #: parameter server), and the scripts train such a model with dense gradients there.
    constrained = False
    #: False for a model that runs imperatively only (its ``hybridize`` is a no-op).
    hybridizable = True
    #: True for a model that reads the training ratings (``attach_ratings``) besides
    #: its parameters: SVD++'s rated sets, AutoRec's input vectors.
    uses_ratings = False
    #: None: trained on batches of ratings (``RatingIter``); 'item' or 'user': on
    #: batches of whole rows (``RowIter``), what ``train_model`` then builds, with
    #: ``batch_size`` counting rows.
    batch_rows = None

    def __init__(self, num_users, num_items, user_factors, item_factors, sparse_grad=False,
                 initializer='normal', init_scale=0.1, row_sparse_weights=False, **kwargs):
        super().__init__(**kwargs)
        for name, value in (('num_users', num_users), ('num_items', num_items),
                            ('user_factors', user_factors), ('item_factors', item_factors)):
            check_positive_int(name, value)
        if init_scale <= 0:
            raise ValueError(f'init_scale must be > 0, got {init_scale}')
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.row_sparse_weights = bool(row_sparse_weights)
        self.sparse_grad = bool(sparse_grad) or self.row_sparse_weights
        weight_init = _initializer(initializer, init_scale)
        with self.name_scope():
            self.user_embedding = self._embedding(num_users, user_factors, weight_init)
            self.item_embedding = self._embedding(num_items, item_factors, weight_init)
        self.config = {}

    def _embedding(self, num, dim, weight_initializer):
        return make_embedding(num, dim, self.sparse_grad, self.row_sparse_weights,
                              weight_initializer)

    def _set_config(self, **kwargs):
        """Record the constructor arguments (JSON-serialisable) to rebuild the model."""
        self.config = dict(kwargs, row_sparse_weights=self.row_sparse_weights)

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

    def attach_ratings(self, train, scaler=None):
        """Give the model the training ``Ratings`` (and the scaler it trains with) where
        it reads them (``uses_ratings``); a no-op for the factor models."""

    def user_tables(self):
        """Every embedding block with a row per user (in use or not), which fold-in fits
        for new users and ``add_users`` extends; a model with other per-user tables
        overrides it."""
        return [self.user_embedding]

    def constrain(self):
        """Project parameters back onto the feasible set after an update (no-op here;
        a subclass that overrides it sets ``constrained = True``)."""

    def check_loaded(self):
        """Raise ``ValueError`` when the parameters just loaded break what this model
        keeps true (``load_model`` calls it; MXNet has already checked their names and
        shapes). Nothing to check here; a model with constraints overrides it."""

    def biases(self):
        """(global bias, user biases (num_users,), item biases (num_items,)) as numpy,
        or None for a model without biases (the fallback predictions then use means)."""
        return None

    def user_factors(self):
        """The effective user embedding matrix, numpy (num_users, user_factors)."""
        return table(self.user_embedding).asnumpy()

    def item_factors(self):
        """The effective item embedding matrix, numpy (num_items, item_factors)."""
        return table(self.item_embedding).asnumpy()

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
