"""Callbacks of the training loop: early stopping, the best parameters, progress, logging.

A callback is any callable taking the epoch's record; returning True stops training.
An object with ``on_batch_end(epoch, batch)`` is also called after every batch (or
chunk) and stops training after it by returning True.
"""
import logging
import math

__all__ = ['EarlyStopping', 'BestParameters', 'ProgressBar', 'BatchLog', 'log_epoch']

logger = logging.getLogger('gluonrec.train')


def _better(mode, value, best, min_delta=0.0):
    """True when ``value`` improves on ``best``: lower for mode 'min', higher for 'max'."""
    if mode == 'min':
        return value < best - min_delta
    return value > best + min_delta


def _worst(mode):
    return math.inf if mode == 'min' else -math.inf


def _check_mode(mode):
    if mode not in ('min', 'max'):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs (lower is better
    with ``mode`` 'min', as for 'val_rmse'; higher with 'max', as for 'val_ndcg@10')."""

    def __init__(self, patience=3, monitor='val_rmse', min_delta=0.0, mode='min'):
        if patience < 1:
            raise ValueError(f'patience must be >= 1, got {patience}')
        _check_mode(mode)
        self.patience, self.monitor, self.min_delta, self.mode = patience, monitor, \
            min_delta, mode
        self.best, self.wait = _worst(mode), 0

    def __call__(self, record):
        value = record.get(self.monitor)
        if value is None:
            return False
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


class BestParameters:
    """The best validation score so far (``monitor``, lower or higher being better by
    ``mode``) and, when asked to, an in-memory copy of the parameters that reached it
    (the checkpoint keeps its own copy on disk)."""

    def __init__(self, best=None, keep_copy=False, monitor='val_rmse', mode='min'):
        _check_mode(mode)
        self.monitor, self.mode = monitor, mode
        self.value = _worst(mode) if best is None else best
        self.keep_copy = keep_copy
        self.copy = None

    @property
    def found(self):
        """Whether some epoch was validated (``value`` is a score)."""
        return math.isfinite(self.value)

    def update(self, net, record, ctx):
        """Note ``record``'s validation score; True when it is a new best."""
        value = record.get(self.monitor)
        if value is None or not _better(self.mode, value, self.value):
            return False
        self.value = value
        if self.keep_copy:
            self.copy = {name: p.data(ctx).copy() for name, p in net.collect_params().items()}
        return True

    def restore(self, net):
        """Put the kept copy back into ``net`` (no-op without one)."""
        if self.copy is not None:
            for name, param in net.collect_params().items():
                param.set_data(self.copy[name])

    def as_json(self):
        return self.value if self.found else None


class ProgressBar:
    """A tqdm bar per epoch (import deferred: only when shown)."""

    def __init__(self, enabled):
        self.enabled, self.bar = enabled, None

    def start(self, epoch, epochs, total):
        if self.enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=f'epoch {epoch + 1}/{epochs}', leave=False)

    def update(self, batches=1):
        if self.bar is not None:
            self.bar.update(batches)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class BatchLog:
    """Logs ``Epoch e / E | Batch b | Mean Loss: x`` every ``interval`` batches, and
    checks that the mean is finite (reading it waits for MXNet's queue)."""

    def __init__(self, interval, check):
        self.interval, self.check = interval, check
        self.total, self.seen = None, 0

    def add(self, batch_sum, size):
        self.total = batch_sum if self.total is None else self.total + batch_sum
        self.seen += size

    def after_batch(self, epoch, epochs, nbatch):
        if not self.interval or (nbatch + 1) % self.interval:
            return
        mean = self.total.asscalar() / self.seen
        self.check(mean, epoch, nbatch)
        logger.info('Epoch %d / %d | Batch %d | Mean Loss: %.4f', epoch + 1, epochs,
                    nbatch + 1, mean)
        self.total, self.seen = None, 0


def _fmt(value):
    return 'n/a' if value is None else f'{value:.4f}'


#: How the epoch line names the validation scores a record may hold.
_LABELS = {'val_rmse': 'val RMSE', 'val_mae': 'val MAE', 'val_ndcg': 'val NDCG',
           'val_recall': 'val Recall', 'val_hit': 'val HR'}


def score_label(key):
    name, _, cut = key.partition('@')
    return _LABELS.get(name, name.replace('_', ' ')) + (f'@{cut}' if cut else '')


def log_epoch(record, epochs, chief=True, echo=False, unit='ratings'):
    """The epoch's one summary line: logged (at debug level on workers other than rank
    0), and with ``echo`` also printed, for a session where logging is not set up.
    Rating models show validation RMSE and MAE, ranking models their NDCG@k, Recall@k
    and HR@k; ``unit`` names what the speed counts (ratings, or positives)."""
    scores = ''.join(f' | {score_label(key)} {_fmt(value)}'
                     for key, value in record.items() if key.startswith('val_'))
    line = (f"Epoch {record['epoch']} / {epochs} | train loss {record['train_loss']:.4f}"
            f"{scores} | {record['seconds']:.1f} s | {record['ratings_per_sec']:.0f} {unit}/s")
    (logger.info if chief else logger.debug)(line)
    if echo and chief:
        print(line, flush=True)
