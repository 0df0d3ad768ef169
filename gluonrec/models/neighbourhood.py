"""Models that read the training ratings themselves (SVD++, AutoRec): the sparse sums.

Both need, for a batch of ids, a weighted sum of table rows over a variable-length set
(the items a user rated; the users who rated an item). ``RowSets`` holds those sets as
a CSR matrix and computes the sums for a batch at once, one sparse-dense product whose
gradient is row_sparse (such tables always have row_sparse gradients: a batch touches
only the rows in its sets). Such models run imperatively (no hybridize): each batch has
its own sparse structure.
"""
import numpy as np
import scipy.sparse as sp

from .._compat import mx

__all__ = ['RowSets', 'ReadsRatings', 'spread_penalty', 'weighted_norms']


def spread_penalty(per_row, table, batch, sparse_grad=True):
    """``sum_j per_row[j] * |table[j]|^2`` spread evenly over ``batch`` entries, as a
    (batch,) NDArray (a training objective only ever sums it): the L2 penalty of table
    rows used ``per_row`` times (numpy weights, one per row). Each row with a weight is
    gathered once, by an embedding lookup (row_sparse gradient unless ``sparse_grad``
    is False, for a table whose gradient is dense)."""
    ctx = table.context
    used = np.flatnonzero(per_row)
    if not len(used):
        return mx.nd.zeros((batch,), ctx=ctx)
    rows = mx.nd.Embedding(mx.nd.array(used, ctx=ctx, dtype=np.int32), table,
                           input_dim=table.shape[0], output_dim=table.shape[1],
                           sparse_grad=sparse_grad)
    return weighted_norms(per_row[used], rows, batch)


def weighted_norms(weights, rows, batch):
    """``sum_j weights[j] * |rows[j]|^2`` (numpy weights, NDArray rows) spread evenly
    over ``batch`` entries. The squared norms and their weighted sum are two products:
    MKL-DNN's FullyConnected takes a fraction of the time MXNet's broadcast and
    reduction take on a table this size on a CPU."""
    ctx = rows.context
    norms = mx.nd.FullyConnected(mx.nd.square(rows), mx.nd.ones((1, rows.shape[1]), ctx=ctx),
                                 no_bias=True, num_hidden=1)
    total = mx.nd.dot(mx.nd.array(np.reshape(weights, (1, -1)), ctx=ctx), norms)
    return mx.nd.broadcast_to(total.reshape((1,)) / batch, (batch,))


class RowSets:
    """Weighted sets of table rows, one set per id: a (num_ids, num_rows) CSR matrix.

    Parameters
    ----------
    matrix : scipy.sparse matrix (num_ids, num_rows)
        Row ``i`` lists the rows of set ``i`` and their weights.
    """

    def __init__(self, matrix):
        self.matrix = sp.csr_matrix(matrix, dtype=np.float32)
        self.matrix.sort_indices()

    @classmethod
    def normalised(cls, ids, members, num_ids, num_rows, values=None, power=0.5):
        """Sets from (id, member) pairs, weights ``values`` (default 1) times
        ``|set|^-power`` (SVD++'s ``|N(u)|^-1/2``)."""
        values = np.ones(len(ids), dtype=np.float64) if values is None else \
            np.asarray(values, dtype=np.float64)
        matrix = sp.csr_matrix((values, (ids, members)), shape=(num_ids, num_rows))
        matrix.sum_duplicates()
        sizes = np.diff(matrix.indptr)
        scale = np.zeros(num_ids)
        scale[sizes > 0] = sizes[sizes > 0] ** -float(power)
        return cls(sp.diags(scale) @ matrix)

    def __len__(self):
        return self.matrix.shape[0]

    def _block(self, ids):
        # Forward and penalty of one step look up the same batch: computed once. The
        # cache holds the ids array itself, so an ``is`` test cannot mistake another.
        cached = getattr(self, '_last', None)
        if cached is not None and cached[0] is ids:
            return cached[1]
        found = self._lookup(ids)
        self._last = (ids, found)
        return found

    def _lookup(self, ids):
        batch = ids.asnumpy().astype(np.int64)
        if len(batch) and (batch.min() < 0 or batch.max() >= len(self)):
            raise IndexError(f'ids must lie in [0, {len(self)}), got [{batch.min()}, '
                             f'{batch.max()}]')
        unique, inverse = np.unique(batch, return_inverse=True)
        return unique, inverse, self.matrix[unique]

    def unique_sums(self, ids, table):
        """For int NDArray ``ids`` (batch,): the sums of each distinct id once, ``(sums
        (distinct ids, width), back (batch,) int32)`` with ``take(sums, back)`` the sums
        in batch order. One sparse (distinct ids x rows) product with the table, whose
        gradient is row_sparse when the table's ``grad_stype`` is."""
        ctx = table.context
        unique, inverse, block = self._block(ids)
        weights = mx.nd.sparse.csr_matrix((block.data, block.indices, block.indptr),
                                          shape=block.shape, ctx=ctx)
        return mx.nd.sparse.dot(weights, table), mx.nd.array(inverse, ctx=ctx,
                                                               dtype=np.int32)

    def sums(self, ids, table):
        """For int NDArray ``ids`` (batch,): sum_j w_ij * table[j] over each id's set,
        (batch, width); see ``unique_sums``."""
        summed, back = self.unique_sums(ids, table)
        return mx.nd.take(summed, back)

    def penalty(self, ids, table):
        """sum over the batch of sum_j w_ij^2 * |table[j]|^2, spread evenly over the
        batch as a (batch,) vector: the L2 penalty of the rows the batch's sums used (a
        training objective only ever sums it; see ``spread_penalty``)."""
        unique, inverse, block = self._block(ids)
        uses = np.bincount(inverse, minlength=len(unique))  # repeats of each id
        weight = (block.data.astype(np.float64) ** 2) * np.repeat(uses, np.diff(block.indptr))
        # Each table row once, with the summed weight of all its uses in the batch.
        per_row = np.bincount(block.indices, weights=weight, minlength=table.shape[0])
        return spread_penalty(per_row, table, len(inverse))

    def all_sums(self, table):
        """The sums for every id, (num_ids, width), numpy (no gradient)."""
        return np.asarray(self.matrix @ table)


class ReadsRatings:
    """Mixin (listed before the ``RecModel`` base) for the models that read the training
    ratings besides their parameters: the flags, the no-op ``hybridize``, and the checks
    every such model makes."""

    hybridizable = False
    uses_ratings = True

    def hybridize(self, active=True, **kwargs):
        """A no-op: each batch has its own sparse structure, so this model runs
        imperatively."""

    def _check_ratings(self, train):
        if train.num_users != self.num_users or train.num_items != self.num_items:
            raise ValueError(f'{type(self).__name__}: the ratings have {train.num_users} '
                             f'users / {train.num_items} items, the model '
                             f'{self.num_users} / {self.num_items}')

    def _attached(self, value):
        """``value`` (what ``attach_ratings`` built), or a clear error without it."""
        if value is None:
            raise RuntimeError(f'{type(self).__name__} reads the training ratings: call '
                               'net.attach_ratings(train, scaler) before using it '
                               '(train_model and load_model do)')
        return value

    def _imperative(self, F):
        if F is not mx.nd:
            raise RuntimeError(f'{type(self).__name__} runs imperatively and cannot be '
                               'hybridized')
