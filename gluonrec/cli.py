"""The logic behind scripts/: shared flags, error handling, train-and-save."""
import argparse
import json
import logging
import os
import sys
import time

import numpy as np

from .data import MinMaxScaler, RatingIter, random_split
from .data.download import data_home
from .metrics import mae, rmse
from .models import get_model, model_names
from .persist import save_model
from .presets import preset
from .train import fit, resolve_ctx

__all__ = ['ScriptError', 'run_main', 'add_training_args', 'add_model_dir_args',
           'apply_preset', 'positive_int', 'share', 'train_and_save',
           'configure_logging']

logger = logging.getLogger(__name__)


class ScriptError(Exception):
    """Bad input to a script: printed as one line, exit status 2."""


def run_main(body, argv, prog):
    """Run ``body(argv)``; turn bad-input errors into one line on stderr and exit 2.

    In a parameter-server worker any failure ends the process at once (``os._exit``):
    a normal exit would wait in MXNet's kvstore shutdown for the other workers forever.
    """
    in_job = os.environ.get('DMLC_ROLE') == 'worker'
    try:
        code = body(argv) or 0
    except (ScriptError, ValueError, KeyError, FileNotFoundError, IsADirectoryError,
            FloatingPointError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'{prog}: error: {message}', file=sys.stderr)
        code = 2
    except BaseException:
        if not in_job:
            raise
        import traceback
        traceback.print_exc()
        code = 1
    if in_job and code:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def configure_logging(verbose=False):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format='%(message)s', stream=sys.stdout)


def _checked(convert, ok, requirement):
    """An argparse type: ``convert`` the text, then require ``ok(value)``."""
    noun = 'an integer' if convert is int else 'a number'

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not {noun}') from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f'must be {requirement}, got {value}')
        return value
    return parse


positive_int = _checked(int, lambda v: v >= 1, '>= 1')
_positive_float = _checked(float, lambda v: v > 0, '> 0')
_non_negative_float = _checked(float, lambda v: v >= 0, '>= 0')
_fraction = _checked(float, lambda v: 0 < v < 1, 'strictly between 0 and 1')
share = _checked(float, lambda v: 0 < v <= 1, 'in (0, 1]')


def add_model_dir_args(parser, default=None):
    """--model-dir (required when there is no default) and --json."""
    if default is None:
        parser.add_argument('--model-dir', required=True, help='model folder')
    else:
        parser.add_argument('--model-dir', default=default,
                            help='model folder (default: %(default)s)')
    parser.add_argument('--json', action='store_true', help='print JSON instead of text')


def _ctx_spec(text):
    try:
        resolve_ctx(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


_PRESET_FLAGS = ('num_factors', 'epochs', 'batch_size', 'optimizer', 'lr', 'wd', 'reg',
                 'patience')


def add_training_args(parser, family, out):
    """Flags shared by the training scripts. Flags left unset take the preset of the
    chosen model for ``family`` (see gluonrec/presets.py); call ``apply_preset`` after
    parsing."""
    p = preset(family)
    parser.set_defaults(preset_family=family)
    g = parser.add_argument_group(
        'model and training', f'unset flags follow the {family} preset of the chosen model '
        f'(gluonrec/presets.py); the defaults shown are those of {p["model"]}')
    g.add_argument('--model', choices=model_names(), default=p['model'],
                   help='model from the registry (default: %(default)s, the most accurate '
                        f'on {family})')
    g.add_argument('--num-factors', type=positive_int,
                   help=f'embedding width k (default: {p["num_factors"]})')
    g.add_argument('--epochs', type=positive_int,
                   help=f'maximum epochs (default: {p["epochs"] * 2}, stopping early on the '
                        'validation split)')
    g.add_argument('--batch-size', type=positive_int,
                   help=f'ratings per batch (default: {p["batch_size"]})')
    g.add_argument('--optimizer',
                   help=f'any MXNet optimizer: adagrad, adam, sgd, ... '
                        f'(default: {p["optimizer"]})')
    g.add_argument('--lr', type=_positive_float, help=f'learning rate (default: {p["lr"]})')
    g.add_argument('--wd', type=_non_negative_float,
                   help=f'optimizer weight decay on all parameters (default: {p["wd"]})')
    g.add_argument('--reg', type=_non_negative_float,
                   help='L2 penalty on the embedding rows and biases of each rating '
                        f'(default: {p["reg"]})')
    g.add_argument('--dense-grad', action='store_true',
                   help='dense embedding gradients instead of row_sparse ones')
    g.add_argument('--ctx', type=_ctx_spec, default='auto',
                   help="auto, cpu, gpu or gpu:0,1 (default: %(default)s: the GPU if "
                        'MXNet sees one)')
    g.add_argument('--kvstore', default='device',
                   help="MXNet kvstore: 'device' or 'local' on one machine; 'dist_sync', "
                        "'dist_async' or 'dist_device_sync' in a job started by "
                        "python -m gluonrec.launch (default: %(default)s)")
    g.add_argument('--val-fraction', type=_fraction, default=0.2,
                   help='share of ratings held out for validation (default: %(default)s)')
    g.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    g.add_argument('--patience', type=int,
                   help='stop after this many epochs without a better validation RMSE, '
                        f'keeping the best; 0 disables (default: {p["patience"]})')
    g.add_argument('--resume', action='store_true',
                   help='continue from the checkpoint in OUT.checkpoints (written after every '
                        'epoch and on Ctrl-C)')
    g.add_argument('--out', default=out, help='model folder to write (default: %(default)s)')
    g.add_argument('--log-interval', type=positive_int, default=200,
                   help='log the mean loss every N batches (default: %(default)s)')
    g.add_argument('--no-progress', action='store_true', help='no progress bar')
    g.add_argument('--plot', metavar='PNG', help='also write a plot of the training curves')
    return parser


def apply_preset(args):
    """Fill the flags the user left unset from the preset of ``args.model``."""
    p = preset(args.preset_family, args.model)
    p['epochs'] *= 2  # a cap: early stopping on the validation split ends the run
    for key in _PRESET_FLAGS:
        if getattr(args, key) is None:
            setattr(args, key, p[key])
    return args


def train_and_save(ratings, args, extra=None):
    """Split, scale, train with the flags in ``args``, save to ``args.out``, report.

    Returns
    -------
    dict
        Summary: val_rmse, val_mae, baseline_rmse, seconds, out.
    """
    apply_preset(args)
    if len(ratings) < 10:
        raise ScriptError(f'{ratings.name}: only {len(ratings)} ratings, too few to train')
    train, val = random_split(ratings, args.val_fraction, seed=args.seed)
    kv, rank, workers = _connect(args.kvstore)
    distributed = not isinstance(kv, str)
    sparse = not args.dense_grad
    # On a parameter server, sparse gradients need row_sparse tables; nnmf's projection
    # must run where the update happens, so it trains with dense gradients there.
    if distributed and args.model == 'nnmf':
        sparse = False
    net = get_model(args.model, num_users=ratings.num_users, num_items=ratings.num_items,
                    num_factors=args.num_factors, sparse_grad=sparse,
                    row_sparse_weights=sparse and distributed)
    # Non-negative models cannot output negative values: they train on (0, 1).
    scaler = MinMaxScaler.from_scale(ratings.scale, net.feature_range)
    # Each worker reads its shard with its share of the global batch size.
    train_iter = RatingIter.from_ratings(train, scaler,
                                         batch_size=max(1, args.batch_size // workers),
                                         seed=args.seed, num_parts=workers, part_index=rank)
    val_iter = RatingIter.from_ratings(val, scaler, batch_size=65536, shuffle=False)
    checkpoints = _checkpoint_dir(args)
    logger.info('%s: %d ratings, %d users, %d items; training %s on %d, validating on %d',
                ratings.name, len(ratings), ratings.num_users, ratings.num_items, args.model,
                len(train), len(val))
    tic = time.time()
    history = fit(net, train_iter, val_iter, epochs=args.epochs, optimizer=args.optimizer,
                  learning_rate=args.lr, wd=args.wd, reg=args.reg, scaler=scaler,
                  ctx=args.ctx, kvstore=kv, log_interval=args.log_interval,
                  checkpoint_dir=checkpoints, resume=args.resume,
                  patience=args.patience or None, seed=args.seed,
                  progress=False if args.no_progress else None)
    seconds = time.time() - tic
    if not history:
        raise ScriptError('training stopped before the first epoch ended; '
                          f'rerun with --resume to continue from {checkpoints}')
    best = history.best() or history[-1]
    mean = float(np.mean(train.rating))
    summary = {'val_rmse': best.get('val_rmse'), 'val_mae': best.get('val_mae'),
               'best_epoch': best['epoch'],
               'baseline_rmse': rmse(val.rating, np.full(len(val), mean)),
               'baseline_mae': mae(val.rating, np.full(len(val), mean)),
               'seconds': seconds, 'out': os.path.abspath(args.out)}
    if rank != 0:  # rank 0 saves the model and reports; the others are done
        return summary
    settings = {key: getattr(args, key) for key in ('model', 'num_factors', 'epochs',
                'batch_size', 'optimizer', 'lr', 'wd', 'reg', 'val_fraction', 'seed')}
    save_model(args.out, net, train, scaler, history=history, test=val,
               extra={'settings': settings, **(extra or {})})
    if args.plot:
        from .train import plot_history
        plot_history(history, args.plot, title=f'{args.model} on {ratings.name}')
    lo, hi = ratings.scale
    print(f'\nValidation on the {lo:g}..{hi:g} scale (best epoch {best["epoch"]}): '
          f'RMSE {summary["val_rmse"]:.4f}, MAE {summary["val_mae"]:.4f}')
    print(f'Constant-mean baseline: RMSE {summary["baseline_rmse"]:.4f}, '
          f'MAE {summary["baseline_mae"]:.4f}')
    print(f'Trained in {seconds:.1f} s; model saved to {args.out}')
    return summary


def _connect(kvstore):
    """(kvstore, rank, workers): connects to the parameter server for 'dist_*' names."""
    if not kvstore.startswith('dist'):
        return kvstore, 0, 1
    from ._compat import mx
    try:
        kv = mx.kv.create(kvstore)
    except Exception as exc:  # MXNetError without DMLC_* variables
        raise ScriptError(f'--kvstore {kvstore}: cannot reach the parameter server '
                          f'({str(exc).splitlines()[0]}); start the job with '
                          'python -m gluonrec.launch') from None
    return kv, kv.rank, kv.num_workers


def _checkpoint_dir(args):
    # Beside the model folder, not in it: save_model replaces that folder whole.
    return os.path.normpath(args.out) + '.checkpoints'


def default_data_dir(sub):
    """``data_home()/sub``: where scripts look for a data set by default."""
    return os.path.join(data_home(), sub)


def print_json(obj):
    print(json.dumps(obj, indent=2, ensure_ascii=False))
