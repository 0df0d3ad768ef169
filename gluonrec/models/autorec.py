"""AutoRec: a one-hidden-layer autoencoder over each item's (or user's) ratings."""
import numpy as np

from .._compat import mx
from mxnet import init

from .base import RecModel, _initializer, check_positive_int, table
from .neighbourhood import ReadsRatings, RowSets, spread_penalty, weighted_norms

__all__ = ['AutoRec']

_ACTIVATIONS = ('sigmoid', 'tanh', 'relu', 'softrelu')

#: The dense path's limit on a batch's dense blocks (its rows x the columns they touch,
#: in entries; 2^24 is 64 MiB of float32): a batch above it takes the sparse path.
DENSE_LIMIT = 1 << 24


def _activate(name, x):
    return mx.nd.Activation(x, act_type=name)


class _Rows:
    """One of AutoRec's weight matrices seen as a table with a row per user (what
    ``user_tables`` lists for fold-in): ``weight`` and an embedding lookup."""

    def __init__(self, param):
        self.weight = param

    def __call__(self, ids):
        data = self.weight.data(ids.context)
        return mx.nd.Embedding(ids, data, input_dim=data.shape[0], output_dim=data.shape[1])


class AutoRec(ReadsRatings, RecModel):
    r"""AutoRec, item-based (I-AutoRec, default) or user-based (U-AutoRec).

    I-AutoRec encodes item i from its vector of training ratings
    :math:`r_i \in R^{users}` (unobserved entries 0) and decodes every user's rating:
    :math:`h_i = g(V^\top r_i + \mu)`, :math:`\hat r_{ui} = W_u^\top h_i + b_u + c_i`.
    U-AutoRec swaps users and items. Sedhain, Menon, Sanner and Xie, "AutoRec:
    Autoencoders Meet Collaborative Filtering", WWW 2015 (eq. 2; the item bias ``c_i``
    is added here, initialised at zero).

    Trained on observed ratings only, on batches of whole rows (``batch_rows``:
    ``train_model`` builds a ``RowIter``, ``batch_size`` rows a batch): a row's code is
    computed once per batch from a sparse (rows x users) matrix of its training ratings,
    never a dense one, so ml-20m fits, and the row is scored on each of its ratings.
    Any batches of ratings train it too (``fit`` with a ``RatingIter``: each rating then
    encodes its whole row); they cost more per rating. The L2 penalty of a rating
    covers the decoder and encoder rows of its user (I-AutoRec; its item for U-AutoRec)
    and both biases, so rows are penalised as often as they are used, as the factor
    models' are.

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
    dropout : float
        Dropout on the codes while training (0: none, as in the paper).
    dense : bool
        How a batch is computed (the objective, the gradients and which rows the
        optimizer updates are the same either way; tested). Dense: the encoder rows of
        the columns the batch's rows touch, and the decoder rows of the batch's ratings,
        are gathered once each, and the codes come from two dense matrix products over
        those blocks, the ratings' scores being picked from the second (MKL-DNN's
        ``FullyConnected``: several times faster on a CPU). Sparse: a sparse product
        for the codes and one decoder row gathered per rating. A batch whose dense
        blocks would exceed ``DENSE_LIMIT`` entries takes the sparse path.
    sparse_grad, initializer, init_scale : as in ``RecModel``.
    """

    feature_range = (0.2, 1.0)

    def __init__(self, num_users, num_items, num_factors=500, user_based=False,
                 activation='sigmoid', dropout=0.0, sparse_grad=False, initializer='normal',
                 init_scale=0.03, row_sparse_weights=False, dense=True, **kwargs):
        check_positive_int('num_factors', num_factors)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must lie in [0, 1), got {dropout}')
        if row_sparse_weights:
            raise ValueError('autorec does not support row_sparse_weights=True')
        if activation not in _ACTIVATIONS:
            raise ValueError(f'activation must be one of {_ACTIVATIONS}, got {activation!r}')
        # The base's user and item tables, one wide, are the biases b_u and c_i.
        super().__init__(num_users, num_items, 1, 1, sparse_grad=sparse_grad,
                         initializer='normal', init_scale=1e-3, **kwargs)
        self.user_based, self.activation = bool(user_based), activation
        self.num_factors, self.dropout = int(num_factors), float(dropout)
        self.dense = bool(dense)
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
        self._inputs = None
        # I-AutoRec: the decoder's and encoder's rows are per user as well.
        self._user_rows = [] if self.user_based else [_Rows(self.decoder), _Rows(self.encoder)]

    @property
    def batch_rows(self):
        """Trained on whole rows: an item's ratings (I-AutoRec) or a user's."""
        return 'user' if self.user_based else 'item'

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

    def user_tables(self):
        """The user biases; for I-AutoRec also the decoder and encoder rows (one per
        user); for U-AutoRec a user's code comes from the ratings alone."""
        return super().user_tables() + self._user_rows

    def fold_in_view(self, index, inner, scaled, count, item_side):
        """I-AutoRec: ``[h_i, 1]`` (the item codes, fixed) after the item bias ``c_i``,
        for the user's decoder row and bias; the user's encoder row stays 0, so the item
        codes (and every other user's predictions) do not change. U-AutoRec: ``[1]``
        after ``W_i . h_u + c_i``, for the user's bias; the code ``h_u`` is the
        encoder's output on the ratings given."""
        factors = item_side[0]
        c = table(self.item_embedding).asnumpy()[:, 0].astype(np.float64)
        if self.user_based:
            codes = self.encode(index, inner, scaled, count)
            offset = np.einsum('nk,nk->n', factors[inner], codes[index]) + c[inner]
            return np.ones((len(inner), 1)), offset, \
                lambda w: {self.user_embedding: w}, None
        decoder_rows, encoder_rows = self._user_rows
        k = factors.shape[1]
        return np.hstack([factors[inner], np.ones((len(inner), 1))]), c[inner], \
            lambda w: {decoder_rows: w[:, :k], self.user_embedding: w[:, k:],
                       encoder_rows: np.zeros((count, k))}, None

    def _inputs_or_fail(self):
        return self._attached(self._inputs)

    def _sides(self, user, item):
        return (user, item) if self.user_based else (item, user)

    def hybrid_forward(self, F, user, item, encoder, encoder_bias, decoder):
        self._imperative(F)
        coded, decoded = self._sides(user, item)
        biases = F.reshape(self.user_embedding(user), (-1,)) + \
            F.reshape(self.item_embedding(item), (-1,))
        if self.dense:
            scores = self._dense_scores(F, coded, decoded, encoder, encoder_bias, decoder)
            if scores is not None:
                return scores + biases
        # Each distinct row of the batch is encoded once, then its code is read per
        # rating (a row batch holds a few rows and all their ratings).
        summed, back = self._inputs_or_fail().unique_sums(coded, encoder)
        code = _activate(self.activation, F.broadcast_add(summed, encoder_bias))
        if self.dropout:  # in training only (autograd's train mode)
            code = F.Dropout(code, p=self.dropout)
        code = F.take(code, back)
        rows = F.Embedding(decoded, decoder, input_dim=self._num_decoded,
                           output_dim=self.num_factors, sparse_grad=self.sparse_grad)
        return F.sum(rows * code, axis=-1) + biases

    def _dense_scores(self, F, coded, decoded, encoder, encoder_bias, decoder):
        """The dense path (see ``dense``), or None for a batch too large for it. The
        gathers are embedding lookups, so the tables' gradients stay what the sparse
        path gives (row_sparse, on the same rows)."""
        ctx = coded.context
        unique, inverse, block = self._inputs_or_fail()._block(coded)
        members, column = np.unique(block.indices, return_inverse=True)
        targets, target = np.unique(decoded.asnumpy().astype(np.int64), return_inverse=True)
        if len(unique) * (len(members) + len(targets)) > DENSE_LIMIT or not len(members):
            return None
        inputs = np.zeros((len(unique), len(members)), dtype=np.float32)
        inputs[np.repeat(np.arange(len(unique)), np.diff(block.indptr)), column] = block.data
        weights = F.Embedding(mx.nd.array(members, ctx=ctx), encoder,
                              input_dim=self._num_decoded, output_dim=self.num_factors,
                              sparse_grad=True)
        code = _activate(self.activation, F.FullyConnected(
            mx.nd.array(inputs, ctx=ctx), F.transpose(weights), encoder_bias,
            num_hidden=self.num_factors))
        if self.dropout:
            code = F.Dropout(code, p=self.dropout)
        rows = F.Embedding(mx.nd.array(targets, ctx=ctx), decoder,
                           input_dim=self._num_decoded, output_dim=self.num_factors,
                           sparse_grad=self.sparse_grad)
        out = F.FullyConnected(code, rows, no_bias=True, num_hidden=len(targets))
        where = mx.nd.array(np.stack([inverse, target]), ctx=ctx, dtype=np.int32)
        # The penalty of this batch (``penalty``, called next by the objective) reads
        # these rows instead of gathering them again: the decoder rows are the batch's
        # targets; the encoder rows are too when the members are (whole training rows).
        self._gathered = (decoded, targets, np.bincount(target), rows,
                          weights if np.array_equal(members, targets) else None)
        return F.gather_nd(out, where)

    def penalty(self, F, user, item):
        ctx = user.context
        decoded_ids = self._sides(user, item)[1]
        gathered = getattr(self, '_gathered', None)
        if gathered is not None and gathered[0] is decoded_ids:
            _, targets, uses, rows, weights = gathered
            self._gathered = None  # read once: the next call gathers afresh
            batch = len(decoded_ids)
            encoder = weighted_norms(uses, weights, batch) if weights is not None else \
                spread_penalty(np.bincount(targets, uses, self._num_decoded),
                               self.encoder.data(ctx), batch)
            return super().penalty(F, user, item) + weighted_norms(uses, rows, batch) + \
                encoder
        decoded = decoded_ids.asnumpy().astype(np.int64)
        uses = np.bincount(decoded, minlength=self._num_decoded)
        return super().penalty(F, user, item) + \
            spread_penalty(uses, self.decoder.data(ctx), len(decoded), self.sparse_grad) + \
            spread_penalty(uses, self.encoder.data(ctx), len(decoded))

    def encode(self, rows, members, values, count):
        """Codes of ``count`` rows that are not (yet) in the model (U-AutoRec: new
        users) from their (row 0..count-1, member, scaled rating) triples: numpy
        (count, num_factors), as the encoder computes them for a training row."""
        inputs = RowSets.normalised(np.asarray(rows), np.asarray(members), count,
                                    self._num_decoded, values=values, power=0)
        return self._codes(inputs).astype(np.float64)

    def _codes(self, inputs=None):
        """The codes of every row of ``inputs`` (default: the training rows), numpy."""
        ctx = self._first_ctx()
        inputs = self._inputs_or_fail() if inputs is None else inputs
        summed = inputs.all_sums(self.encoder.data(ctx).asnumpy())
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
        """Scores of every (user, item) pair: codes times decoder rows plus the biases,
        in one product (equal to ``forward``)."""
        users = np.asarray(users)
        items = np.arange(self.num_items) if items is None else np.asarray(items)
        p, q = self.user_factors()[users], self.item_factors()[items]
        bu = table(self.user_embedding).asnumpy()[users, 0]
        bi = table(self.item_embedding).asnumpy()[items, 0]
        return p @ q.T + bu[:, None] + bi[None, :]
