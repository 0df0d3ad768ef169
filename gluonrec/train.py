"""fit() and evaluate(): training on CPU or GPUs with checkpoints, history, early stopping."""
import csv
import io
import json
import logging
import math
import os
import signal
import sys
import threading
import time

import numpy as np

from ._compat import mx
from mxnet import autograd, gluon

from . import metrics
from ._io import atomic_path, write_json, write_text
from .data.iterators import RatingIter
from .models.base import RecModel

_no_constraint = RecModel.constrain

__all__ = ['fit', 'evaluate', 'predict_iter', 'resolve_ctx', 'History', 'EarlyStopping',
           'plot_history', 'CHECKPOINT_FILE']

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = 'checkpoint.json'
_LOSSES = ('l2', 'l1')


# ---------------------------------------------------------------- contexts
def resolve_ctx(ctx='auto'):
    """Turn a context spec into a list of ``mx.Context``.

    Parameters
    ----------
    ctx : str, mx.Context or list of mx.Context
        'auto' (the first GPU when ``mx.context.num_gpus() > 0``, else the CPU), 'cpu',
        'gpu' (GPU 0), 'gpu:0,1' (those GPUs), a context, or a list of contexts.

    Returns
    -------
    list of mx.Context

    Raises
    ------
    ValueError
        For a malformed spec or a GPU this machine does not have.
    """
    if isinstance(ctx, mx.Context):
        ctxs = [ctx]
    elif isinstance(ctx, (list, tuple)):
        ctxs = list(ctx)
        if not ctxs or not all(isinstance(c, mx.Context) for c in ctxs):
            raise ValueError(f'ctx list must hold mx.Context objects, got {ctx!r}')
    elif isinstance(ctx, str):
        spec = ctx.strip().lower()
        if spec == 'auto':
            return [mx.gpu(0)] if mx.context.num_gpus() > 0 else [mx.cpu()]
        if spec == 'cpu':
            return [mx.cpu()]
        if spec == 'gpu':
            ctxs = [mx.gpu(0)]
        elif spec.startswith('gpu:'):
            try:
                ids = [int(part) for part in spec[4:].split(',') if part.strip()]
            except ValueError:
                raise ValueError(f"bad ctx {ctx!r}: expected 'gpu:0' or 'gpu:0,1'") from None
            if not ids or len(set(ids)) != len(ids):
                raise ValueError(f'bad ctx {ctx!r}: list each GPU id once')
            ctxs = [mx.gpu(i) for i in ids]
        else:
            raise ValueError(f"bad ctx {ctx!r}: use 'auto', 'cpu', 'gpu' or 'gpu:0,1'")
    else:
        raise ValueError(f'bad ctx {ctx!r}')
    gpus = [c.device_id for c in ctxs if c.device_type == 'gpu']
    if gpus:
        available = mx.context.num_gpus()
        missing = [i for i in gpus if i >= available]
        if missing:
            raise ValueError(f'GPU {missing[0]} requested but this machine has {available} '
                             'GPU(s) visible to MXNet (is an mxnet-cuXXX build installed '
                             "and CUDA_VISIBLE_DEVICES set?); use ctx='cpu' or 'auto'")
    return ctxs


# ---------------------------------------------------------------- history
class History(list):
    """One dict per epoch (epoch, train_loss, val_rmse, val_mae, seconds, ...)."""

    def to_json(self, path=None):
        text = json.dumps(list(self), indent=2)
        if path:
            write_text(path, text + '\n')
        return text

    def to_csv(self, path=None):
        keys = []
        for record in self:
            keys.extend(k for k in record if k not in keys)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator='\n')
        writer.writeheader()
        writer.writerows(self)
        if path:
            write_text(path, buffer.getvalue())
        return buffer.getvalue()

    def best(self, key='val_rmse'):
        """The record with the lowest ``key`` (None when no record has it)."""
        scored = [r for r in self if r.get(key) is not None]
        return min(scored, key=lambda r: r[key]) if scored else None


def plot_history(history, path, title=None):
    """Write a PNG of train loss and validation RMSE per epoch (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plot_history needs matplotlib: pip install matplotlib') from None
    epochs = [r['epoch'] for r in history]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(epochs, [r['train_loss'] for r in history], 'o-', color='tab:blue',
              label='train loss (scaled)')
    left.set_xlabel('epoch')
    left.set_ylabel('train loss (mean per rating, scaled units)')
    if any(r.get('val_rmse') is not None for r in history):
        right = left.twinx()
        right.plot(epochs, [r.get('val_rmse') for r in history], 's-', color='tab:red',
                   label='validation RMSE')
        right.set_ylabel('validation RMSE (rating scale)')
        fig.legend(loc='upper right')
    left.set_title(title or 'gluonrec training')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)
    plt.close(fig)


class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(self, patience=3, monitor='val_rmse', min_delta=0.0):
        if patience < 1:
            raise ValueError(f'patience must be >= 1, got {patience}')
        self.patience, self.monitor, self.min_delta = patience, monitor, min_delta
        self.best, self.wait = math.inf, 0

    def __call__(self, record):
        value = record.get(self.monitor)
        if value is None:
            return False
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


# ---------------------------------------------------------------- evaluation
def predict_iter(net, data_iter, ctx=None):
    """Predictions and labels for every example of ``data_iter`` (pad removed), numpy."""
    ctx = resolve_ctx(ctx or 'auto')[0] if not isinstance(ctx, mx.Context) else ctx
    data_iter.reset()
    preds, labels = [], []
    for batch in data_iter:
        keep = batch.data[0].shape[0] - batch.pad
        user = batch.data[0][:keep].as_in_context(ctx)
        item = batch.data[1][:keep].as_in_context(ctx)
        preds.append(net(user, item))
        labels.append(batch.label[0][:keep])
    pred = mx.nd.concat(*preds, dim=0).asnumpy().astype(np.float64)
    label = mx.nd.concat(*labels, dim=0).asnumpy().astype(np.float64)
    return pred, label


def evaluate(net, data, scaler=None, ctx=None, batch_size=65536):
    """RMSE and MAE of ``net`` on the original rating scale.

    Parameters
    ----------
    net : RecModel
    data : RatingIter or Ratings
        Labels in the iterator are scaled by ``scaler``; a ``Ratings`` holds
        original-scale ratings and is scaled here.
    scaler : MinMaxScaler, optional
        Maps the network's outputs back to ratings; predictions are clipped to the
        scaler's rating range, as a served prediction would be.

    Returns
    -------
    dict
        ``rmse``, ``mae`` (original scale) and ``n``.
    """
    data = _as_iter(data, scaler, batch_size)
    pred, label = predict_iter(net, data, ctx=ctx if ctx is not None else _net_ctx(net))
    if scaler is not None:
        pred = np.clip(scaler.inverse_transform(pred), scaler.low, scaler.high)
        label = scaler.inverse_transform(label)
    return {'rmse': metrics.rmse(label, pred), 'mae': metrics.mae(label, pred),
            'n': int(len(label))}


def _as_iter(data, scaler, batch_size=65536):
    """``data`` itself if it is an iterator, else an unshuffled, padded RatingIter over the
    ``Ratings`` (scaled by ``scaler``) for evaluation."""
    if isinstance(data, mx.io.DataIter):
        return data
    return RatingIter.from_ratings(data, scaler=scaler, batch_size=batch_size, shuffle=False,
                                  last_batch_handle='pad')


def _net_ctx(net):
    for param in net.collect_params().values():
        try:
            return param.list_ctx()[0]
        except RuntimeError:
            continue
    return mx.cpu()


# ---------------------------------------------------------------- checkpoints
def _optimizer_arrays(trainer):
    """Optimizer state as named NDArrays plus JSON metadata (no pickle)."""
    updater = trainer._updaters[0]
    arrays, layout = {}, {}
    for index, state in updater.states.items():
        parts = state if isinstance(state, (tuple, list)) else (state,)
        layout[str(index)] = [part is not None for part in parts]
        for j, part in enumerate(parts):
            if part is not None:
                arrays[f'{index}:{j}'] = part
    opt = updater.optimizer
    meta = {'num_update': opt.num_update, 'layout': layout,
            'index_update_count': {str(k): v for k, v in opt._index_update_count.items()}}
    return arrays, meta


def _restore_optimizer(trainer, arrays, meta):
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    params = trainer._params  # the trainer's own indexing of the optimizer states
    for updater in trainer._updaters:
        opt = updater.optimizer
        for key, present in meta['layout'].items():
            index = int(key)
            weight = params[index].list_data()[0]
            state = opt.create_state_multi_precision(index, weight)
            parts = state if isinstance(state, (tuple, list)) else (state,)
            for j, (part, there) in enumerate(zip(parts, present)):
                if there:
                    part[:] = arrays[f'{index}:{j}'].as_in_context(part.context)
            updater.states[index] = state
            updater.states_synced[index] = True
        opt.num_update = meta['num_update']
        opt._index_update_count.update({int(k): v for k, v in meta['index_update_count'].items()})


class _Checkpoints:
    """Epoch-numbered files plus ``checkpoint.json``, which is written last.

    ``checkpoint.json`` names the files of the last good state; it is replaced
    atomically after they are complete, so a crash at any point leaves the previous
    checkpoint intact and usable.
    """

    def __init__(self, folder):
        self.folder = folder
        self.best = None  # file name of the best parameters so far
        os.makedirs(folder, exist_ok=True)

    def path(self, name):
        """The path of file ``name`` in the checkpoint folder."""
        return os.path.join(self.folder, name)

    def load(self):
        path = self.path(CHECKPOINT_FILE)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding='utf-8') as handle:
                state = json.load(handle)
            for key in ('epoch', 'batch', 'params', 'optimizer', 'history'):
                state[key]  # noqa: B018 - presence check
        except (ValueError, KeyError) as exc:
            raise ValueError(f'{path}: corrupt checkpoint ({exc!r})') from None
        for key in ('params', 'states', 'best_params'):
            name = state.get(key)
            if name and not os.path.isfile(self.path(name)):
                raise ValueError(f'{path}: names {name}, which is missing')
        self.best = state.get('best_params')
        return state

    def save(self, net, trainer, state, best_changed):
        tag = f"{state['epoch']:04d}-{state['batch']:06d}"
        params, states = f'params-{tag}.params', f'optimizer-{tag}.nd'
        with atomic_path(self.path(params)) as tmp:
            net.save_parameters(tmp)
        arrays, meta = _optimizer_arrays(trainer)
        with atomic_path(self.path(states)) as tmp:
            mx.nd.save(tmp, arrays)
        if best_changed:
            best = f'best-{tag}.params'
            with atomic_path(self.path(best)) as tmp:
                net.save_parameters(tmp)
            self.best = best
        state['best_params'] = self.best
        state.update(params=params, states=states, optimizer=meta)
        write_json(self.path(CHECKPOINT_FILE), state)
        keep = {params, states, state.get('best_params')}
        for name in os.listdir(self.folder):
            if name.endswith(('.params', '.nd')) and name not in keep:
                os.remove(self.path(name))


def _load_params(net, path, ctxs):
    try:
        net.load_parameters(path, ctx=ctxs)
    except Exception as exc:  # MXNet raises MXNetError/AssertionError with long texts
        raise ValueError(f'{path}: cannot load parameters: {str(exc).splitlines()[0]}') \
            from None


# ---------------------------------------------------------------- the loop
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


def _initialize(net, ctxs, seed):
    params = net.collect_params()
    fresh = [p for p in params.values() if p._data is None and not p._deferred_init]
    if fresh:
        if seed is not None:
            mx.random.seed(seed)
        net.initialize(ctx=ctxs)
    elif len(ctxs) > 1 or _net_ctx(net) != ctxs[0]:
        params.reset_ctx(ctxs)


def _check_args(epochs, learning_rate, loss, log_interval, reg, optimizer, wd, net):
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f'epochs must be a positive integer, got {epochs!r}')
    if not learning_rate > 0:
        raise ValueError(f'learning_rate must be > 0, got {learning_rate!r}')
    if loss not in _LOSSES:
        raise ValueError(f'loss must be one of {_LOSSES}, got {loss!r}')
    if log_interval is not None and log_interval < 1:
        raise ValueError(f'log_interval must be >= 1 or None, got {log_interval!r}')
    if reg < 0 or wd < 0:
        raise ValueError(f'reg and wd must be >= 0, got reg={reg}, wd={wd}')
    if wd and getattr(net, 'sparse_grad', False) and optimizer == 'adagrad':
        raise ValueError("MXNet's sparse adagrad update has no weight decay: use reg= "
                         '(an L2 penalty on the rows in the batch) instead of wd=')


def fit(net, train_iter, val_iter=None, epochs=10, optimizer='adam', learning_rate=0.01,
        wd=0.0, reg=0.0, optimizer_params=None, loss='l2', scaler=None, ctx='auto',
        kvstore='device', log_interval=1000, callbacks=(), checkpoint_dir=None,
        resume=False, patience=None, hybridize=True, seed=None, progress=None):
    """Train ``net`` on ``train_iter``; return the per-epoch ``History``.

    Parameters
    ----------
    net : RecModel
        Initialised here (seeded by ``seed``) unless it already holds parameters.
    train_iter : mx.io.DataIter
        Batches ``data=[user, item], label=[rating]`` (a ``RatingIter``); ratings
        scaled by ``scaler``.
    val_iter : mx.io.DataIter or Ratings, optional
        Validation data; RMSE and MAE are reported on the original scale.
    epochs : int
        Total epochs (a resumed run counts the epochs already done).
    optimizer : str
        Any MXNet optimizer name ('adam', 'sgd', 'adagrad', 'ftrl', ...).
    learning_rate, wd : float
        ``wd`` is the optimizer's weight decay (on every parameter).
    reg : float
        L2 penalty ``reg * |rows used|^2`` per example on the embedding rows (and
        biases) of the batch, as in Surprise's SVD; works with sparse gradients.
    optimizer_params : dict, optional
        More optimizer arguments (momentum, beta1, ...).
    loss : {'l2', 'l1'}
        Squared or absolute error per rating (not Gluon's halved L2Loss).
    scaler : MinMaxScaler, optional
        Maps outputs back to ratings for the reported metrics.
    ctx : str, mx.Context or list
        See ``resolve_ctx``; with several GPUs each batch is split across them.
    kvstore : str or mx.kvstore.KVStore
        Gradient aggregation: 'device', 'local', or a parameter-server store
        ('dist_sync', 'dist_async', 'dist_device_sync') in a job started by
        ``python -m gluonrec.launch``. Each worker must iterate over its own shard
        (``RatingIter(num_parts=kv.num_workers, part_index=kv.rank)``); every worker
        validates (so all take the same early-stopping decision) but only rank 0 logs
        epochs and writes checkpoints. The optimizer state lives on the servers there, so
        ``resume`` is refused in a distributed job.
    log_interval : int or None
        Log ``Epoch e / E | Batch b | Mean Loss: x`` every this many batches.
    callbacks : sequence of callables
        Called as ``cb(record)`` after every epoch; returning True stops training.
        An object with ``on_batch_end(epoch, batch)`` is also called after every
        batch, and stops training after that batch by returning True.
    checkpoint_dir : str, optional
        Write a checkpoint after every epoch (and on interruption): the last state and
        the best one by validation RMSE, each written atomically.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir``, if any. With the same seed
        and data the result equals an uninterrupted run.
    patience : int, optional
        Early stopping on validation RMSE; the best parameters are restored at the end
        (in a single process; a parameter-server job keeps the last ones).
    hybridize : bool
        Hybridize with ``static_alloc=True``.
    seed : int, optional
        Seeds parameter initialisation and, per epoch, MXNet's RNG (dropout).
    progress : bool, optional
        Show a tqdm bar; default when stderr is a terminal.

    Returns
    -------
    History
        Also stored as ``history.json`` in ``checkpoint_dir`` through the checkpoint.

    Raises
    ------
    FloatingPointError
        When the training loss becomes NaN or infinite; the last good checkpoint stays.
    """
    _check_args(epochs, learning_rate, loss, log_interval, reg, optimizer, wd, net)
    if resume and not checkpoint_dir:
        raise ValueError('resume=True needs checkpoint_dir')
    ctxs = resolve_ctx(ctx)
    if val_iter is not None:
        val_iter = _as_iter(val_iter, scaler)  # once, not at every epoch's evaluation
    _initialize(net, ctxs, seed)
    if getattr(net, 'row_sparse_weights', False):
        hybridize = False  # row_sparse tables pull rows per batch, imperatively
    if hybridize:
        net.hybridize(static_alloc=True)
    opt_params = dict(optimizer_params or {})
    opt_params.update(learning_rate=learning_rate, wd=wd)
    kv, rank, workers = _kvstore(kvstore, train_iter, net)
    distributed = isinstance(kv, mx.kvstore.KVStore) and 'dist' in kv.type
    # A projection (nnmf) must act on the copy that is updated: update on the workers.
    local_update = False if distributed and type(net).constrain is not _no_constraint \
        else None
    step_divisor = None  # per batch: its size
    if distributed:
        # Servers sum the workers' gradients and receive the optimizer before the first
        # step, so the scale of the global batch is fixed up front (MXNet refuses to
        # change it later): the sum becomes the mean over all workers' examples.
        opt_params['rescale_grad'] = 1.0 / (train_iter.batch_size * workers)
        step_divisor = 1
    trainer = gluon.Trainer(net.collect_params(), optimizer, opt_params, kvstore=kv,
                            update_on_kvstore=local_update)
    chief = rank == 0  # only rank 0 logs epochs and writes checkpoints

    history, start_epoch, start_batch = History(), 0, 0
    best_rmse, best_params_mem = math.inf, None
    ckpt = _Checkpoints(checkpoint_dir) if checkpoint_dir and chief else None
    if resume and distributed:
        # The optimizer state lives on the servers, out of the checkpoint's reach.
        raise ValueError('resume=True is not supported with a distributed kvstore')
    if resume:
        state = ckpt.load()
        if state is not None:
            _load_params(net, ckpt.path(state['params']), ctxs)
            arrays = mx.nd.load(ckpt.path(state['states']))
            _restore_optimizer(trainer, arrays, state['optimizer'])
            history = History(state['history'])
            start_epoch, start_batch = state['epoch'], state['batch']
            partial = state.get('partial') or {'sum': 0.0, 'seen': 0}
            best_rmse = state.get('best_rmse') if state.get('best_rmse') is not None \
                else math.inf
            logger.info('resuming from %s at epoch %d, batch %d', checkpoint_dir,
                        start_epoch + 1, start_batch)
    stoppers = list(callbacks)
    if patience:
        stopper = EarlyStopping(patience)
        for record in history:
            stopper(record)
        stoppers.append(stopper)
    batch_hooks = [cb for cb in stoppers if hasattr(cb, 'on_batch_end')]
    epoch_hooks = [cb for cb in stoppers if callable(cb)]
    if progress is None:
        progress = sys.stderr.isatty()
    objective = _Objective(net, reg, loss == 'l2')
    if hybridize:
        objective.hybridize(static_alloc=True)
    interrupted = stop = False

    with _Interrupt() as interrupt:
        for epoch in range(start_epoch, epochs):
            if seed is not None:
                mx.random.seed(seed * 100003 + epoch)
            if hasattr(train_iter, 'set_epoch'):
                if epoch == start_epoch:
                    train_iter.set_epoch(epoch)
                else:
                    train_iter.reset()
            else:
                train_iter.reset()
            tic = time.time()
            epoch_sum = mx.nd.zeros((1,), ctx=ctxs[0])
            interval_sum = mx.nd.zeros((1,), ctx=ctxs[0])
            seen = interval_seen = 0
            if start_batch:  # the loss of the batches done before the interruption
                epoch_sum += partial['sum']
                seen = partial['seen']
            bar = None
            if progress:
                from tqdm import tqdm
                bar = tqdm(total=len(train_iter) if hasattr(train_iter, '__len__') else None,
                           desc=f'epoch {epoch + 1}/{epochs}', leave=False)
            nbatch = -1
            for nbatch, batch in enumerate(train_iter):
                if nbatch < start_batch:  # resuming inside an epoch: same order, skip done
                    continue
                size = batch.data[0].shape[0]
                if len(ctxs) == 1:
                    user = batch.data[0].as_in_context(ctxs[0])
                    item = batch.data[1].as_in_context(ctxs[0])
                    label = batch.label[0].as_in_context(ctxs[0])
                    with autograd.record():
                        err, obj = objective(user, item, label)
                    obj.backward()
                    batch_sum = err.sum()
                else:
                    parts = [gluon.utils.split_and_load(array, ctxs, even_split=False)
                             for array in (batch.data[0], batch.data[1], batch.label[0])]
                    errs, objs = [], []
                    with autograd.record():
                        for user, item, label in zip(*parts):
                            err, obj = objective(user, item, label)
                            errs.append(err)
                            objs.append(obj)
                    autograd.backward(objs)
                    batch_sum = mx.nd.add_n(*[e.sum().as_in_context(ctxs[0]) for e in errs])
                trainer.step(step_divisor or size)
                net.constrain()
                epoch_sum += batch_sum
                interval_sum += batch_sum
                seen += size
                interval_seen += size
                if bar is not None:
                    bar.update(1)
                if log_interval and (nbatch + 1) % log_interval == 0:
                    mean = interval_sum.asscalar() / interval_seen
                    _check_finite(mean, epoch, nbatch, checkpoint_dir)
                    logger.info('Epoch %d / %d | Batch %d | Mean Loss: %.4f',
                                epoch + 1, epochs, nbatch + 1, mean)
                    interval_sum[:] = 0
                    interval_seen = 0
                try:
                    if any(hook.on_batch_end(epoch, nbatch) for hook in batch_hooks):
                        stop = True
                except KeyboardInterrupt:  # raised after a complete batch: stop cleanly
                    interrupt.flag = True
                if interrupt.flag:
                    interrupted = True
                if stop or interrupted:
                    break
            if bar is not None:
                bar.close()
            # Reading the loss waits for MXNet's queued work, so the time is the real one.
            train_loss = epoch_sum.asscalar() / max(seen, 1)
            mx.nd.waitall()
            elapsed = time.time() - tic
            finished_epoch = not (stop or interrupted) or (
                hasattr(train_iter, '__len__') and nbatch + 1 >= len(train_iter))
            _check_finite(train_loss, epoch, nbatch, checkpoint_dir)
            if not finished_epoch:
                if ckpt is not None and chief:
                    ckpt.save(net, trainer, {'epoch': epoch, 'batch': nbatch + 1,
                                             'history': list(history), 'best_rmse':
                                             None if best_rmse == math.inf else best_rmse,
                                             'partial': {'sum': train_loss * seen,
                                                         'seen': seen}},
                              best_changed=False)
                    logger.warning('stopped at epoch %d, batch %d; checkpoint in %s',
                                   epoch + 1, nbatch + 1, checkpoint_dir)
                break
            record = {'epoch': epoch + 1, 'train_loss': train_loss,
                      'seconds': elapsed, 'ratings_per_sec': seen / max(elapsed, 1e-9)}
            if val_iter is not None:
                scores = evaluate(net, val_iter, scaler=scaler, ctx=ctxs[0])
                record['val_rmse'], record['val_mae'] = scores['rmse'], scores['mae']
                if not math.isfinite(scores['rmse']):
                    raise FloatingPointError(f'validation RMSE is {scores["rmse"]} after '
                                             f'epoch {epoch + 1}')
            history.append(record)
            report = logger.info if chief else logger.debug
            report('Epoch %d / %d | train loss %.4f | val RMSE %s | val MAE %s | '
                   '%.1f s | %.0f ratings/s', epoch + 1, epochs, train_loss,
                   _fmt(record.get('val_rmse')), _fmt(record.get('val_mae')), elapsed,
                   record['ratings_per_sec'])
            improved = record.get('val_rmse') is not None and record['val_rmse'] < best_rmse
            if improved:
                best_rmse = record['val_rmse']
                if ckpt is None and patience and not distributed:
                    best_params_mem = {name: p.data(ctxs[0]).copy()
                                       for name, p in net.collect_params().items()}
            if ckpt is not None and chief:
                ckpt.save(net, trainer, {'epoch': epoch + 1, 'batch': 0,
                                         'history': list(history),
                                         'best_rmse': None if best_rmse == math.inf
                                         else best_rmse}, best_changed=improved)
            start_batch = 0
            if any(hook(record) for hook in epoch_hooks):
                logger.info('stopping after epoch %d', epoch + 1)
                break
    if patience and best_rmse < math.inf and not distributed:
        # (In a parameter-server job the servers hold the parameters: the last ones stay.)
        _restore_best(net, ckpt, best_params_mem, ctxs)
    if interrupted:
        logger.warning('training interrupted; returning the history so far')
    return history


def _kvstore(kvstore, train_iter, net):
    """(kvstore or name, worker rank, number of workers) for the Trainer.

    A 'dist_*' name connects to the parameter server (the DMLC_* variables set by
    ``gluonrec.launch``); the iterator must then read this worker's shard.
    """
    kv = kvstore
    if isinstance(kvstore, str) and kvstore.startswith('dist'):
        kv = mx.kv.create(kvstore)
    if not isinstance(kv, mx.kvstore.KVStore) or 'dist' not in kv.type:
        return kv, 0, 1
    if getattr(net, 'sparse_grad', False) and not getattr(net, 'row_sparse_weights', False):
        # MXNet's servers cannot apply row_sparse gradients to densely stored weights.
        raise ValueError('parameter-server training with sparse gradients needs the model '
                         'built with row_sparse_weights=True (rows travel both ways), or '
                         'sparse_grad=False')
    parts = getattr(train_iter, 'num_parts', None)
    if parts is not None and (parts != kv.num_workers or train_iter.part_index != kv.rank):
        raise ValueError(f'kvstore {kv.type} has {kv.num_workers} workers and this is rank '
                         f'{kv.rank}, but the iterator reads part {train_iter.part_index} of '
                         f'{parts}: build it with num_parts=kv.num_workers, part_index=kv.rank')
    return kv, kv.rank, kv.num_workers


def _restore_best(net, ckpt, best_params_mem, ctxs):
    if ckpt is not None:
        state = ckpt.load()
        if state and state.get('best_params'):
            _load_params(net, ckpt.path(state['best_params']), ctxs)
    elif best_params_mem is not None:
        for name, param in net.collect_params().items():
            param.set_data(best_params_mem[name])


class _Objective(gluon.HybridBlock):
    """Prediction error and training objective in one graph, so a hybridized step is a
    single cached-graph call: returns (error, error + reg * penalty), each (batch,)."""

    def __init__(self, net, reg, square):
        super().__init__(prefix='objective_')
        self.net, self.reg, self.square = net, float(reg), square

    def hybrid_forward(self, F, user, item, label):
        diff = self.net(user, item) - label
        err = F.square(diff) if self.square else F.abs(diff)
        if not self.reg:
            return err, err
        return err, err + self.reg * self.net.penalty(F, user, item)


def _check_finite(value, epoch, nbatch, checkpoint_dir):
    if not math.isfinite(value):
        where = f'; the last good checkpoint is in {checkpoint_dir}' if checkpoint_dir else ''
        raise FloatingPointError(f'training loss is {value} at epoch {epoch + 1}, batch '
                                 f'{nbatch + 1}: lower the learning rate{where}')


def _fmt(value):
    return 'n/a' if value is None else f'{value:.4f}'
