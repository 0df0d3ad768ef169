"""The training recipe, written once: model -> scaler -> RatingIter -> fit -> result.

Scripts, benchmarks and research code call ``train_model``; a preset fills only the
settings the caller left unset (``gluonrec.presets.resolve``).
"""
import hashlib
import json
import logging
import os
import time

import numpy as np

from ._io import write_json
from .context import resolve_ctx
from .data import (IdentityScaler, MinMaxScaler, NegativeSampleIter, RatingIter, RowIter,
                   is_positives, positives, random_split, split_per_user)
from .data.catalog import family_of
from .data.implicit import in_sorted, pair_keys
from .data.sampling import SAMPLING
from .distributed import connect, is_distributed
from .evaluation import evaluate
from .foldin import fold_in_weights
from .metrics import mae, rmse
from .ranking_eval import Popularity, RankingValidation, evaluate_ranking
from .models import get_model, model_class
from .persist import save_model
from .presets import DEFAULT_MODEL, resolve
from .recommender import Recommender
from .train import History, fit
from .train.engine import choose_engine

__all__ = ['train_model', 'TrainedModel', 'refit_epochs']

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
        Wall time of ``fit`` (of both phases, with a refit).
    rank : int
        This worker's rank in a parameter-server job (0 otherwise).
    selection : History or None
        With a refit (``settings['refit']``): the history of the selection run, which
        chose the number of epochs on ``val``; ``history`` is then the refit's, on
        every rating, ``val`` among them, and ``train`` is all the ratings.
    """

    def __init__(self, net, scaler, train, val, train_iter, history, settings, seconds,
                 rank=0, selection=None):
        self.net, self.scaler, self.train, self.val = net, scaler, train, val
        self.train_iter, self.history, self.settings = train_iter, history, settings
        self.seconds, self.rank, self.selection = seconds, rank, selection
        self._scores = None  # validation scores of the returned parameters, once computed

    def recommender(self):
        """A ``Recommender`` over the trained network (val as its held-out part)."""
        return Recommender(self.net, self.train, self.scaler, test=self.val,
                           history=self.history, config={'extra': {'settings': self.settings}})

    def save(self, folder, extra=None, test=None):
        """``save_model`` with the settings recorded under ``extra['settings']``, and
        ``test`` (default: the validation part) as the held-out split saved with it."""
        return save_model(folder, self.net, self.train, self.scaler, history=self.history,
                          test=self.val if test is None else test,
                          extra={'settings': self.settings, **(extra or {})})

    def summary(self):
        """What the returned (and saved) parameters score on the validation ratings, and
        whose they are, next to the best epoch and the constant-mean baseline.

        'val_rmse', 'val_mae': the model as it is now, evaluated afresh; 'epoch': the
        epoch whose parameters it holds ('params_epoch' of the history: the best one when
        early stopping restored it, else the last; None when training stopped inside an
        epoch); 'best_epoch', 'best_val_rmse': the best epoch of the history.
        """
        if self.net.task == 'ranking':
            return self._ranking_summary()
        if self.selection is not None:
            return self._refit_summary()
        best = self.history.best() or {}
        out = {'epoch': self.history.params_epoch, 'best_epoch': best.get('epoch'),
               'best_val_rmse': best.get('val_rmse'), 'val_rmse': None, 'val_mae': None,
               'seconds': self.seconds, 'refit': False}
        if self.val is not None and len(self.val):
            if self._scores is None:
                self._scores = evaluate(self.net, self.val, self.scaler)
            out.update(val_rmse=self._scores['rmse'], val_mae=self._scores['mae'],
                       **_baseline(self.val, float(np.mean(self.train.rating))))
        return out

    def _refit_summary(self):
        """For a refit model: the selection run's validation scores at the epoch it chose
        (the refit model's own score on held-out data is unknown: it trained on them)."""
        chosen = self.settings.get('chosen_epoch', self.settings['refit_epochs'])
        record = next((r for r in self.selection if r['epoch'] == chosen), {})
        best = self.selection.best() or {}
        # ``train`` is every rating, ``val`` among them: the selection run's training mean
        # is what is left once the validation ratings are taken out.
        total = float(np.sum(self.train.rating, dtype=np.float64))
        held = float(np.sum(self.val.rating, dtype=np.float64))
        mean = (total - held) / (len(self.train) - len(self.val))
        return {'epoch': chosen, 'best_epoch': best.get('epoch'),
                'best_val_rmse': best.get('val_rmse'), 'val_rmse': record.get('val_rmse'),
                'val_mae': record.get('val_mae'), 'seconds': self.seconds, 'refit': True,
                'refit_epochs': self.settings['refit_epochs'], **_baseline(self.val, mean)}


    def _ranking_summary(self):
        """A ranking model's summary: its validation NDCG@k, Recall@k and HR@k (of the
        selection run's chosen epoch after a refit), and popularity's on the same users."""
        k = self.settings['rank_k']
        history = self.selection if self.selection is not None else self.history
        best = history.best() or {}
        keys = [f'{name}@{k}' for name in ('ndcg', 'recall', 'hit')]
        out = {'epoch': self.settings.get('chosen_epoch', self.settings.get(
                   'refit_epochs', self.history.params_epoch)),
               'best_epoch': best.get('epoch'), 'seconds': self.seconds,
               'refit': self.selection is not None, 'k': k,
               **{f'val_{key}': None for key in keys}}
        if self.val is None or not len(self.val):
            return out
        train = self.train
        if self.selection is not None:  # the selection run's part: all but the val rows
            record = next((r for r in self.selection if r['epoch'] == out['epoch']), {})
            out.update({f'val_{key}': record.get(f'val_{key}') for key in keys})
            train = _without(self.train, self.val)
        else:
            if self._scores is None:
                self._scores = evaluate_ranking(self.net, train, self.val, k=k)
            out.update({f'val_{key}': self._scores[key] for key in keys})
        popular = evaluate_ranking(Popularity(train), train, self.val, k=k)
        out.update({f'baseline_{key}': popular[key] for key in keys})
        return out


def _without(data, part):
    """``data`` less the (user, item) pairs of ``part`` (both positives, same maps)."""
    held = np.unique(pair_keys(part.user, part.item, data.num_items))
    return data.subset(~in_sorted(held, pair_keys(data.user, data.item, data.num_items)))


def _baseline(val, mean):
    """RMSE and MAE on ``val`` of predicting the constant training ``mean``."""
    constant = np.full(len(val), mean)
    return {'baseline_rmse': rmse(val.rating, constant),
            'baseline_mae': mae(val.rating, constant)}


def _split(ratings, val, val_fraction, seed, ranking=False):
    if val is not None:
        return ratings, val
    if val_fraction and ranking:  # each user's positives, at random (RecBole's split)
        return split_per_user(ratings, (1 - val_fraction, val_fraction), seed=seed)
    if val_fraction:
        return random_split(ratings, val_fraction, seed=seed)
    return ratings, None


def _as_positives(ratings, val, threshold):
    """A ranking model's positives (and validation positives) from ``ratings``."""
    if threshold is not None or not is_positives(ratings):
        ratings = positives(ratings, threshold)
    if val is not None and (threshold is not None or not is_positives(val)):
        val = positives(val, threshold)
    return ratings, val


def _ranking_iter(net, train, settings, seed, workers, rank):
    """A ranking model's batches: one batch of every positive per epoch for a model
    solved in closed form, else positives with sampled negatives (``NegativeSampleIter``,
    this worker's shard)."""
    if net.closed_form:
        if workers > 1:
            raise ValueError(f'{type(net).__name__} is solved in closed form in one process')
        return RatingIter.from_ratings(train, batch_size=len(train), shuffle=False,
                                       prefetch=False)
    return NegativeSampleIter.from_ratings(
        train, batch_size=max(1, settings['batch_size'] // workers),
        num_negatives=settings['num_negatives'], sampling=settings['sampling'], seed=seed,
        num_parts=workers, part_index=rank)


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
                row_sparse_weights=None, loss=None, scaler=None, seed=0, ctx='auto',
                kvstore='device', checkpoint_dir=None, resume=False, log_interval=None,
                progress=False, callbacks=(), engine=None, hybridize=True, verbose=False,
                refit=None, scale_refit=True, threshold=None, num_negatives=None,
                sampling='uniform', rank_k=10):
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
        Whose presets fill the unset settings (default: ``family_of(ratings)``, the
        declared family of the data set, else MovieLens' with a warning).
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
        optimizers, on CPU, a C++ compiler at hand), else the generic one. Presets are
        per engine; the engine used is ``settings['engine']``.
    loss, ctx, checkpoint_dir, resume, log_interval, progress, callbacks, hybridize, verbose
        As in ``fit`` (``loss`` None: 'l2', or a ranking model's ``objective``).
    scaler : MinMaxScaler, optional
        Default: the rating scale onto the model's ``feature_range``.
    seed : int
        Seeds the split, the iterator's order and the parameters.
    kvstore : str or mx.kv.KVStore
        'device', 'local', or 'dist_sync' / 'dist_async' / 'dist_device_sync' in a job
        started by ``python -m gluonrec.launch`` (this worker then reads its shard).
    refit : bool, optional
        After early stopping chose the epoch on the validation part, train a fresh model
        on all of ``ratings`` (validation part included) for that many epochs, and
        return it: the model then learns from every rating it was given. Default: on
        when this function holds the validation part out itself (``val_fraction``) and
        stops early (``patience`` > 0) in one process; never with a ``val`` of yours.
        ``summary()`` then reports the selection run's validation scores, and the
        refit model's own held-out score is unknown. Checkpoints of the refit go to
        ``checkpoint_dir/refit`` (with ``selection.json``, what the selection chose), so
        ``resume`` continues either phase. ``False``: return the selection run's model.
    scale_refit : bool
        A rating model's refit trains for the chosen number of epochs times the data's
        growth (all the ratings over the selection run's share of them: 1.25 with
        ``val_fraction=0.2``), rounded. Measured with ``refit.py`` (three seeds): better
        than the chosen number on Jester for biased_mf, mf, nnmf and svdpp and on
        ml-100k for nnmf, the same within noise elsewhere, except mlp on ml-100k
        (+0.0045 RMSE; docs/benchmarks.md). ``settings['chosen_epoch']`` is the selection's
        choice, ``settings['refit_epochs']`` what the refit ran. False: the chosen
        number itself. A ranking model's refit keeps the chosen number (not measured).

    threshold : float, optional
        For a ranking model (``task = 'ranking'``: bpr_mf, gmf, neumf, ials, ease):
        ratings ``>= threshold`` are its positives (``gluonrec.data.positives``; default:
        every rating, or ``ratings`` as they are when they are positives already).
        ``val`` is converted the same way.
    num_negatives : int, optional
        Negatives sampled per positive for a ranking model trained on a loss (default:
        the model's ``num_negatives``).
    sampling : {'uniform', 'popularity'}
        How negatives are drawn (``NegativeSampleIter``).
    rank_k : int
        A ranking model validates, stops early and is selected on NDCG@``rank_k``
        (with ``val_fraction``, the validation part is a random share of each user's
        positives).

    A ranking model trains on positives without a scaler (``IdentityScaler``), with
    ``loss`` left None taking its ``objective`` ('bpr', 'bce'; none for the models
    solved in closed form).

    Returns
    -------
    TrainedModel
    """
    family = family or _family(ratings, model)
    cls = model_class(model or DEFAULT_MODEL[family])
    ranking = cls.task == 'ranking'
    if ranking:
        ratings, val = _as_positives(ratings, val, threshold)
        loss = loss or cls.objective
        num_negatives = cls.num_negatives if num_negatives is None else num_negatives
        if sampling not in SAMPLING:
            raise ValueError(f'sampling must be one of {SAMPLING}, got {sampling!r}')
    elif threshold is not None or num_negatives is not None:
        raise ValueError(f'threshold and num_negatives are for ranking models; '
                         f'{cls.__name__} predicts ratings')
    else:
        loss = loss or 'l2'
    kv, rank, workers = connect(kvstore)
    engine = choose_engine(engine, cls, resolve_ctx(ctx), optimizer,
                           {'wd': wd} if wd else None, loss, kv, bool(row_sparse_weights),
                           default='auto')
    stops_early = val is not None or bool(val_fraction)
    settings = resolve(family, model, engine, early_stopping=stops_early,
                       model_defaults=dict(cls.training_defaults,
                                           **(cls.fused_training_defaults
                                              if engine == 'fused' else {})),
                       num_factors=num_factors,
                       epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                       wd=wd, reg=reg, patience=patience, sparse_grad=sparse_grad)
    settings.update(val_fraction=None if val is not None else val_fraction, seed=seed,
                    engine=engine)
    if ranking:
        settings.update(loss=loss, threshold=threshold, rank_k=int(rank_k),
                        num_negatives=None if cls.closed_form else int(num_negatives),
                        sampling=None if cls.closed_form else sampling)
    refit = _wants_refit(refit, val, val_fraction, settings['patience'], workers)
    settings['refit'] = refit
    train, val = _split(ratings, val, val_fraction, seed, ranking)
    sparse = settings['sparse_grad']
    if is_distributed(kv):
        # A projection (nnmf) must run where the update happens: dense gradients there.
        sparse = sparse and not model_class(settings['model']).constrained
        row_sparse_weights = sparse if row_sparse_weights is None else row_sparse_weights
    settings['sparse_grad'] = sparse
    settings['model_kwargs'].update(model_kwargs or {})

    def run(data, held_out, epochs, patience, folder, again):
        """Build the model for ``data``, ``fit`` it: (net, scaler, iterator, history)."""
        net = get_model(settings['model'], num_users=data.num_users,
                        num_items=data.num_items, num_factors=settings['num_factors'],
                        sparse_grad=sparse, row_sparse_weights=bool(row_sparse_weights),
                        **settings['model_kwargs'])
        if ranking:
            fitted_scaler = scaler or IdentityScaler()
        else:
            fitted_scaler = scaler or MinMaxScaler.from_scale(data.scale, net.feature_range)
        net.attach_ratings(data, fitted_scaler)
        if ranking:
            train_iter = _ranking_iter(net, data, settings, seed, workers, rank)
            val_iter = None if held_out is None else \
                RankingValidation(data, held_out, k=settings['rank_k'])
        else:
            train_iter = _train_iter(net, data, fitted_scaler, settings['batch_size'], seed,
                                     workers, rank)
            val_iter = None if held_out is None else \
                RatingIter.from_ratings(held_out, fitted_scaler, batch_size=65536,
                                        shuffle=False)
        history = fit(net, train_iter, val_iter, epochs=epochs,
                      optimizer=settings['optimizer'], learning_rate=settings['lr'],
                      wd=settings['wd'], reg=settings['reg'], loss=loss, scaler=fitted_scaler,
                      ctx=ctx, kvstore=kv, log_interval=log_interval, callbacks=callbacks,
                      checkpoint_dir=folder, resume=again, patience=patience,
                      hybridize=hybridize, seed=seed, progress=progress, engine=engine,
                      verbose=verbose)
        return net, fitted_scaler, train_iter, history

    logger.info('%s: %d ratings, %d users, %d items; training %s on %d, validating on %d',
                ratings.name, len(train) + (0 if val is None else len(val)), train.num_users,
                train.num_items, settings['model'], len(train), 0 if val is None else len(val))
    tic = time.time()
    refit_dir = os.path.join(checkpoint_dir, REFIT_FOLDER) if checkpoint_dir else None
    chooses = _selection_signature(settings, train, val)
    selection = _read_selection(refit_dir, chooses) if refit and resume else None
    if selection is None:
        net, scaler_used, train_iter, history = run(train, val, settings['epochs'],
                                                    settings['patience'] or None,
                                                    checkpoint_dir, resume)
        selection = {'epochs': history.params_epoch, 'history': list(history),
                     'interrupted': history.interrupted, 'signature': chooses}
        if refit and not selection['interrupted'] and selection['epochs'] and not ranking:
            # Chosen now, while the validation part is still held out of the model.
            chosen = Recommender(net, train, scaler_used, test=val, history=history,
                                 config={'extra': {'settings': settings}})
            selection['fold_in_reg'] = fold_in_weights(chosen)
        if not refit or selection['interrupted'] or not selection['epochs']:
            if refit:
                logger.warning('training was interrupted, so the model is not refit on '
                               'all the ratings: it is the selection run\'s')
                settings['refit'] = False
            return TrainedModel(net, scaler_used, train, val, train_iter, history, settings,
                                time.time() - tic, rank=rank)
        if refit_dir:
            _write_selection(refit_dir, selection)
    chosen = selection['epochs']
    epochs = refit_epochs(chosen, len(ratings), len(train), scale_refit and not ranking)
    logger.info('refitting on all %d ratings for %d epochs, %s', len(ratings), epochs,
                'the number chosen on the validation part' if epochs == chosen else
                f'the {chosen} chosen on the validation part times the data\'s growth '
                f'({len(ratings) / len(train):.3g})')
    net, scaler_used, train_iter, history = run(ratings, None, epochs, None, refit_dir,
                                                resume)
    settings.update(chosen_epoch=chosen, refit_epochs=epochs)
    settings['fold_in_reg'] = selection.get('fold_in_reg', {})
    return TrainedModel(net, scaler_used, ratings, val, train_iter, history, settings,
                        time.time() - tic, rank=rank, selection=History(selection['history']))


def refit_epochs(chosen, total, selection_part, scale):
    """The refit's epochs: ``chosen`` times the data's growth (``total`` ratings over
    the ``selection_part`` the choice trained on), rounded, when ``scale``."""
    return max(1, round(chosen * total / selection_part)) if scale else chosen


def _family(ratings, model):
    """The preset family of ``ratings`` (``family_of``); for ratings no declared data set
    matches, MovieLens' presets, with a warning when a rating model will use them."""
    family = family_of(ratings)
    if family is None:
        family = 'movielens'
        if model is None or model_class(model).task != 'ranking':
            logger.warning('%s: no declared data set on the scale %s; training with the '
                           'MovieLens presets (family= chooses others)', ratings.name,
                           tuple(ratings.scale))
    return family


#: The checkpoint folder's subfolder that holds the refit phase's checkpoints and what
#: the selection run chose (``selection.json``).
REFIT_FOLDER = 'refit'
_SELECTION = 'selection.json'


def _wants_refit(refit, val, val_fraction, patience, workers):
    """Whether to refit on all the ratings: by default when ``train_model`` holds the
    validation part out itself and stops early on it (never on a ``val`` the caller
    gave, which may be a test part)."""
    if refit is None:
        return val is None and bool(val_fraction) and bool(patience) and workers == 1
    if refit and val is not None:
        raise ValueError('refit=True needs train_model to hold out the validation part '
                         'itself (val_fraction); with a val of your own, refit on both '
                         'yourself')
    if refit and not val_fraction:
        raise ValueError('refit=True needs a validation part to choose the epoch on '
                         '(val_fraction > 0)')
    if refit and workers > 1:
        raise ValueError('refit is not supported in a parameter-server job')
    return bool(refit)


def _selection_signature(settings, train, val):
    """What the selection run's choice depends on (JSON): its settings and a SHA-256
    of the split it trained and validated on. A resumed refit must share them."""
    digest = hashlib.sha256()
    for part in (train, val) if val is not None else (train,):
        for array in (part.user, part.item, part.rating):
            digest.update(np.ascontiguousarray(array).tobytes())
    keys = sorted(set(settings) - {'refit', 'refit_epochs', 'chosen_epoch', 'fold_in_reg'})
    return json.loads(json.dumps({**{key: settings[key] for key in keys},
                                  'split (sha256)': digest.hexdigest()}))


def _read_selection(folder, signature):
    """What an earlier run's selection phase chose (its ``selection.json``), when it was
    made with ``signature``; None otherwise, and the selection run then resumes from its
    own checkpoint, whose checks name any setting or data that differs (a larger
    ``epochs`` continues it)."""
    path = os.path.join(folder, _SELECTION) if folder else None
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as handle:
            selection = json.load(handle)
        int(selection['epochs'])
        list(selection['history'])
        saved = dict(selection['signature'])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f'{path}: corrupt ({exc!r})') from None
    return selection if saved == signature else None


def _write_selection(folder, selection):
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, _SELECTION), selection)
