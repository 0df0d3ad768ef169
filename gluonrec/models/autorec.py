"""AutoRec: a one-hidden-layer autoencoder over each item's (or user's) ratings."""
import numpy as np

from .._compat import mx
from mxnet import init

from .base import RecModel, _initializer, check_positive_int, table
from .neighbourhood import ReadsRatings, RowSets

__all__ = ['AutoRec']

_ACTIVATIONS = ('sigmoid', 'tanh', 'relu', 'softrelu')


def _activate(name, x):
    return mx.nd.Activation(x, act_type=name)


class AutoRec(ReadsRatings, RecModel):
    r"""AutoRec, item-based (I-AutoRec, default) or user-based (U-AutoRec).

    I-AutoRec encodes item i from its vector of training ratings
    :math:`r_i \in R^{users}` (unobserved entries 0) and decodes every user's rating:
    :math:`h_i = g(V^\top r_i + \mu)`, :math:`\hat r_{ui} = W_u^\top h_i + b_u + c_i`.
    U-AutoRec swaps users and items. Sedhain, Menon, Sanner and Xie, "AutoRec:
    Autoencoders Meet Collaborative Filtering", WWW 2015 (eq. 2; the per-rating
    biases ``b_u``, ``c_i`` are added here, initialised at zero).

    Trained on observed ratings only, one rating at a time as every model here: a
    batch's codes :math:`h_i` are computed for its items at once from a sparse (items x
    users) matrix of the training ratings, never a dense one, so ml-20m fits. The
    rating being predicted is left out of its own input (the code of item i for user u
    comes from the other users' ratings of i), so the network cannot learn to copy its
    input and a training pair is seen as a held-out one is. The L2
    penalty of a rating covers the decoder row and biases it uses and the mean squared
    norm of the encoder rows its code used.

    Item similarity uses the codes :math:`h_i` (``item_factors``, I-AutoRec) or the
    decoder's item rows (U-AutoRec). Ratings are scaled to (0.2, 1) so that 0 means "not
    rated" in the input. Reads the training ratings (``attach_ratings``, which
    ``train_model`` and ``load_model`` call); runs imperatively.

    Parameters
    ----------
    num_users, num_items : int
    num_factors : int
        Width of the hidden layer (500 in the paper).
    user_based : bool
        U-AutoRec instead of I-AutoRec.
    activation : {'sigmoid', 'tanh', 'relu', 'softrelu'}
        The encoder's nonlinearity (the decoder is linear, as in the paper).
    sparse_grad, initializer, init_scale : as in ``RecModel``.
    """

    feature_range = (0.2, 1.0)

    def __init__(self, num_users, num_items, num_factors=500, user_based=False,
                 activation='sigmoid', sparse_grad=False, initializer='normal',
                 init_scale=0.03, row_sparse_weights=False, **kwargs):
        check_positive_int('num_factors', num_factors)
        if row_sparse_weights:
            raise ValueError('autorec does not support row_sparse_weights=True')
        if activation not in _ACTIVATIONS:
            raise ValueError(f'activation must be one of {_ACTIVATIONS}, got {activation!r}')
        # The base's user and item tables, one wide, are the biases b_u and c_i.
        super().__init__(num_users, num_items, 1, 1, sparse_grad=sparse_grad,
                         initializer='normal', init_scale=1e-3, **kwargs)
        self.user_based, self.activation = bool(user_based), activation
        self.num_factors = int(num_factors)
        # "coded": the side whose rating vectors are encoded (items for I-AutoRec);
        # "decoded": the side indexed by the output (users for I-AutoRec).
        coded, decoded = (num_users, num_items) if self.user_based else (num_items, num_users)
        self._num_coded, self._num_decoded = coded, decoded
        weight_init = _initializer(initializer, init_scale)
        stype = 'row_sparse' if self.sparse_grad else 'default'
        with self.name_scope():
            self.encoder = self.params.get('encoder', shape=(decoded, self.num_factors),
                                           init=weight_init, grad_stype='row_sparse')
            self.encoder_bias = self.params.get('encoder_bias', shape=(self.num_factors,),
                                                init=init.Zero())
            self.decoder = self.params.get('decoder', shape=(decoded, self.num_factors),
                                           init=weight_init, grad_stype=stype)
        for block in (self.user_embedding, self.item_embedding):
            block.weight.init = init.Zero()
        self._inputs = self._penalty_sets = None
        self._set_config(num_users=self.num_users, num_items=self.num_items,
                         num_factors=self.num_factors, user_based=self.user_based,
                         activation=activation, sparse_grad=self.sparse_grad,
                         initializer=initializer, init_scale=float(init_scale))

    def attach_ratings(self, train, scaler=None):
        """The encoder's inputs: the training ratings, scaled as the labels are."""
        self._check_ratings(train)
        if scaler is None:
            raise ValueError('autorec needs the scaler the model trains with, to scale its '
                             'inputs as the labels are')
        values = scaler.transform(train.rating)
        coded, decoded = (train.user, train.item) if self.user_based else \
            (train.item, train.user)
        self._inputs = RowSets.normalised(coded, decoded, self._num_coded,
                                          self._num_decoded, values=values, power=0)
        self._penalty_sets = RowSets.normalised(coded, decoded, self._num_coded,
                                                self._num_decoded)

    def _inputs_or_fail(self):
        return self._attached(self._inputs)

    def _sides(self, user, item):
        return (user, item) if self.user_based else (item, user)

    def hybrid_forward(self, F, user, item, encoder, encoder_bias, decoder):
        self._imperative(F)
        coded, decoded = self._sides(user, item)
        inputs = self._inputs_or_fail()
        # Leave the rating being predicted out of its own input: the code of item i for
        # user u is built from the other users' ratings of i, so the network cannot
        # learn to copy its input, and a training pair is predicted as a held-out one.
        own = mx.nd.array(inputs.values(coded, decoded), ctx=user.context)
        mine = F.Embedding(decoded, encoder, input_dim=self._num_decoded,
                           output_dim=self.num_factors, sparse_grad=True)
        code = _activate(self.activation, F.broadcast_add(
            inputs.sums(coded, encoder) - F.broadcast_mul(own.reshape((-1, 1)), mine),
            encoder_bias))
        rows = F.Embedding(decoded, decoder, input_dim=self._num_decoded,
                           output_dim=self.num_factors, sparse_grad=self.sparse_grad)
        biases = F.reshape(self.user_embedding(user), (-1,)) + \
            F.reshape(self.item_embedding(item), (-1,))
        return F.sum(rows * code, axis=-1) + biases

    def penalty(self, F, user, item):
        coded, decoded = self._sides(user, item)
        ctx = user.context
        rows = F.Embedding(decoded, self.decoder.data(ctx), input_dim=self._num_decoded,
                           output_dim=self.num_factors, sparse_grad=self.sparse_grad)
        encoder_rows = self._penalty_sets.penalty(coded, self.encoder.data(ctx))
        return super().penalty(F, user, item) + F.sum(F.square(rows), axis=-1) + encoder_rows

    def _codes(self):
        ctx = self._first_ctx()
        summed = self._inputs_or_fail().all_sums(self.encoder.data(ctx).asnumpy())
        hidden = mx.nd.array(summed, ctx=ctx) + self.encoder_bias.data(ctx)
        return _activate(self.activation, hidden).asnumpy()

    def user_factors(self):
        """U-AutoRec: each user's code; I-AutoRec: the decoder's user rows."""
        return self._codes() if self.user_based else \
            self.decoder.data(self._first_ctx()).asnumpy()

    def item_factors(self):
        """I-AutoRec: each item's code (what item similarity compares); U-AutoRec: the
        decoder's item rows."""
        return self.decoder.data(self._first_ctx()).asnumpy() if self.user_based else \
            self._codes()

    def score_matrix(self, users, items=None):
        """Scores of every (user, item) pair: codes times decoder rows, in one product;
        the training pairs among them, whose own rating leaves their input, through the
        forward pass (so the matrix equals ``forward`` everywhere)."""
        users = np.asarray(users)
        items = np.arange(self.num_items) if items is None else np.asarray(items)
        p, q = self.user_factors()[users], self.item_factors()[items]
        bu = table(self.user_embedding).asnumpy()[users, 0]
        bi = table(self.item_embedding).asnumpy()[items, 0]
        scores = p @ q.T + bu[:, None] + bi[None, :]
        matrix = self._inputs_or_fail().matrix
        coded = matrix.T.tocsr() if not self.user_based else matrix  # (users, items)
        observed = coded[users][:, items].tocoo()
        if observed.nnz:
            ctx = self._first_ctx()
            pred = self(mx.nd.array(users[observed.row], ctx=ctx, dtype=np.int32),
                        mx.nd.array(items[observed.col], ctx=ctx, dtype=np.int32))
            scores[observed.row, observed.col] = pred.asnumpy()
        return scores
