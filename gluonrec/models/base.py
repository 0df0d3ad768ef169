"""What every gluonrec model shares: id embeddings, factors, config, constraints."""
import contextlib
import functools
import inspect
import weakref

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


def _plain(value):
    """A constructor argument as JSON would give it back: tuples as lists, numpy
    scalars as Python numbers (so a config compares equal after a save and a load)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _capturing(init):
    """Wrap a model's ``__init__`` so that the outermost call records its arguments
    (defaults applied) as ``self.config``: what ``save_model`` writes and ``get_model``
    rebuilds the model from."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        outermost = not getattr(self, '_in_init', False)
        if outermost:
            object.__setattr__(self, '_in_init', True)
        try:
            init(self, *args, **kwargs)
        finally:
            if outermost:
                object.__setattr__(self, '_in_init', False)
        if outermost:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            config = {}
            for name, value in list(bound.arguments.items())[1:]:
                kind = signature.parameters[name].kind
                if kind is inspect.Parameter.VAR_POSITIONAL:
                    if value:
                        raise TypeError(f'{type(self).__name__}: positional arguments '
                                        f'beyond the named ones ({value!r}) cannot be '
                                        'saved; give them names')
                elif kind is inspect.Parameter.VAR_KEYWORD:
                    config.update(value)
                else:
                    config[name] = value
            for gluon_only in ('prefix', 'params'):  # Block's own, not the model's
                config.pop(gluon_only, None)
            self.config = _plain(config)
    return __init__


def check_positive_int(name, value):
    """Raise ValueError unless ``value`` is a positive integer."""
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}')


class RecModel(gluon.HybridBlock):
    """Base of the models, built-in and a researcher's own: the contract in one place.

    A model subclasses this and writes ``__init__`` and ``hybrid_forward(F, user, item,
    ...)``, which maps int id batches of shape (batch,) to scores of shape (batch,).
    Everything else the package does with a model (train, save and load, fold new
    users in, recommend, find similar items) works from what the base class finds:

    - **Constructor arguments** are recorded as ``config`` when the outermost
      ``__init__`` returns (defaults filled in); ``save_model`` writes them, so they
      must be JSON values (checked at save time, naming the argument), and
      ``get_model(name, **config)`` rebuilds the model.
    - **Tables looked up by id** (``embedding_tables``): every table made with
      ``self.embedding('user' | 'item', width)``, the base's ``user_embedding`` and
      ``item_embedding`` among them, and any other ``gluon.nn.Embedding`` in the model
      with ``num_users`` or ``num_items`` rows. Training adds ``reg`` times the squared
      norm of the rows a batch uses (``penalty``); the per-user ones (``user_tables``)
      are what fold-in fits for a new user and what ``add_users`` extends.
    - **Training defaults** (``training_defaults``): settings a model declares for
      itself (``optimizer``, ``lr``, ``epochs``, ...), used by ``train_model``,
      ``RatingRegressor`` and the scripts where neither the caller nor a preset (which
      only built-in models have) gives one; see ``gluonrec.presets.resolve``.
      ``fused_training_defaults`` holds what differs on the fused engine, for the
      models it implements.
    - **Fold-in**: every model folds new users in by autograd on its user tables; one
      with a closed form defines ``fold_in_view`` in its own class.

    - **Ranking models** set ``task = 'ranking'`` and ``objective`` ('bpr' or 'bce'):
      ``train_model`` then trains them on positives with sampled negatives
      (``gluonrec.data.NegativeSampleIter``) and validates on NDCG@k; one with
      ``fold_in_positives`` folds new users in from their positives.

    Optional hooks, for the unusual case: ``constrain`` (a projection after every
    update), ``check_loaded``, ``attach_ratings`` (models that read the training
    ratings), ``score_matrix``, ``biases``, ``user_factors`` / ``item_factors``,
    ``embedding_tables`` / ``user_tables`` / ``penalty``.

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
    #: Training settings this model declares for itself (keys of
    #: ``gluonrec.presets.TRAINING_KEYS``); the caller's and a preset's come first.
    training_defaults = {}
    #: What differs from ``training_defaults`` when the fused engine trains the model
    #: (one update per example, so other step sizes; only models the engine
    #: implements, ``gluonrec.train.fused.KINDS``, use it).
    fused_training_defaults = {}
    #: 'rating': the model predicts ratings (trained on a rating loss, validated by
    #: RMSE); 'ranking': it scores items for a user from implicit feedback (positives
    #: with sampled negatives, or a closed form), validated by NDCG@k, its scores not
    #: on a rating scale.
    task = 'rating'
    #: For a ranking model: the loss ``train_model`` trains it with by default ('bpr' or
    #: 'bce', ``gluonrec.train.objective.RANKING_LOSSES``), and the negatives sampled
    #: per positive.
    objective = None
    num_negatives = 1
    #: True for a model solved in closed form (``solve(user, item, weight, reg)`` on
    #: all the training data per epoch; the 'solver' engine): iALS, EASE.
    closed_form = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if '__init__' in vars(cls):
            cls.__init__ = _capturing(vars(cls)['__init__'])

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
        self._kinds = {}  # id(block) -> 'user' or 'item', for tables made by ``embedding``
        weight_init = _initializer(initializer, init_scale)
        self.user_embedding = self.embedding('user', user_factors, weight_init)
        self.item_embedding = self.embedding('item', item_factors, weight_init)
        self.config = {}

    def embedding(self, kind, dim, weight_initializer=None):
        """A new table with a row per user (``kind='user'``) or item ('item'), which
        the batch's ids look up: penalised in training, and (per user) fitted by fold-in
        and extended by ``add_users``. Assign it to an attribute of the model."""
        if kind not in ('user', 'item'):
            raise ValueError(f"kind must be 'user' or 'item', got {kind!r}")
        # Gluon's name scope, unless the caller is inside it already (it cannot nest).
        inside = getattr(gluon.block._BlockScope._current, 'value', None) is self._scope
        with contextlib.nullcontext() if inside else self.name_scope():
            block = make_embedding(self.num_users if kind == 'user' else self.num_items,
                                   dim, self.sparse_grad, self.row_sparse_weights,
                                   weight_initializer)
        self._kinds[id(block)] = kind
        return block

    def _id_tables(self):
        """(block, kind) of every table looked up by user or item id, in the order the
        model assigned them: those made by ``embedding``, and other embeddings with as
        many rows as there are users or items (see the class docstring)."""
        found, stack = [], list(self._children.values())
        while stack:
            block = stack.pop(0)
            block = block() if isinstance(block, weakref.ref) else block
            if not isinstance(block, (gluon.nn.Embedding, RowSparseEmbedding)):
                stack[:0] = list(block._children.values())
                continue
            kind = self._kinds.get(id(block))
            if kind is None:
                rows = block.weight.shape[0]
                kinds = [k for k, size in (('user', self.num_users),
                                           ('item', self.num_items)) if rows == size]
                if len(kinds) == 2:
                    raise ValueError(f'{type(self).__name__}: embedding {block.name} has '
                                     f'{rows} rows, as many as there are users and items; '
                                     "make it with self.embedding('user' or 'item', width) "
                                     'so that gluonrec knows which')
                kind = kinds[0] if kinds else None
            if kind is not None:
                found.append((block, kind))
        return found

    def embedding_tables(self):
        """(block, 'user' or 'item') for each table a batch looks rows up in, which the
        L2 penalty covers: every table ``_id_tables`` finds."""
        return self._id_tables()

    def user_tables(self):
        """Every table with a row per user (in use or not), which fold-in fits for new
        users and ``add_users`` extends."""
        return [block for block, kind in self._id_tables() if kind == 'user']

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

    def item_penalty(self, F, item):
        """Per-example squared L2 norm of the item-side rows ``item`` uses, shape
        (batch,): what a ranking loss adds for each sampled negative item."""
        terms = [F.sum(F.square(block(item)), axis=-1)
                 for block, kind in self.embedding_tables() if kind == 'item']
        return F.add_n(*terms) if len(terms) > 1 else terms[0]

    def attach_ratings(self, train, scaler=None):
        """Give the model the training ``Ratings`` (and the scaler it trains with) where
        it reads them (``uses_ratings``); a no-op for the factor models."""

    def fold_in_view(self, index, inner, scaled, count, item_side):
        """A new user's prediction as a linear function of that user's own rows, for
        ``gluonrec.foldin``'s closed form; defined by a model's own class (one that only
        inherits it is folded in by autograd, as its changes may break the view).

        Parameters
        ----------
        index, inner : numpy.ndarray of int, shape (n,)
            Each rating's new user (0..count-1) and inner item.
        scaled : numpy.ndarray, shape (n,)
            The ratings, scaled as in training.
        count : int
        item_side : (factors, global bias, item biases)
            ``Recommender.item_side()``: float64 item factors (num_items, k), and the
            biases (None without them).

        Returns
        -------
        (design (n, d), offset (n,), split, free)
            The prediction of rating r is ``design[r] @ theta[index[r]] + offset[r]``;
            ``split(theta (count, d))`` gives the rows of each user table; ``free``
            marks the columns a non-negative model leaves unconstrained (None: no
            constraint).
        """
        raise NotImplementedError(f'{type(self).__name__} has no closed-form fold-in')

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
