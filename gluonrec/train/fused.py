"""The fused engine: per-example SGD or Adagrad in one C++ op, for mf, biased_mf and nnmf
on ratings and for bpr_mf on (user, positive, negatives) from ``NegativeSampleIter``.

Each chunk the iterator yields is trained by one call of an operator in ``fused_mf.cc``
(built and loaded by ``native``), which updates the model's own parameter arrays in
place, one example after another (see that file for the exact update, the thread
schedule and why it is deterministic). The objective is the generic engine's: squared
error (BPR's loss for bpr_mf) plus ``reg`` times the squared norm of the rows used.
What differs is the step: one update per rating, not one per batch, so the same
``learning_rate`` means a much larger step here; the presets hold settings per engine.

``why_not(...)`` says why this engine cannot train a given setup (None when it can);
``fit(engine='auto')`` then falls back to the generic engine and logs that reason.
"""
import os

import numpy as np

from .._compat import mx
from ..distributed import is_distributed
from ..models import (BPRMF, BiasedMF, MatrixFactorization, NonNegativeMF, model_class,
                      model_names)
from . import native

__all__ = ['FusedEngine', 'EngineUnavailable', 'why_not', 'default_threads', 'KINDS',
           'OPTIMIZERS', 'describe']

#: Model classes the kernel implements (exact classes: a subclass may change the forward).
#: This and ``OPTIMIZERS`` are the one statement of what the engine takes: help texts
#: and messages read them (``describe``).
KINDS = (MatrixFactorization, BiasedMF, NonNegativeMF, BPRMF)
OPTIMIZERS = ('sgd', 'adagrad')
#: The loss each kind trains on.
LOSS = {BPRMF: 'bpr'}


def describe():
    """(registered names of the models, the optimizers) the fused engine trains, as
    text: ('mf, biased_mf, nnmf', 'sgd, adagrad')."""
    names = [name for name in model_names() if model_class(name) in KINDS]
    return ', '.join(names), ', '.join(OPTIMIZERS)
_EPS = 1e-7  # MXNet's Adagrad default


class EngineUnavailable(RuntimeError):
    """The fused engine cannot train this setup; the message says why."""


def default_threads():
    """``$GLUONREC_THREADS``, else the cores this process may use but one (that one
    shuffles the next epoch: ``RatingIter(prefetch=True)``), at least 1, at most 8."""
    value = os.environ.get('GLUONREC_THREADS')
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f'GLUONREC_THREADS must be a positive integer, got {value!r}')
        return int(value)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, 8))


def why_not(model_cls, ctxs=None, optimizer=None, optimizer_params=None, loss='l2',
            kvstore=None, row_sparse_weights=False, build=True):
    """Why the fused engine cannot train this setup, or None when it can.

    ``optimizer`` None means "not chosen yet" (a preset will pick one of ``OPTIMIZERS``).
    With ``build`` the operator library is built and loaded if needed.
    """
    if model_cls not in KINDS:
        return f'model {model_cls.__name__} is not one of {describe()[0]}'
    for ctx in ctxs or ():
        if ctx.device_type != 'cpu':
            return f'the context is {ctx}; the fused engine runs on CPU'
    if ctxs is not None and len(ctxs) != 1:
        return f'{len(ctxs)} contexts; the fused engine trains on one'
    if row_sparse_weights:
        return 'the tables are row_sparse (parameter-server training)'
    if kvstore is not None and is_distributed(kvstore):
        return 'a parameter-server kvstore'
    want = LOSS.get(model_cls, 'l2')
    if loss != want:
        return f"loss {loss!r}; the fused engine implements {want!r} for {model_cls.__name__}"
    if optimizer is not None and optimizer not in OPTIMIZERS:
        return f'optimizer {optimizer!r}; the fused engine implements {OPTIMIZERS}'
    for key, value in (optimizer_params or {}).items():
        if key in ('learning_rate', 'eps') or (key == 'wd' and not value) or \
                (key == 'rescale_grad' and value == 1):
            continue
        return f'optimizer setting {key}={value!r} (use reg= for L2)'
    if build:
        try:
            native.load()
        except native.BuildError as exc:
            return str(exc)
    return None


class FusedEngine:
    """See the module docstring. Built like every engine (``engine.py``)."""

    name = 'fused'
    distributed, rank, trainer = False, 0, None

    def __init__(self, net, ctxs, optimizer, optimizer_params, reg, loss, kvstore,
                 train_iter, hybridize, threads=None):
        reason = why_not(type(net), ctxs, optimizer, optimizer_params, loss, kvstore,
                         net.row_sparse_weights)
        if reason:
            raise EngineUnavailable(reason)
        self.net, self.ctx = net, ctxs[0]
        self.ranking = type(net) is BPRMF
        self.threads = int(threads or default_threads())
        if not 1 <= self.threads <= 16:
            raise ValueError(f'the fused engine runs 1 to 16 threads, got {self.threads}')
        self.optimizer = optimizer
        self.biased = type(net) is BiasedMF or (type(net) is NonNegativeMF and net.use_bias)
        self.attrs = dict(adagrad=int(optimizer == 'adagrad'),
                          lr=float(optimizer_params['learning_rate']), reg=float(reg),
                          eps=float(optimizer_params.get('eps', _EPS)), threads=self.threads)
        if not self.ranking:
            self.attrs.update(biased=int(self.biased), nonneg=int(type(net) is NonNegativeMF))
        self.params = self._tables()
        # Adagrad accumulators, one per trained table (placeholders for SGD).
        self.history = {name: mx.nd.zeros(array.shape if self.attrs['adagrad'] else (1,),
                                          ctx=self.ctx)
                        for name, array in self.params.items()}
        self._check_ids = not _ids_checked(train_iter, net)

    def _tables(self):
        net, ctx = self.net, self.ctx
        tables = {'P': net.user_embedding.weight.data(ctx),
                  'Q': net.item_embedding.weight.data(ctx)}
        if self.ranking:
            tables['bi'] = net.item_bias.weight.data(ctx)
        elif self.biased:
            tables.update(bu=net.user_bias.weight.data(ctx), bi=net.item_bias.weight.data(ctx),
                          mu=net.global_bias.data(ctx))
        else:  # the kernel ignores the bias inputs; placeholders keep one signature
            tables.update(bu=mx.nd.zeros((1,), ctx=ctx), bi=mx.nd.zeros((1,), ctx=ctx),
                          mu=mx.nd.zeros((1,), ctx=ctx))
        return tables

    def step(self, batch):
        """Train on the batch's ratings (without the iterator's padding), in place."""
        size = batch.data[0].shape[0] - (batch.pad or 0)
        if self.ranking:
            return self._ranking_step(batch, size)
        user, item, label = (array[:size].as_in_context(self.ctx) for array in
                             (batch.data[0], batch.data[1], batch.label[0]))
        if user.dtype != np.int32:
            user, item = user.astype(np.int32), item.astype(np.int32)
        if self._check_ids:
            _check_range(user, item, self.net)
        p = self.params
        h = self.history
        total = mx.nd.gluonrec_mf_update(
            user, item, label.astype(np.float32, copy=False), p['P'], p['Q'], p['bu'],
            p['bi'], p['mu'], h['P'], h['Q'], h['bu'], h['bi'], h['mu'], **self.attrs)
        return total, size

    def _ranking_step(self, batch, size):
        if len(batch.data) != 3:
            raise ValueError('bpr_mf on the fused engine trains on batches of (user, item, '
                             'negative) with a weight (NegativeSampleIter)')
        user, item, negative, weight = (array[:size].as_in_context(self.ctx) for array in
                                        (*batch.data, batch.label[0]))
        user, item, negative = (a if a.dtype == np.int32 else a.astype(np.int32)
                                for a in (user, item, negative))
        if self._check_ids:
            _check_range(user, item, self.net)
            _check_range(user, negative.reshape((-1,)), self.net)
        p, h = self.params, self.history
        total = mx.nd.gluonrec_bpr_update(
            user, item, negative, weight.astype(np.float32, copy=False), p['P'], p['Q'],
            p['bi'], h['P'], h['Q'], h['bi'], **self.attrs)
        return total, size

    def optimizer_state(self):
        """(named NDArrays, JSON metadata) for a checkpoint."""
        meta = {'engine': self.name, 'optimizer': self.optimizer, 'threads': self.threads}
        return dict(self.history), meta

    def restore_optimizer(self, arrays, meta):
        """Load what ``optimizer_state`` saved."""
        if meta.get('engine') != self.name:
            raise ValueError(f"the checkpoint's optimizer state was written by the "
                             f"{meta.get('engine', 'generic')} engine, not the fused one; "
                             f"resume with the engine that wrote it")
        if meta.get('optimizer') != self.optimizer:
            raise ValueError(f"the checkpoint was trained with optimizer "
                             f"{meta.get('optimizer')!r}, not {self.optimizer!r}")
        for name, array in self.history.items():
            if name not in arrays or arrays[name].shape != array.shape:
                raise ValueError(f'the checkpoint has no Adagrad state {name!r} of shape '
                                 f'{array.shape}')
            array[:] = arrays[name].as_in_context(self.ctx)


def _ids_checked(train_iter, net):
    """True when the iterator already guarantees ids inside the model's tables."""
    if not hasattr(train_iter, 'arrays'):
        return False
    users, items, _ = train_iter.arrays()
    if not len(users):
        return False
    return bool(users.min() >= 0 and users.max() < net.num_users and
                items.min() >= 0 and items.max() < net.num_items)


def _check_range(user, item, net):
    # Checked here as well as in the op: MXNet 1.9 accumulates a library's error
    # messages across calls, so an error raised in Python reads better.
    for name, ids, size in (('user', user, net.num_users), ('item', item, net.num_items)):
        values = ids.asnumpy()
        if len(values) and (values.min() < 0 or values.max() >= size):
            raise ValueError(f'{name} ids must lie in [0, {size}), got '
                             f'[{values.min()}, {values.max()}]')
