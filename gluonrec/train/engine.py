"""Training engines: what one step over a batch (or a chunk of ratings) does.

The loop in ``loop.py`` owns epochs, checkpoints, callbacks and reporting; an engine
owns the update. ``fit(engine=...)`` picks one by name from ``ENGINES``. An engine is
built with ``(net, ctxs, optimizer, optimizer_params, reg, loss, kvstore, train_iter,
hybridize)`` and offers:

- ``step(batch)``: train on one ``mx.io.DataBatch`` from the iterator and return
  ``(sum of the batch's per-rating errors as a (1,) NDArray, number of ratings)``;
- ``optimizer_state()`` -> (named NDArrays, JSON metadata) and
  ``restore_optimizer(arrays, meta)``: what a checkpoint saves and loads besides the
  parameters (the metadata names the engine, so a checkpoint is resumed by its own);
- ``distributed``, ``rank``: whether it trains in a parameter-server job, and as which
  worker.

Three engines exist: 'generic' (Gluon's autograd and Trainer; every model, optimizer,
device and kvstore, rating and ranking losses), 'fused' (``fused.py``: a C++ operator
for the models and optimizers its ``KINDS`` and ``OPTIMIZERS`` name, on one CPU) and
'solver' (models solved in closed form, ``RecModel.closed_form``: iALS, EASE). 'auto'
takes the solver for a closed-form model, else the fused engine where it can train and
the generic one otherwise, logging why. ``engine=None`` reads ``$GLUONREC_ENGINE``
(which a closed-form model ignores).
"""
import contextlib
import logging
import os
import sys
import tempfile

from .._compat import mx
from mxnet import autograd, gluon

from ..distributed import is_distributed, trainer_kvstore
from .checkpoint import optimizer_arrays, restore_optimizer
from .fused import FusedEngine, why_not
from .objective import RANKING_LOSSES, make_objective

__all__ = ['GenericEngine', 'FusedEngine', 'ENGINES', 'CHOICES', 'make_engine',
           'engine_choice', 'choose_engine']

logger = logging.getLogger(__name__)

#: What MXNet's C++ side prints (once per process, to stderr, at INFO) the first time an
#: optimizer updates a row_sparse gradient lazily. gluonrec chooses lazy updates on
#: purpose (``sparse_grad``: only the rows a batch touches are updated, as Surprise and
#: LIBMF do), so the note is dropped; the README says what a lazy update is.
LAZY_UPDATE_NOTE = 'Optimizer with lazy_update = True detected'


@contextlib.contextmanager
def dropping_native_lines(marker):
    """Route this process's stderr (file descriptor 2, where MXNet's C++ logging
    writes) through a temporary file for the duration, then write back every line
    that does not contain ``marker``. Work queued in MXNet's engine is waited for
    first, so its lines land in the window."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
            mx.nd.waitall()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode('utf-8', 'replace')
                    .splitlines(keepends=True) if marker not in line]
            if kept:
                sys.stderr.write(''.join(kept))
                sys.stderr.flush()


class GenericEngine:
    """Gluon's own path: autograd through the objective, ``Trainer.step``, and the
    model's projection (``constrain``) after every update. Works for every model,
    optimizer, context list and kvstore."""

    name = 'generic'

    def __init__(self, net, ctxs, optimizer, optimizer_params, reg, loss, kvstore,
                 train_iter, hybridize):
        kv, self.rank, workers = trainer_kvstore(kvstore, train_iter, net)
        self.distributed = is_distributed(kv)
        self.net, self.ctxs = net, ctxs
        params = dict(optimizer_params)
        self.step_divisor, local_update = None, None  # None: each batch's own size
        if self.distributed:
            # Servers sum the workers' gradients and receive the optimizer before the
            # first step, so the scale of the global batch is fixed up front (MXNet
            # refuses to change it later): the sum becomes the mean over all examples.
            params['rescale_grad'] = 1.0 / (train_iter.batch_size * workers)
            self.step_divisor = 1
            if net.constrained:  # a projection must act on the copy that is updated
                local_update = False
        self.trainer = gluon.Trainer(net.collect_params(), optimizer, params, kvstore=kv,
                                     update_on_kvstore=local_update)
        self.objective = make_objective(net, reg, loss)
        self.arity = 4 if loss in RANKING_LOSSES else 3  # data arrays and the label
        if hybridize:
            self.objective.hybridize(static_alloc=True)
        # The first local update of row_sparse gradients is where MXNet logs its note.
        self._first_sparse_step = net.sparse_grad and not self.distributed

    def step(self, batch):
        size = batch.data[0].shape[0]
        arrays = [*batch.data, batch.label[0]]
        if len(arrays) != self.arity:
            raise ValueError(f'the loss takes batches of {self.arity - 1} data arrays '
                             f'and a label, the iterator gives {len(batch.data)} (a ranking '
                             'loss trains on a NegativeSampleIter, a rating loss on a '
                             'RatingIter)')
        if len(self.ctxs) == 1:
            ctx = self.ctxs[0]
            with autograd.record():
                err, obj = self.objective(*(array.as_in_context(ctx) for array in arrays))
            obj.backward()
            batch_sum = err.sum()
        else:
            batch_sum = self._multi_device(arrays)
        if self._first_sparse_step:
            self._first_sparse_step = False
            with dropping_native_lines(LAZY_UPDATE_NOTE):
                self.trainer.step(self.step_divisor or size)
        else:
            self.trainer.step(self.step_divisor or size)
        self.net.constrain()
        return batch_sum, size

    def optimizer_state(self):
        """The Trainer's optimizer state, as a checkpoint stores it."""
        arrays, meta = optimizer_arrays(self.trainer)
        return arrays, dict(meta, engine=self.name)

    def restore_optimizer(self, arrays, meta):
        """Load what ``optimizer_state`` saved into the Trainer."""
        if meta.get('engine', self.name) != self.name:
            raise ValueError(f"the checkpoint's optimizer state was written by the "
                             f"{meta['engine']} engine, not the generic one; resume with "
                             f"the engine that wrote it")
        restore_optimizer(self.trainer, arrays, meta)

    def _multi_device(self, arrays):
        """Split the batch across the contexts; the gradients are summed by the kvstore."""
        parts = [gluon.utils.split_and_load(array, self.ctxs, even_split=False)
                 for array in arrays]
        errs, objs = [], []
        with autograd.record():
            for inputs in zip(*parts):
                err, obj = self.objective(*inputs)
                errs.append(err)
                objs.append(obj)
        autograd.backward(objs)
        return mx.nd.add_n(*[e.sum().as_in_context(self.ctxs[0]) for e in errs])


class SolverEngine:
    """For models solved in closed form (``RecModel.closed_form``: iALS's alternating
    least squares, EASE): ``step`` hands the batch, the whole training data, to the
    model's ``solve``, one alternation (or the one solve) per epoch. No optimizer: a
    checkpoint holds the parameters and the loop position only."""

    name = 'solver'
    distributed, rank = False, 0

    def __init__(self, net, ctxs, optimizer, optimizer_params, reg, loss, kvstore,
                 train_iter, hybridize):
        if len(ctxs) > 1:
            raise ValueError(f'{type(net).__name__} is solved in closed form on one '
                             'context; give one')
        if is_distributed(kvstore) or str(kvstore).startswith('dist'):
            raise ValueError(f'{type(net).__name__} is solved in closed form in one '
                             'process; a parameter-server job cannot train it')
        count = getattr(train_iter, 'num_examples', None)
        if count is not None and train_iter.batch_size < count:
            raise ValueError(f'{type(net).__name__} solves on all the training data at '
                             f'once: give it one batch of all {count} rows (batch_size '
                             f'{train_iter.batch_size} is less)')
        self.net, self.reg = net, float(reg)

    def step(self, batch):
        keep = batch.data[0].shape[0] - batch.pad
        user, item, weight = (array[:keep].asnumpy() for array in
                              (batch.data[0], batch.data[1], batch.label[0]))
        loss = self.net.solve(user, item, weight, self.reg)
        return mx.nd.array([loss * keep]), keep

    def optimizer_state(self):
        return {}, {'engine': self.name}

    def restore_optimizer(self, arrays, meta):
        if meta.get('engine', self.name) != self.name:
            raise ValueError(f"the checkpoint's optimizer state was written by the "
                             f"{meta['engine']} engine, not the solver")


ENGINES = {'generic': GenericEngine, 'fused': FusedEngine, 'solver': SolverEngine}
#: What ``engine=`` accepts.
CHOICES = ('auto', *ENGINES)


def engine_choice(name=None, default='generic'):
    """``name``, else ``$GLUONREC_ENGINE``, else ``default``; checked against CHOICES."""
    choice = name or os.environ.get('GLUONREC_ENGINE') or default
    if choice not in CHOICES:
        source = 'engine' if name else 'GLUONREC_ENGINE'
        raise ValueError(f'{source} must be one of {CHOICES}, got {choice!r}')
    return choice


def choose_engine(requested, model_cls, ctxs, optimizer, optimizer_params, loss, kvstore,
                  row_sparse_weights, default='generic'):
    """'fused' or 'generic': the engine that trains this setup as ``requested`` asks
    (``engine_choice`` with ``default``). 'fused' raises ``ValueError`` with the reason
    when it cannot train it; 'auto' then logs the reason in one line and takes 'generic'.
    ``optimizer`` None means "a preset will choose" (see ``fused.why_not``)."""
    if getattr(model_cls, 'closed_form', False):
        if requested not in (None, 'auto', 'solver'):
            raise ValueError(f"{model_cls.__name__} is solved in closed form: engine must "
                             f"be 'auto' or 'solver', got {requested!r}")
        return 'solver'
    choice = engine_choice(requested, default)
    if choice == 'solver':
        raise ValueError(f"engine='solver' trains models solved in closed form only; "
                         f'{model_cls.__name__} is not one')
    if choice == 'generic':
        return choice
    reason = why_not(model_cls, ctxs, optimizer, optimizer_params, loss, kvstore,
                     row_sparse_weights)
    if reason is None:
        return 'fused'
    if choice == 'fused':
        raise ValueError(f"engine='fused' cannot train here: {reason}")
    logger.info('training with the generic engine: the fused one cannot (%s)', reason)
    return 'generic'


def make_engine(name, **kwargs):
    """Build the engine ``name`` ('auto', 'fused', 'generic'; see ``choose_engine``) with
    the keyword arguments every engine takes (see the module docstring)."""
    engine_choice(name)  # an unknown name fails first
    net = kwargs['net']
    chosen = choose_engine(name, type(net), kwargs['ctxs'], kwargs['optimizer'],
                           kwargs['optimizer_params'], kwargs['loss'], kwargs['kvstore'],
                           net.row_sparse_weights)
    return ENGINES[chosen](**kwargs)
