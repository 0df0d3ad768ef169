"""The model folder format: save_model / load_model (parameters, JSON config, id maps,
scaler, history, the split; no pickle)."""
import json
import os
import shutil
import tempfile
import zipfile
import zlib

import numpy as np

from ._compat import mx
from ._version import __version__
from ._io import make_public, write_json
from .data.ratings import IdMap, Ratings
from .data.scaling import MinMaxScaler
from .distributed import dense_copy
from .foldin import fold_in
from .models import get_model, model_name_of
from .recommender import Recommender

__all__ = ['save_model', 'load_model', 'add_users', 'check_replaceable', 'FORMAT_VERSION']

FORMAT_VERSION = 1
_FILES = ('config.json', 'model.params', 'ids.json', 'scaler.json', 'train.npz')


def _raw_list(id_map):
    return {'dtype': 'int' if id_map.raw_ids.dtype.kind in 'iu' else 'str',
            'ids': id_map.to_list()}


def _id_map(state, path):
    try:
        if not isinstance(state, dict) or not isinstance(state.get('ids'), list):
            raise ValueError('expected {"dtype": ..., "ids": [...]}')
        dtype = np.int64 if state['dtype'] == 'int' else object
        ids = np.asarray(state['ids'], dtype=dtype)
        if ids.ndim != 1:
            raise ValueError('ids must be a flat list')
        return IdMap(ids)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: bad id map ({exc})') from None


def _error_line(exc):
    """The informative line of an exception whose text may be a C++ traceback."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for line in lines:
        if 'Check failed' in line or line.startswith(('MXNetError', 'AssertionError')):
            return line
    useful = [line for line in lines if not line.startswith(('Traceback', 'File ', '['))]
    return (useful or lines or [type(exc).__name__])[-1]


def _is_model_folder(folder):
    """True when ``folder`` holds a gluonrec model's config.json."""
    try:
        with open(os.path.join(folder, 'config.json'), encoding='utf-8') as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and 'format_version' in config and 'model' in config


def check_replaceable(folder):
    """Raise ``ValueError`` unless ``save_model(folder, ...)`` may write there: the path
    does not exist, or is an empty folder, or is a gluonrec model folder (which is then
    replaced whole). Anything else (a file, a link, a folder of other files such as
    ``.`` or ``data``) is refused and left untouched."""
    folder = os.fspath(folder)
    if os.path.islink(folder):
        raise ValueError(f'{folder}: is a symbolic link; refusing to replace it with a model '
                         'folder (give the real path, or another one)')
    if not os.path.exists(folder):
        return
    if not os.path.isdir(folder):
        raise ValueError(f'{folder}: is a file, not a model folder; refusing to replace it '
                         '(choose another output path)')
    entries = os.listdir(folder)
    if entries and not _is_model_folder(folder):
        raise ValueError(f'{folder}: exists and is not a gluonrec model folder (it holds '
                         f'{len(entries)} entries, such as {sorted(entries)[0]!r}); refusing '
                         'to replace it (choose another output path, or remove it yourself)')


def save_model(folder, net, train, scaler, history=None, test=None, item_names=None,
               extra=None):
    """Write a trained model to ``folder`` (replaced as a whole, atomically).

    Only a path that does not exist, an empty folder or an earlier gluonrec model folder
    is replaced; anything else raises ``ValueError`` before a byte is written
    (``check_replaceable``).

    Parameters
    ----------
    folder : str
    net : RecModel
        A registered model holding trained parameters.
    train : Ratings
        The training ratings: their id maps are saved, and their (user, item, rating)
        arrays, so recommendations can leave out what a user already rated.
    scaler : MinMaxScaler
        The scaler the network was trained with.
    history : list of dict, optional
    test : Ratings, optional
        The held-out ratings, for ``scripts/evaluate.py``.
    item_names : dict, optional
        Raw item id -> title or text (default: ``train.item_names``).
    extra : dict, optional
        JSON-serialisable notes (training settings, data paths).
    """
    check_replaceable(folder)
    net = dense_copy(net)
    folder = os.path.abspath(os.fspath(folder))
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix='.' + os.path.basename(folder) + '.')
    make_public(tmp)
    try:
        net.save_parameters(os.path.join(tmp, 'model.params'))
        write_json(os.path.join(tmp, 'config.json'), {
            'format_version': FORMAT_VERSION, 'model': model_name_of(net),
            'kwargs': net.config, 'gluonrec_version': __version__,
            'mxnet_version': mx.__version__, 'dataset': train.name,
            'scale': list(train.scale), 'extra': extra or {}})
        write_json(os.path.join(tmp, 'ids.json'), {'users': _raw_list(train.user_map),
                                                    'items': _raw_list(train.item_map)})
        write_json(os.path.join(tmp, 'scaler.json'), scaler.to_dict())
        write_json(os.path.join(tmp, 'history.json'), list(history or []))
        names = train.item_names if item_names is None else item_names
        write_json(os.path.join(tmp, 'items.json'),
                   [[k, v] for k, v in names.items()])
        np.savez(os.path.join(tmp, 'train.npz'), user=train.user, item=train.item,
                 rating=train.rating)
        if test is not None:
            np.savez(os.path.join(tmp, 'test.npz'), user=test.user, item=test.item,
                     rating=test.rating)
        old = None
        if os.path.exists(folder):
            old = tempfile.mkdtemp(dir=parent, prefix='.' + os.path.basename(folder) + '.old.')
            os.rmdir(old)
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _read_json(path):
    if not os.path.isfile(path):
        raise ValueError(f'{path}: missing from the model folder')
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except ValueError as exc:
        raise ValueError(f'{path}: not valid JSON ({exc})') from None


def _item_names(path):
    pairs = _read_json(path)
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2
                                              for p in pairs):
        raise ValueError(f'{path}: expected a list of [item id, name] pairs')
    return {k: v for k, v in pairs}


def _read_ratings(path, user_map, item_map, scale, name, item_names):
    """The ``Ratings`` saved in ``path`` (an .npz of inner user, item, rating)."""
    if not os.path.isfile(path):
        raise ValueError(f'{path}: missing from the model folder')
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = [data[key] for key in ('user', 'item', 'rating')]
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile,
            zlib.error) as exc:
        raise ValueError(f'{path}: unreadable, corrupt or truncated ({exc})') from None
    try:
        return Ratings(*arrays, user_map, item_map, scale, name=name, item_names=item_names)
    except ValueError as exc:
        raise ValueError(f'{path}: does not fit the model\'s id maps ({exc})') from None


def load_model(folder, ctx=None):
    """Load a folder written by ``save_model`` as a ready ``Recommender``.

    Raises
    ------
    ValueError
        Naming the file, when one is missing, corrupt, truncated or of another shape.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f'{folder}: no such model folder')
    config = _read_json(os.path.join(folder, 'config.json'))
    if not isinstance(config, dict):
        raise ValueError(f'{os.path.join(folder, "config.json")}: expected a JSON object')
    if config.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{os.path.join(folder, "config.json")}: format_version '
                         f'{config.get("format_version")!r}, expected {FORMAT_VERSION}')
    ids_path = os.path.join(folder, 'ids.json')
    ids = _read_json(ids_path)
    if not isinstance(ids, dict):
        raise ValueError(f'{ids_path}: bad id map (expected an object with users and items)')
    user_map = _id_map(ids.get('users', {}), ids_path)
    item_map = _id_map(ids.get('items', {}), ids_path)
    scaler_path = os.path.join(folder, 'scaler.json')
    state = _read_json(scaler_path)
    try:
        scaler = MinMaxScaler.from_dict(state)
    except KeyError as exc:
        raise ValueError(f'{scaler_path}: bad scaler (missing {exc})') from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{scaler_path}: bad scaler ({exc})') from None
    try:
        net = get_model(config['model'], **config['kwargs'])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'{os.path.join(folder, "config.json")}: cannot rebuild the model '
                         f'({exc})') from None
    if net.num_users != len(user_map) or net.num_items != len(item_map):
        raise ValueError(f'{os.path.join(folder, "ids.json")}: {len(user_map)} users / '
                         f'{len(item_map)} items, but the model has {net.num_users} / '
                         f'{net.num_items}')
    ctx = ctx or mx.cpu()
    params = os.path.join(folder, 'model.params')
    if not os.path.isfile(params):
        raise ValueError(f'{params}: missing from the model folder')
    try:
        net.load_parameters(params, ctx=ctx)
    except Exception as exc:  # MXNetError / AssertionError with multi-line texts
        raise ValueError(f'{params}: cannot load; corrupt, truncated or from another model '
                         f'({_error_line(exc)})') from None
    names_path = os.path.join(folder, 'items.json')
    item_names = _item_names(names_path) if os.path.isfile(names_path) else {}
    ratings = {'user_map': user_map, 'item_map': item_map, 'scale': tuple(config['scale']),
               'name': config.get('dataset', 'ratings'), 'item_names': item_names}
    train = _read_ratings(os.path.join(folder, 'train.npz'), **ratings)
    net.attach_ratings(train, scaler)
    test_path = os.path.join(folder, 'test.npz')
    test = _read_ratings(test_path, **ratings) if os.path.isfile(test_path) else None
    history_path = os.path.join(folder, 'history.json')
    history = _read_json(history_path) if os.path.isfile(history_path) else []
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ValueError(f'{history_path}: expected a list of per-epoch records')
    return Recommender(net, train, scaler, test=test, history=history, config=config)


def add_users(folder, ratings, users=None, out=None, reg=None, method='auto', rec=None):
    """Fold new users into the model saved in ``folder`` and save it again.

    The folder (or ``out``) is rewritten as a whole through ``save_model``: a
    temporary folder renamed into place, so a crash leaves the old model intact.
    ``rec``: the model already loaded from ``folder``, if the caller has it (not read
    again; a ``reg='auto'`` weight it chose is reused). Other arguments as in
    ``gluonrec.foldin.fold_in``.

    Returns
    -------
    (Recommender, numpy.ndarray)
        The extended model and the new users' raw ids.
    """
    rec = load_model(folder) if rec is None else rec
    before = len(rec.user_map)
    bigger = fold_in(rec, ratings, users=users, reg=reg, method=method)
    save_model(out or folder, bigger.net, bigger.train, bigger.scaler,
               history=bigger.history, test=bigger.test, item_names=bigger.item_names,
               extra=bigger.config.get('extra'))
    return bigger, bigger.user_map.raw_ids[before:]
