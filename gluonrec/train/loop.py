"""fit(): the training loop, read as resume, epochs, end of epoch and callbacks."""
import hashlib
import json
import logging
import math
import signal
import sys
import threading
import time

import numpy as np

from .._compat import error_line, mx, physical_memory
from ..data.iterators import by_name
from ..data.scaling import check_scaler
from ..context import net_ctx, resolve_ctx
from ..evaluation import as_iter, evaluate
from .callbacks import BatchLog, BestParameters, EarlyStopping, ProgressBar, log_epoch
from .checkpoint import Checkpoints
from .engine import make_engine
from .history import History

__all__ = ['fit']

logger = logging.getLogger('gluonrec.train')


def fit(net, train_iter, val_iter=None, epochs=10, optimizer='adam', learning_rate=0.01,
        wd=0.0, reg=0.0, optimizer_params=None, loss='l2', scaler=None, ctx='auto',
        kvstore='device', log_interval=1000, callbacks=(), checkpoint_dir=None,
        resume=False, patience=None, hybridize=True, seed=None, progress=None,
        engine=None, verbose=False):
    """Train ``net`` on the batches of ``train_iter``; evaluate on ``val_iter``.

    Parameters
    ----------
    net : RecModel
        Initialised here unless it already holds parameters.
    train_iter : RatingIter or mx.io.DataIter
        Yields ``DataBatch(data=[user, item], label=[rating])``.
    val_iter : RatingIter, Ratings or a validation object, optional
        Validation ratings: RMSE/MAE on the original scale after every epoch. Or, for a
        ranking model, a ``gluonrec.ranking_eval.RankingValidation`` (or any object
        called as ``validate(net) -> {'val_...': score}``, with ``monitor``, the key
        to follow, and ``mode``, 'max' when higher is better): its scores are
        recorded, and early stopping and the best parameters follow ``monitor``.
    epochs : int
    optimizer : str
        Any MXNet optimizer ('adam', 'sgd', 'adagrad', ...), with ``learning_rate``,
        ``wd`` (weight decay on every parameter) and ``optimizer_params``.
    reg : float
        L2 penalty on the embedding rows a rating uses (Surprise's SVD regularisation),
        which also works with row_sparse gradients where ``wd`` does not.
    loss : {'l2', 'l1', 'bpr', 'bce'}
        Squared or absolute error per rating; or, for a ranking model trained on a
        ``NegativeSampleIter``, BPR's pairwise loss or NCF's binary cross-entropy over
        the sampled negatives (``gluonrec.train.objective.RankingObjective``).
    scaler : MinMaxScaler, optional
        Maps outputs back to ratings for the validation metrics.
    ctx : str, mx.Context or list
        See ``resolve_ctx``; several contexts split each batch.
    kvstore : str or mx.kv.KVStore
        'device', 'local', or a parameter-server store ('dist_sync', ...) in a job
        started by ``python -m gluonrec.launch`` (see ``gluonrec.distributed``: each
        worker reads its shard, only rank 0 logs and checkpoints, no ``resume``).
    log_interval : int or None
        Log ``Epoch e / E | Batch b | Mean Loss: x`` every this many batches.
    callbacks : sequence of callables
        ``cb(record)`` after every epoch, ``cb.on_batch_end(epoch, batch)`` after every
        batch; True stops training (``gluonrec.train.callbacks``).
    checkpoint_dir : str, optional
        Write a checkpoint after every epoch and on interruption (Ctrl-C stops after
        the current batch): the last state and the best one by validation RMSE (or the
        validation object's ``monitor``).
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir``, if any; with the same seed
        and data the result equals an uninterrupted run.
    patience : int, optional
        Early stopping on validation RMSE (or ``monitor``); the best parameters are
        restored at the end (in a single process; a parameter-server job keeps the
        last ones).
    hybridize : bool
        Hybridize with ``static_alloc=True``.
    seed : int, optional
        Seeds parameter initialisation and, per epoch, MXNet's RNG (dropout).
    progress : bool, optional
        Show a tqdm bar; default when stderr is a terminal.
    verbose : bool
        Also print each epoch's summary line (for a session or notebook that has not set
        up logging; the line is always logged at INFO on ``gluonrec.train``). Off by
        default: the library leaves output to logging, which only scripts configure.
    engine : {'generic', 'fused', 'auto'}, optional
        What performs the updates (``gluonrec.train.engine``): 'generic' (Gluon's
        Trainer; every model and optimizer), 'fused' (a C++ operator: one update per
        rating, for the models and optimizers ``gluonrec.train.fused.describe()`` names,
        on CPU; the same ``learning_rate`` is a much larger step there), or 'auto'
        (fused where it can, else generic,
        logging why). Default: ``$GLUONREC_ENGINE``, else 'generic'; the recipe
        (``train_model``) defaults to 'auto' with presets for the engine it gets.

    Returns
    -------
    History

    Raises
    ------
    FloatingPointError
        When the training loss becomes NaN or infinite; the last good checkpoint stays.
    """
    _check_args(epochs, learning_rate, log_interval, reg, optimizer, wd, net, resume,
                checkpoint_dir)
    if scaler is not None:
        check_scaler(scaler)
    train_iter = by_name(train_iter, 'train_iter')
    validate = _validation(val_iter, scaler)
    ctxs = resolve_ctx(ctx)
    _initialize(net, ctxs, seed)
    # Row-sparse tables pull rows imperatively; some models run imperatively only.
    hybridize = hybridize and not net.row_sparse_weights and net.hybridizable
    if hybridize:
        net.hybridize(static_alloc=True)
    params = dict(optimizer_params or {}, learning_rate=learning_rate, wd=wd)
    run = _Run(net, train_iter, validate, scaler, ctxs, epochs, seed, log_interval,
               checkpoint_dir, patience, progress,
               make_engine(engine, net=net, ctxs=ctxs, optimizer=optimizer,
                           optimizer_params=params, reg=reg, loss=loss, kvstore=kvstore,
                           train_iter=train_iter, hybridize=hybridize))
    run.echo = bool(verbose)
    run.settings = {'optimizer': optimizer if isinstance(optimizer, str) else repr(optimizer),
                    'learning_rate': learning_rate, 'wd': wd, 'reg': reg, 'loss': loss,
                    'epochs': epochs}
    if run.ckpt is not None:  # only checkpoints need it (it hashes the training data)
        run.signature = _signature(net, train_iter, optimizer, params, reg, loss, seed,
                                   run.engine.name)
    if resume:
        _resume(run)
    run.add_callbacks(callbacks)
    with _Interrupt() as interrupt:
        for epoch in range(run.start_epoch, epochs):
            done = _run_epoch(run, epoch, interrupt)
            if not done.finished:
                _save_partial(run, epoch, done)
                run.cut_short = True
                break
            record = _end_epoch(run, epoch, done)
            if any(hook(record) for hook in run.epoch_hooks):
                logger.info('stopping after epoch %d', epoch + 1)
                break
    _finish(run)
    return run.history


class _RatingValidation:
    """RMSE and MAE on the original scale of validation ratings (lower is better)."""

    monitor, mode = 'val_rmse', 'min'

    def __init__(self, data, scaler):
        self.data, self.scaler = data, scaler

    def __call__(self, net):
        scores = evaluate(net, self.data, scaler=self.scaler, ctx=net_ctx(net))
        return {'val_rmse': scores['rmse'], 'val_mae': scores['mae']}


def _validation(val_iter, scaler):
    """What validates after each epoch: None, a validation object of the caller's (with
    ``monitor`` and ``mode``), or RMSE/MAE over validation ratings."""
    if val_iter is None:
        return None
    if callable(val_iter) and hasattr(val_iter, 'monitor'):
        if getattr(val_iter, 'mode', None) not in ('min', 'max'):
            raise ValueError("val_iter: a validation object needs mode 'min' or 'max'")
        return val_iter
    if isinstance(val_iter, mx.io.DataIter):
        val_iter = by_name(val_iter, 'val_iter')
    return _RatingValidation(as_iter(val_iter, scaler), scaler)


class _Run:
    """What the loop carries from one epoch to the next."""

    def __init__(self, net, train_iter, validate, scaler, ctxs, epochs, seed, log_interval,
                 checkpoint_dir, patience, progress, engine):
        self.net, self.train_iter, self.validate, self.scaler = net, train_iter, validate, \
            scaler
        monitor, mode = (validate.monitor, validate.mode) if validate is not None else \
            ('val_rmse', 'min')
        self.unit = 'positives' if len(train_iter.provide_data) > 2 or \
            engine.name == 'solver' else 'ratings'
        self.ctxs, self.epochs, self.seed, self.engine = ctxs, epochs, seed, engine
        self.log_interval, self.checkpoint_dir, self.patience = log_interval, checkpoint_dir, \
            patience
        self.chief = engine.rank == 0  # only rank 0 logs epochs and writes checkpoints
        self.ckpt = Checkpoints(checkpoint_dir) if checkpoint_dir and self.chief else None
        # Without a checkpoint folder, early stopping keeps the best parameters in memory.
        self.best = BestParameters(keep_copy=bool(self.ckpt is None and patience and
                                                  not engine.distributed),
                                   monitor=monitor, mode=mode)
        self.bar = ProgressBar(sys.stderr.isatty() if progress is None else progress)
        self.history, self.start_epoch, self.start_batch = History(), 0, 0
        self.history.monitor = (monitor, mode)
        self.partial = {'sum': 0.0, 'seen': 0}
        self.interrupted, self.cut_short = False, False
        self.label_scale = _label_scale(train_iter)
        self.signature = {}  # what a checkpoint must match to be resumed (_signature)
        self.echo = False  # print the epoch lines as well as logging them
        self.settings = None  # what fit trained with, recorded on the history
        self.batch_hooks, self.epoch_hooks = [], []

    def add_callbacks(self, callbacks):
        """User callbacks, then early stopping (replayed over a resumed history)."""
        hooks = list(callbacks)
        if self.patience:
            stopper = EarlyStopping(self.patience, monitor=self.best.monitor,
                                    mode=self.best.mode)
            for record in self.history:
                stopper(record)
            hooks.append(stopper)
        self.batch_hooks = [cb for cb in hooks if hasattr(cb, 'on_batch_end')]
        self.epoch_hooks = [cb for cb in hooks if callable(cb)]

    def state(self, epoch, batch, **extra):
        """The loop position and history, as the checkpoint stores them."""
        return dict(epoch=epoch, batch=batch, history=list(self.history),
                    best_score=self.best.as_json(), monitor=self.best.monitor,
                    run=self.signature, **extra)


class _Epoch:
    """What one pass over the iterator produced."""

    def __init__(self, train_loss, seen, nbatch, seconds, finished):
        self.train_loss, self.seen, self.nbatch = train_loss, seen, nbatch
        self.seconds, self.finished = seconds, finished


def _resume(run):
    if run.engine.distributed:
        raise ValueError('resume=True is not supported with a distributed kvstore')
    state = run.ckpt.load()
    if state is None:
        return
    _check_signature(state.get('run'), run.signature, run.checkpoint_dir)
    run.ckpt.restore(run.net, run.engine, state, run.ctxs)
    monitor = run.history.monitor
    run.history = History(state['history'])
    run.history.monitor = monitor
    run.start_epoch, run.start_batch = state['epoch'], state['batch']
    run.partial = state.get('partial') or run.partial
    best = state.get('best_score', state.get('best_rmse'))  # best_rmse: before 0.4
    if best is not None:
        run.best.value = best
    logger.info('resuming from %s at epoch %d, batch %d', run.checkpoint_dir,
                run.start_epoch + 1, run.start_batch)


def _fingerprint(train_iter):
    """SHA-256 of the ratings the iterator trains on (its shard), or None when it does
    not expose them: a resumed run must see the same data and the same split."""
    if not hasattr(train_iter, 'arrays'):
        return None
    arrays = train_iter.arrays()
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _signature(net, train_iter, optimizer, params, reg, loss, seed, engine):
    """The settings a resumed run must share with the checkpoint it resumes (JSON)."""
    signature = {'model': type(net).__name__, 'model config': dict(net.config),
                 'optimizer': optimizer if isinstance(optimizer, str) else repr(optimizer),
                 'optimizer settings': {k: repr(v) for k, v in sorted(params.items())},
                 'reg': float(reg), 'loss': loss, 'seed': seed, 'engine': engine,
                 'batch size': getattr(train_iter, 'batch_size', None),
                 'shuffle': getattr(train_iter, 'shuffle', None),
                 'iterator seed': getattr(train_iter, 'seed', None),
                 'training data (sha256)': _fingerprint(train_iter)}
    return json.loads(json.dumps(signature))  # as the checkpoint will hold it


def _check_signature(saved, now, folder):
    """One line naming the first setting that differs, with both values."""
    if not saved:  # a checkpoint from before signatures were kept
        return
    for key, value in now.items():
        if key in saved and saved[key] != value:
            raise ValueError(f'{folder}: cannot resume: the checkpoint was trained with '
                             f'{key} {saved[key]!r}, this run has {value!r} (use the same '
                             'settings and data, or another checkpoint folder)')


def _start_iter(it, epoch, first):
    # An iterator that can jump to an epoch's order (RatingIter) does so on resume.
    if first and hasattr(it, 'set_epoch'):
        it.set_epoch(epoch)
    else:
        it.reset()


def _run_epoch(run, epoch, interrupt):
    """One pass over the training iterator through the engine."""
    if run.seed is not None:
        mx.random.seed(run.seed * 100003 + epoch)
    first = epoch == run.start_epoch
    tic = time.time()  # the epoch's time includes the iterator's shuffle
    _start_iter(run.train_iter, epoch, first)
    skip = run.start_batch if first else 0  # resuming inside an epoch: same order
    total, seen = mx.nd.zeros((1,), ctx=run.ctxs[0]), 0
    if skip:  # the loss of the batches done before the interruption
        total += run.partial['sum']
        seen = run.partial['seen']
    log = BatchLog(run.log_interval, lambda value, e, b: _check_finite(value, e, b, run))
    length = len(run.train_iter) if hasattr(run.train_iter, '__len__') else None
    run.bar.start(epoch, run.epochs, length)
    nbatch, stopped = -1, False
    for nbatch, batch in enumerate(run.train_iter):
        if nbatch < skip:
            continue
        batch_sum, size = run.engine.step(batch)
        total += batch_sum
        seen += size
        log.add(batch_sum, size)
        run.bar.update()
        log.after_batch(epoch, run.epochs, nbatch)
        stopped = _after_batch(run, epoch, nbatch, interrupt)
        if stopped:
            break
    run.bar.close()
    # Reading the loss waits for MXNet's queued work, so the time is the real one.
    train_loss = total.asscalar() / max(seen, 1)
    mx.nd.waitall()
    elapsed = time.time() - tic
    _check_finite(train_loss, epoch, nbatch, run)
    finished = not stopped or (length is not None and nbatch + 1 >= length)
    return _Epoch(train_loss, seen, nbatch, elapsed, finished)


def _after_batch(run, epoch, nbatch, interrupt):
    """Batch callbacks and Ctrl-C: True when training stops after this batch."""
    try:
        stop = any(hook.on_batch_end(epoch, nbatch) for hook in run.batch_hooks)
    except KeyboardInterrupt:  # raised after a complete batch: stop cleanly
        interrupt.flag, stop = True, False
    run.interrupted = run.interrupted or interrupt.flag
    return stop or run.interrupted


def _save_partial(run, epoch, done):
    """Checkpoint an epoch cut short, so ``resume`` continues at the next batch."""
    if run.ckpt is None:
        return
    partial = {'sum': done.train_loss * done.seen, 'seen': done.seen}
    run.ckpt.save(run.net, run.engine, run.state(epoch, done.nbatch + 1,
                                                         partial=partial), best_changed=False)
    logger.warning('stopped at epoch %d, batch %d; checkpoint in %s', epoch + 1,
                   done.nbatch + 1, run.checkpoint_dir)


def _end_epoch(run, epoch, done):
    """Validate, record, log and checkpoint a finished epoch; returns its record."""
    record = {'epoch': epoch + 1, 'train_loss': done.train_loss, 'seconds': done.seconds,
              'ratings_per_sec': done.seen / max(done.seconds, 1e-9)}
    if run.validate is not None:
        record.update(run.validate(run.net))
        value = record[run.best.monitor]
        if not math.isfinite(value):
            raise FloatingPointError(f'validation {run.best.monitor} is {value} after '
                                     f'epoch {epoch + 1}')
    run.history.append(record)
    log_epoch(record, run.epochs, run.chief, echo=run.echo, unit=run.unit)
    improved = run.best.update(run.net, record, run.ctxs[0])
    if run.ckpt is not None:
        run.ckpt.save(run.net, run.engine, run.state(epoch + 1, 0),
                      best_changed=improved)
    return record


def _finish(run):
    # In a parameter-server job the servers hold the parameters: the last ones stay.
    last = run.history[-1]['epoch'] if run.history and not run.cut_short else None
    run.history.params_epoch = last
    if run.patience and run.best.found and not run.engine.distributed:
        if run.ckpt is not None:
            run.ckpt.restore_best(run.net, run.ctxs)
        else:
            run.best.restore(run.net)
        run.history.params_epoch = run.history.best()['epoch']
    run.history.interrupted = run.interrupted
    run.history.settings = run.settings
    if run.interrupted:
        logger.warning('training interrupted; returning the history so far')


class _Interrupt:
    """Turns the first Ctrl-C into a flag checked after each batch."""

    def __init__(self):
        self.flag = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                if self.flag:  # a second Ctrl-C: stop right away
                    raise KeyboardInterrupt
                self.flag = True
                logger.warning('interrupted: stopping after this batch (Ctrl-C again to abort)')
            signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


#: What training holds per parameter: its value, its gradient and up to two optimizer
#: states (adam's mean and variance).
_COPIES_IN_TRAINING = 4


def _check_memory(params):
    """Refuse, before allocating, parameters that cannot fit in memory to train (MXNet
    would fail inside ``initialize`` with a C++ traceback, or the system would kill
    the process). Shapes still unknown (deferred) count as 0."""
    count = sum(int(np.prod([max(0, d) for d in p.shape])) for p in params.values()
                if p.shape is not None)
    need = count * 4 * _COPIES_IN_TRAINING  # float32
    memory = physical_memory()
    if memory and need > memory:
        raise ValueError(f'the model has {count:,} parameters: about {need / 2 ** 30:,.1f} '
                         f'GiB to train (values, gradients and optimizer state), more than '
                         f'the {memory / 2 ** 30:,.1f} GiB of memory here; lower num_factors '
                         '(--num-factors) or the model\'s sizes')


def _initialize(net, ctxs, seed):
    params = net.collect_params()
    fresh = [p for p in params.values() if p._data is None and not p._deferred_init]
    if fresh:
        if seed is not None:
            mx.random.seed(seed)
        _check_memory(params)
        try:
            net.initialize(ctx=ctxs)
        except mx.base.MXNetError as exc:
            raise ValueError(f'cannot allocate the model\'s parameters on {ctxs} '
                             f'({error_line(exc)})') from None
    elif len(ctxs) > 1 or net_ctx(net) != ctxs[0]:
        params.reset_ctx(ctxs)


def _check_args(epochs, learning_rate, log_interval, reg, optimizer, wd, net, resume,
                checkpoint_dir):
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f'epochs must be a positive integer, got {epochs!r}')
    if not learning_rate > 0:
        raise ValueError(f'learning_rate must be > 0, got {learning_rate!r}')
    if log_interval is not None and log_interval < 1:
        raise ValueError(f'log_interval must be >= 1 or None, got {log_interval!r}')
    if reg < 0 or wd < 0:
        raise ValueError(f'reg and wd must be >= 0, got reg={reg}, wd={wd}')
    if wd and getattr(net, 'sparse_grad', False) and optimizer == 'adagrad':
        raise ValueError("MXNet's sparse adagrad update has no weight decay: use reg= "
                         '(an L2 penalty on the rows in the batch) instead of wd=')
    if resume and not checkpoint_dir:
        raise ValueError('resume=True needs checkpoint_dir')


#: A mean training loss this many times the labels' mean square (the loss of predicting
#: 0 for everything) is divergence, not learning, even while it is still finite.
DIVERGENCE_FACTOR = 1e4


def _label_scale(train_iter):
    """Mean square of the training labels, when the iterator can say it cheaply."""
    if not hasattr(train_iter, 'arrays'):
        return None
    ratings = train_iter.arrays()[2]
    if not len(ratings):
        return None
    return max(float(np.mean(np.square(ratings, dtype=np.float64))), 1e-12)


def _check_finite(value, epoch, nbatch, run):
    """Stop on a NaN/infinite loss, or on one that has run away (``DIVERGENCE_FACTOR``)."""
    diverged = run.label_scale is not None and value > DIVERGENCE_FACTOR * run.label_scale
    if math.isfinite(value) and not diverged:
        return
    good = run.ckpt is not None and run.ckpt.load() is not None
    where = f'; the last good checkpoint is in {run.checkpoint_dir}' if good else ''
    what = f'{value}' if not diverged else \
        f'{value:.3g}, {value / run.label_scale:.3g} times the loss of predicting 0'
    raise FloatingPointError(f'training diverged: loss {what} at epoch {epoch + 1}, batch '
                             f'{nbatch + 1}: lower the learning rate{where}')
