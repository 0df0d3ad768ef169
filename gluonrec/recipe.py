"""The training recipe, written once: model -> scaler -> RatingIter -> fit -> result.

Scripts, benchmarks and research code call ``train_model``; a preset fills only the
settings the caller left unset (``gluonrec.presets.resolve``).
"""
import logging
import time

import numpy as np

from .context import resolve_ctx
from .data import MinMaxScaler, RatingIter, RowIter, random_split
from .data.catalog import family_of
from .distributed import connect, is_distributed
from .evaluation import evaluate
from .metrics import mae, rmse
from .models import get_model, model_class
from .persist import save_model
from .presets import DEFAULT_MODEL, resolve
from .recommender import Recommender
from .train import fit
from .train.engine import choose_engine

__all__ = ['train_model', 'TrainedModel']

logger = logging.getLogger(__name__)


class TrainedModel:
    """What a training run produced.

    Attributes
    ----------
    net : RecModel
    scaler : MinMaxScaler
    train, val : Ratings
        The ratings trained on and those validated on (``val`` None without validation).
    train_iter : RatingIter
    history : History
    settings : dict
        Every setting used, the preset's and the caller's ('model', 'num_factors', ...).
    seconds : float
        Wall time of ``fit``.
    rank : int
        This worker's rank in a parameter-server job (0 otherwise).
    """

    def __init__(self, net, scaler, train, val, train_iter, history, settings, seconds,
                 rank=0):
        self.net, self.scaler, self.train, self.val = net, scaler, train, val
        self.train_iter, self.history, self.settings = train_iter, history, settings
        self.seconds, self.rank = seconds, rank
        self._scores = None  # validation scores of the returned parameters, once computed

    def recommender(self):
        """A ``Recommender`` over the trained network (val as its held-out part)."""
        return Recommender(self.net, self.train, self.scaler, test=self.val,
                           history=self.history, config={'extra': {'settings': self.settings}})

    def save(self, folder, extra=None):
        """``save_model`` with the settings recorded under ``extra['settings']``."""
        return save_model(folder, self.net, self.train, self.scaler, history=self.history,
                          test=self.val, extra={'settings': self.settings, **(extra or {})})

    def summary(self):
        """What the returned (and saved) parameters score on the validation ratings, and
        whose they are, next to the best epoch and the constant-mean baseline.

        'val_rmse', 'val_mae': the model as it is now, evaluated afresh; 'epoch': the
        epoch whose parameters it holds ('params_epoch' of the history: the best one when
        early stopping restored it, else the last; None when training stopped inside an
        epoch); 'best_epoch', 'best_val_rmse': the best epoch of the history.
        """
        best = self.history.best() or {}
        out = {'epoch': self.history.params_epoch, 'best_epoch': best.get('epoch'),
               'best_val_rmse': best.get('val_rmse'), 'val_rmse': None, 'val_mae': None,
               'seconds': self.seconds}
        if self.val is not None and len(self.val):
            if self._scores is None:
                self._scores = evaluate(self.net, self.val, self.scaler)
            out.update(val_rmse=self._scores['rmse'], val_mae=self._scores['mae'])
            constant = np.full(len(self.val), float(np.mean(self.train.rating)))
            out.update(baseline_rmse=rmse(self.val.rating, constant),
                       baseline_mae=mae(self.val.rating, constant))
        return out


def _split(ratings, val, val_fraction, seed):
    if val is not None:
        return ratings, val
    if val_fraction:
        return random_split(ratings, val_fraction, seed=seed)
    return ratings, None


def _train_iter(net, train, scaler, batch_size, seed, workers, rank):
    """A model's training batches: whole rows for a model that asks for them
    (``batch_rows``; ``batch_size`` rows), else ratings, this worker's shard of them."""
    if net.batch_rows is not None:
        if workers > 1:
            raise ValueError(f'{type(net).__name__} trains on whole rows, which a '
                             'parameter-server job does not shard; train it in one process')
        return RowIter.from_ratings(train, scaler, batch_size=batch_size, seed=seed,
                                    rows=net.batch_rows)
    return RatingIter.from_ratings(train, scaler, batch_size=max(1, batch_size // workers),
                                   seed=seed, num_parts=workers, part_index=rank)


def train_model(ratings, val=None, *, model=None, family=None, val_fraction=0.2,
                num_factors=None, epochs=None, batch_size=None, optimizer=None, lr=None,
                wd=None, reg=None, patience=None, sparse_grad=None, model_kwargs=None,
                row_sparse_weights=None, loss='l2', scaler=None, seed=0, ctx='auto',
                kvstore='device', checkpoint_dir=None, resume=False, log_interval=None,
                progress=False, callbacks=(), engine=None, hybridize=True, verbose=False):
    """Build a model, scale the ratings, iterate, ``fit``; return a ``TrainedModel``.

    Parameters
    ----------
    ratings : Ratings
        The ratings to train on; split by ``val_fraction`` unless ``val`` is given.
    val : Ratings, optional
        Validation ratings (sharing the id maps); ``ratings`` is then trained on whole.
    model : str, optional
        A registered model name (default: the family's best).
    family : {'jester', 'movielens'}, optional
        Whose presets fill the unset settings (default: from the rating scale).
    val_fraction : float
        Share held out for validation when no ``val`` is given (0: no validation).
    num_factors, epochs, batch_size, optimizer, lr, wd, reg, patience, sparse_grad
        Training settings; None takes the preset's (see ``gluonrec.presets.resolve``).
        ``patience`` 0 turns early stopping off; ``batch_size`` is the global batch,
        which a parameter-server job divides among its workers.
    model_kwargs : dict, optional
        Further constructor arguments of the model (``hidden``, ``dropout``, ...), over
        those of the preset (``settings['model_kwargs']``; AutoRec's dropout).
    row_sparse_weights : bool, optional
        Default: on with sparse gradients in a parameter-server job, where MXNet's
        servers need row_sparse tables (a constrained model trains dense there).
    engine : {'auto', 'fused', 'generic'}, optional
        As in ``fit``, but the default is ``$GLUONREC_ENGINE``, else 'auto': the fused
        engine where it can train (``gluonrec.train.fused.describe()``'s models and
        optimizers, on CPU, a C++ compiler at hand), else the generic one. Presets are per engine; the engine
        used is ``settings['engine']``.
    loss, ctx, checkpoint_dir, resume, log_interval, progress, callbacks, hybridize, verbose
        As in ``fit``.
    scaler : MinMaxScaler, optional
        Default: the rating scale onto the model's ``feature_range``.
    seed : int
        Seeds the split, the iterator's order and the parameters.
    kvstore : str or mx.kv.KVStore
        'device', 'local', or 'dist_sync' / 'dist_async' / 'dist_device_sync' in a job
        started by ``python -m gluonrec.launch`` (this worker then reads its shard).

    Returns
    -------
    TrainedModel
    """
    family = family or family_of(ratings)
    kv, rank, workers = connect(kvstore)
    cls = model_class(model or DEFAULT_MODEL[family])
    engine = choose_engine(engine, cls, resolve_ctx(ctx), optimizer,
                           {'wd': wd} if wd else None, loss, kv, bool(row_sparse_weights),
                           default='auto')
    stops_early = val is not None or bool(val_fraction)
    settings = resolve(family, model, engine, early_stopping=stops_early,
                       model_defaults=cls.training_defaults, num_factors=num_factors, epochs=epochs, batch_size=batch_size,
                       optimizer=optimizer, lr=lr, wd=wd, reg=reg, patience=patience,
                       sparse_grad=sparse_grad)
    settings.update(val_fraction=None if val is not None else val_fraction, seed=seed,
                    engine=engine)
    train, val = _split(ratings, val, val_fraction, seed)
    sparse = settings['sparse_grad']
    if is_distributed(kv):
        # A projection (nnmf) must run where the update happens: dense gradients there.
        sparse = sparse and not model_class(settings['model']).constrained
        row_sparse_weights = sparse if row_sparse_weights is None else row_sparse_weights
    settings['model_kwargs'].update(model_kwargs or {})
    net = get_model(settings['model'], num_users=train.num_users, num_items=train.num_items,
                    num_factors=settings['num_factors'], sparse_grad=sparse,
                    row_sparse_weights=bool(row_sparse_weights), **settings['model_kwargs'])
    scaler = scaler or MinMaxScaler.from_scale(train.scale, net.feature_range)
    net.attach_ratings(train, scaler)
    train_iter = _train_iter(net, train, scaler, settings['batch_size'], seed, workers, rank)
    val_iter = None if val is None else \
        RatingIter.from_ratings(val, scaler, batch_size=65536, shuffle=False)
    logger.info('%s: %d ratings, %d users, %d items; training %s on %d, validating on %d',
                ratings.name, len(train) + (0 if val is None else len(val)), train.num_users,
                train.num_items, settings['model'], len(train), 0 if val is None else len(val))
    tic = time.time()
    history = fit(net, train_iter, val_iter, epochs=settings['epochs'],
                  optimizer=settings['optimizer'], learning_rate=settings['lr'],
                  wd=settings['wd'], reg=settings['reg'], loss=loss, scaler=scaler, ctx=ctx,
                  kvstore=kv, log_interval=log_interval, callbacks=callbacks,
                  checkpoint_dir=checkpoint_dir, resume=resume,
                  patience=settings['patience'] or None, hybridize=hybridize, seed=seed,
                  progress=progress, engine=engine, verbose=verbose)
    settings['sparse_grad'] = sparse
    return TrainedModel(net, scaler, train, val, train_iter, history, settings,
                        time.time() - tic, rank=rank)
