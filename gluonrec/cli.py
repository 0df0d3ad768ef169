"""The logic behind scripts/: shared flags, error handling, train-and-save."""
import argparse
import importlib
import json
import logging
import os
import sys
import tempfile

from .context import resolve_ctx
from .data import data_home
from .distributed import KVSTORE_NAMES
from .models import model_names
from .foldin import new_user_ids, preferred_reg
from .persist import add_users, check_replaceable
from .presets import preset
from .recipe import train_model
from .train import check_plot_path, plot_history
from .data.sampling import SAMPLING
from .train.engine import CHOICES
from .train.fused import describe as describe_fused

__all__ = ['ScriptError', 'run_main', 'import_modules', 'add_training_args', 'add_ranking_args',
           'add_model_dir_args',
           'training_kwargs', 'positive_int', 'share', 'train_and_save', 'checkpoint_dir',
           'configure_logging', 'default_data_dir', 'print_json', 'read_ratings_arg',
           'check_new_user_id', 'save_new_user']


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" to a flag's help, except where the default is None (a
    preset fills it, and the help says with what) or the help already names it."""

    def _get_help_string(self, action):
        if action.default is None or 'default:' in (action.help or ''):
            return action.help
        return super()._get_help_string(action)


class ScriptError(Exception):
    """Bad input to a script: printed as one line, exit status 2."""


def run_main(body, argv, prog):
    """Run ``body(argv)``; turn bad-input errors into one line on stderr and exit 2.

    In a parameter-server worker any failure ends the process at once (``os._exit``):
    a normal exit would wait in MXNet's kvstore shutdown for the other workers forever.
    """
    in_job = os.environ.get('DMLC_ROLE') == 'worker'
    try:
        import_modules(sys.argv[1:] if argv is None else argv)
        code = body(argv) or 0
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
    except KeyboardInterrupt:  # Ctrl-C: what shells and schedulers expect, no traceback
        print(f'\n{prog}: interrupted', file=sys.stderr)
        code = 130
    except BrokenPipeError:
        # The reader went away (``script | head``): nothing to report. As Python's docs
        # advise, point stdout at devnull so the exit does not fail again, and exit 1.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
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


def import_modules(argv):
    """Import each module ``--import MODULE`` names in ``argv``, before a parser is
    built: a researcher's module that registers models (``gluonrec.register_model``)
    makes them ``--model`` choices, and lets their saved models load. The current
    folder is searched too, as ``python -m`` would."""
    names = [argv[n + 1] for n, arg in enumerate(argv[:-1]) if arg == '--import']
    names += [arg.split('=', 1)[1] for arg in argv if arg.startswith('--import=')]
    if names and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ScriptError(f'--import {name}: {exc}') from None


def _add_import_arg(parser):
    parser.add_argument('--import', metavar='MODULE', action='append', dest='imports',
                        help='import this module first (repeatable): one that registers '
                             'models of your own, to train or load them')


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
    _add_import_arg(parser)


def _ctx_spec(text):
    try:
        resolve_ctx(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_training_args(parser, family, out):
    """Flags shared by the training scripts. Flags left unset take the preset of the
    chosen model for ``family`` (see gluonrec/presets.py): ``training_kwargs`` passes
    them on as None."""
    p = preset(family)
    f = preset(family, engine='fused')
    fused_models, fused_optimizers = describe_fused()
    parser.set_defaults(preset_family=family)
    g = parser.add_argument_group(
        'model and training', f'unset flags follow the {family} preset of the chosen model '
        f'and engine (gluonrec/presets.py); the defaults shown are those of {p["model"]}, '
        'generic engine [fused engine]')
    g.add_argument('--model', choices=model_names('rating'), default=p['model'],
                   help='model from the registry (default: %(default)s, the most accurate '
                        f'on {family}; ranking models: train_implicit.py)')
    g.add_argument('--num-factors', type=positive_int,
                   help=f'embedding width k (default: {p["num_factors"]} [{f["num_factors"]}])')
    g.add_argument('--epochs', type=positive_int,
                   help=f'maximum epochs (default: {p["epochs"] * 2} [{f["epochs"] * 2}], '
                        'stopping early on the validation split)')
    g.add_argument('--batch-size', type=positive_int,
                   help=f'ratings per batch [per call of the fused operator] (default: '
                        f'{p["batch_size"]} [{f["batch_size"]}])')
    g.add_argument('--optimizer',
                   help=f'any MXNet optimizer: adagrad, adam, sgd, ... [{fused_optimizers}] '
                        f'(default: {p["optimizer"]} [{f["optimizer"]}])')
    g.add_argument('--lr', type=_positive_float,
                   help=f'learning rate, per batch [per rating] (default: {p["lr"]} '
                        f'[{f["lr"]}])')
    g.add_argument('--wd', type=_non_negative_float,
                   help=f'optimizer weight decay on all parameters (default: {p["wd"]})')
    g.add_argument('--reg', type=_non_negative_float,
                   help='L2 penalty on the embedding rows and biases of each rating '
                        f'(default: {p["reg"]} [{f["reg"]}])')
    g.add_argument('--engine', choices=CHOICES,
                   help=f"'fused': a C++ operator, one update per rating ({fused_models}; "
                        f"{fused_optimizers}; CPU; built with g++ on first use); 'generic': "
                        "Gluon's Trainer, every model; 'auto': fused where it can "
                        '(default: $GLUONREC_ENGINE, else auto)')
    g.add_argument('--dense-grad', action='store_true',
                   help='dense embedding gradients instead of row_sparse ones')
    g.add_argument('--ctx', type=_ctx_spec, default='auto',
                   help="auto, cpu, gpu or gpu:0,1 (default: %(default)s: the GPU if "
                        'MXNet sees one)')
    g.add_argument('--kvstore', default='device', choices=KVSTORE_NAMES, metavar='KVSTORE',
                   help="MXNet kvstore: 'device' or 'local' on one machine; 'dist_sync', "
                        "'dist_async' or 'dist_device_sync' in a job started by "
                        "python -m gluonrec.launch (default: %(default)s)")
    g.add_argument('--val-fraction', type=_fraction, default=0.2,
                   help='share of ratings held out for validation (default: %(default)s)')
    g.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    g.add_argument('--patience', type=int,
                   help='stop after this many epochs without a better validation RMSE, '
                        f'keeping the best; 0 disables (default: {p["patience"]})')
    g.add_argument('--no-refit', dest='refit', action='store_false', default=None,
                   help='save the model of the run that chose the epoch on the validation '
                        'part, instead of one refit on all the ratings for that many '
                        'epochs (the default where early stopping is on)')
    g.add_argument('--resume', action='store_true',
                   help='continue from the checkpoint in OUT.checkpoints (written after every '
                        'epoch and on Ctrl-C)')
    g.add_argument('--out', default=out, help='model folder to write (default: %(default)s)')
    g.add_argument('--log-interval', type=positive_int, default=200,
                   help='log the mean loss every N batches (default: %(default)s)')
    g.add_argument('--no-progress', action='store_true', help='no progress bar')
    g.add_argument('--plot', metavar='PNG', help='also write a plot of the training curves')
    _add_import_arg(parser)
    return parser


def add_ranking_args(parser):
    """The flags of a script that trains ranking models from implicit feedback, beside
    those of ``add_training_args``."""
    g = parser.add_argument_group('ranking')
    g.add_argument('--threshold', type=float,
                   help='ratings >= this count as positives (default: every rating)')
    g.add_argument('--num-negatives', type=positive_int,
                   help="negatives sampled per positive (default: the model's: 1 for "
                        'bpr_mf, 4 for gmf and neumf)')
    g.add_argument('--sampling', choices=SAMPLING, default='uniform',
                   help='how negatives are drawn (default: %(default)s)')
    g.add_argument('-k', dest='rank_k', type=positive_int, default=10,
                   help='validate, stop early and report at NDCG@k (default: %(default)s)')
    return parser


def _ranking_kwargs(args):
    if not hasattr(args, 'rank_k'):
        return {}
    return dict(threshold=args.threshold, num_negatives=args.num_negatives,
                sampling=args.sampling, rank_k=args.rank_k)


def training_kwargs(args):
    """The keyword arguments of ``train_model`` that the flags of ``add_training_args``
    (and ``add_ranking_args``) carry; flags left unset stay None, for the preset to
    fill."""
    return dict(**_ranking_kwargs(args), model=args.model, family=args.preset_family,
                val_fraction=args.val_fraction, num_factors=args.num_factors,
                epochs=args.epochs, batch_size=args.batch_size,
                optimizer=args.optimizer, lr=args.lr, wd=args.wd, reg=args.reg,
                patience=args.patience, sparse_grad=False if args.dense_grad else None,
                seed=args.seed, ctx=args.ctx, kvstore=args.kvstore,
                checkpoint_dir=checkpoint_dir(args.out), resume=args.resume,
                log_interval=args.log_interval, progress=False if args.no_progress else None,
                engine=args.engine, refit=args.refit)


def train_and_save(ratings, args, extra=None, test=None, val=None):
    """Train with the flags in ``args``, save to ``args.out``, print the summary.

    ``test``: a held-out part the training never saw, to save with the model (default:
    the validation part; ``extra['held_out']`` says which), which ``evaluate.py``
    scores. ``val``: the validation part, when the script splits it off itself.

    Returns
    -------
    dict
        ``TrainedModel.summary()`` plus ``out``.
    """
    if len(ratings) < 10:
        raise ScriptError(f'{ratings.name}: only {len(ratings)} ratings, too few to train')
    check_replaceable(args.out)  # before training, not after it
    if args.plot:
        check_plot_path(args.plot)
    kwargs = training_kwargs(args)
    if val is not None:
        kwargs.update(val=val, val_fraction=None)
    result = train_model(ratings, **kwargs)
    if not result.history:
        raise ScriptError('training stopped before the first epoch ended; '
                          f'rerun with --resume to continue from {checkpoint_dir(args.out)}')
    summary = dict(result.summary(), out=os.path.abspath(args.out))
    if result.rank != 0:  # rank 0 saves the model and reports; the others are done
        return summary
    held_out = 'validation' if test is None else 'test'
    result.save(args.out, extra=dict(extra or {}, held_out=held_out), test=test)
    if args.plot:
        plot_history(result.history, args.plot,
                     title=f'{result.settings["model"]} on {ratings.name}')
    if result.net.task == 'ranking':
        _print_ranking(summary)
    else:
        lo, hi = ratings.scale
        print(f'\nValidation on the {lo:g}..{hi:g} scale ({_whose(summary)}): '
              f'RMSE {summary["val_rmse"]:.4f}, MAE {summary["val_mae"]:.4f}')
        print(f'Constant-mean baseline: RMSE {summary["baseline_rmse"]:.4f}, '
              f'MAE {summary["baseline_mae"]:.4f}')
    print(f'Trained in {summary["seconds"]:.1f} s ({result.settings["engine"]} engine); '
          f'model saved to {args.out}')
    if summary['refit']:
        print(f'The saved model was then refit on all {len(result.train)} '
              f'{"positives" if result.net.task == "ranking" else "ratings"}, the '
              f'validation part included, for {_refit_length(summary)} (--no-refit '
              'keeps the selection run\'s): its own score on held-out data is unknown')
    if result.history.interrupted:  # saved, and still exit 130 as an interrupted command
        print(f'Training was interrupted; --resume continues from {checkpoint_dir(args.out)}')
        raise KeyboardInterrupt
    return summary


def _refit_length(summary):
    """'N epochs' of the refit, and how N came from the selection run's choice."""
    epochs, chosen = summary.get('refit_epochs', summary['epoch']), summary['epoch']
    if epochs == chosen:
        return f'those {chosen} epochs'
    return f"{epochs} epochs (the {chosen} chosen, times the data's growth)"


def _print_ranking(summary):
    k = summary['k']
    if summary[f'val_ndcg@{k}'] is None:
        print('\nNo validation part: nothing to report')
        return
    whose = 'selection run, epoch {}'.format(summary['epoch']) if summary['refit'] else \
        'saved parameters of epoch {}'.format(summary['epoch'])
    print(f'\nValidation, full ranking with training positives masked ({whose}): '
          f'NDCG@{k} {summary[f"val_ndcg@{k}"]:.4f}, Recall@{k} '
          f'{summary[f"val_recall@{k}"]:.4f}, HR@{k} {summary[f"val_hit@{k}"]:.4f}')
    print(f'Popularity baseline: NDCG@{k} {summary[f"baseline_ndcg@{k}"]:.4f}, Recall@{k} '
          f'{summary[f"baseline_recall@{k}"]:.4f}, HR@{k} {summary[f"baseline_hit@{k}"]:.4f}')


def _whose(summary):
    """Which parameters the saved model holds, for the summary line."""
    epoch, best = summary['epoch'], summary['best_epoch']
    if summary['refit']:
        return f'selection run, epoch {epoch}, the best'
    if epoch is None:
        return 'parameters from inside an interrupted epoch'
    if epoch == best:
        return f'saved parameters of epoch {epoch}, the best'
    return (f'saved parameters of epoch {epoch}, the last; the best was epoch {best} with '
            f'RMSE {summary["best_val_rmse"]:.4f}')


def checkpoint_dir(out):
    """Where a script run that saves to ``out`` keeps its checkpoints: beside the model
    folder, not in it, because ``save_model`` replaces that folder whole."""
    return os.path.normpath(out) + '.checkpoints'


def default_data_dir(sub):
    """``data_home()/sub``: where scripts look for a data set by default."""
    return os.path.join(data_home(), sub)


def print_json(obj):
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _rating_pairs(lines, where):
    """(item text, rating) pairs from ``item:rating`` / ``item,rating`` / ``item rating``
    entries; ``where(n)`` names entry n in an error."""
    pairs = []
    for n, entry in lines:
        entry = entry.strip()
        if not entry or entry.startswith('#'):
            continue
        for sep in (':', ',', '\t', ' '):
            if sep in entry:
                item, _, value = entry.partition(sep)
                break
        else:
            raise ScriptError(f'{where(n)}: {entry!r} is not item:rating')
        try:
            rating = float(value.strip())
        except ValueError:
            raise ScriptError(f'{where(n)}: rating {value.strip()!r} of item {item.strip()!r} '
                              'is not a number') from None
        pairs.append((item.strip(), rating))
    return pairs


def read_ratings_arg(text, rec):
    """``--ratings``: a list ``7:3.5,8:-2.1`` or a file of ``item,rating`` lines (``:``,
    tab or space also separate; ``#`` starts a comment; a first line ``item,rating`` is
    a header), as ``{raw item id: rating}`` in the model's own id type. Errors name the
    entry, or the file and line."""
    if os.path.isfile(text):
        try:
            with open(text, encoding='utf-8-sig') as handle:
                lines = list(enumerate(handle, start=1))
        except UnicodeDecodeError:
            raise ScriptError(f'{text}: not a UTF-8 text file of item,rating lines') from None
        if lines and lines[0][1].strip().lower().replace(' ', '') in ('item,rating',
                                                                      'item:rating'):
            lines = lines[1:]
        pairs = _rating_pairs(lines, lambda n: f'{text}, line {n}')
        if not pairs:
            raise ScriptError(f'{text}: no ratings in it')
    else:
        if os.path.sep in text or text.endswith(('.csv', '.txt')):
            raise ScriptError(f'--ratings: no such file {text!r}')
        pairs = _rating_pairs(enumerate(text.split(','), start=1),
                              lambda n: f'--ratings entry {n}')
        if not pairs:
            raise ScriptError('--ratings: no ratings given')
    out = {}
    for item, rating in pairs:
        known = rec.item_map.canonical(item)
        if known is None:
            raise ScriptError(f'--ratings: unknown item {item!r} (the model knows '
                              f'{len(rec.item_map)} items)')
        if known in out:
            raise ScriptError(f'--ratings: item {item!r} is rated twice')
        out[known] = rating
    return out


def check_new_user_id(rec, save_as, model_dir):
    """``--save-as``: before anything is asked, refuse an id the model has or cannot
    hold, and a model folder the save could not replace or write beside."""
    if save_as is None:
        return
    if rec.user_map.canonical(save_as) is not None:
        raise ScriptError(f'--save-as: user {save_as!r} is already in the model')
    try:
        new_user_ids(rec, 1, [save_as])
        check_replaceable(model_dir)
    except ValueError as exc:
        raise ScriptError(f'--save-as: {exc}') from None
    parent = os.path.dirname(os.path.abspath(model_dir))
    try:  # the save writes a new folder beside the old one: try that now
        os.rmdir(tempfile.mkdtemp(dir=parent, prefix='.gluonrec-probe.'))
    except OSError as exc:
        raise ScriptError(f'--save-as: cannot save into {model_dir}: {parent} is not '
                          f'writable ({exc.strerror})') from None


def save_new_user(rec, model_dir, ratings, save_as):
    """``--save-as``: fold the user into the model folder ``rec`` was loaded from, with
    the weight the scripts fold in with; returns (the extended model, the raw id)."""
    view, ids = add_users(model_dir, ratings, users=[save_as], reg=preferred_reg(rec),
                          rec=rec)
    return view, ids.tolist()[0]
