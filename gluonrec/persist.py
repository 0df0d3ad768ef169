"""The model folder format: save_model / load_model (parameters, JSON config, id maps,
scaler, history, the split; no pickle)."""
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
import zlib

import numpy as np

from ._compat import error_line, mx, write_ndarrays
from ._version import __version__
from ._io import exchange_paths, folder_lock, make_public, write_json
from .data.ratings import IdMap, Ratings
from .data.scaling import scaler_from_dict, scaler_to_dict
from .distributed import dense_copy
from .foldin import fold_in
from .models import get_model, model_name_of, model_names
from .recommender import Recommender

__all__ = ['save_model', 'load_model', 'add_users', 'check_replaceable', 'FORMAT_VERSION',
           'MODEL_FILES']

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: What a model folder holds: every entry ``save_model`` writes, and nothing else.
MODEL_FILES = ('config.json', 'model.params', 'ids.json', 'scaler.json', 'history.json',
               'items.json', 'train.npz', 'test.npz')


def _raw_list(id_map):
    return {'dtype': 'int' if id_map.raw_ids.dtype.kind in 'iu' else 'str',
            'ids': id_map.to_list()}


_ID_TYPES = {'int': (int, np.int64), 'str': (str, object)}


def _id_map(state, path):
    """The IdMap saved in ids.json; each id must be of the declared type, exactly (an
    int of the int64 range; 1.5 or "7" is refused, not converted)."""
    try:
        if not isinstance(state, dict) or not isinstance(state.get('ids'), list):
            raise ValueError('expected {"dtype": ..., "ids": [...]}')
        if state.get('dtype') not in _ID_TYPES:
            raise ValueError(f'dtype {state.get("dtype")!r}, expected "int" or "str"')
        kind, dtype = _ID_TYPES[state['dtype']]
        for n, raw in enumerate(state['ids']):
            if type(raw) is not kind or (kind is int and not -2**63 <= raw < 2**63):
                raise ValueError(f'id #{n} is {raw!r}, but the ids are declared '
                                 f'"{state["dtype"]}"')
        return IdMap(np.asarray(state['ids'], dtype=dtype))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: bad id map ({exc})') from None


def _config_of(folder):
    """``folder``'s config.json as a dict, or None when there is none to read."""
    try:
        with open(os.path.join(folder, 'config.json'), encoding='utf-8') as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def _is_model_folder(folder):
    """True when ``folder`` holds a gluonrec model's config.json."""
    config = _config_of(folder)
    return config is not None and 'format_version' in config and 'model' in config


def _target(folder):
    """The absolute path of the model folder ``folder``; refuses an empty path and the
    folder the process stands in (or any folder above it), which a save would replace."""
    text = os.fspath(folder)
    if not text.strip():
        raise ValueError(f'model folder path {text!r} is empty; give a folder name such as '
                         'models/jester')
    path = os.path.abspath(text)
    here = os.getcwd()
    if path == here or here.startswith(path.rstrip(os.sep) + os.sep):
        raise ValueError(f'{text}: is the current folder or one above it; refusing to '
                         'replace it with a model folder (give a new folder name)')
    return path


def check_replaceable(folder):
    """Raise ``ValueError`` unless ``save_model(folder, ...)`` may write there.

    A path that does not exist, an empty folder, or a gluonrec model folder (a
    ``config.json`` of gluonrec's, and no entry but the ``MODEL_FILES`` a save writes)
    may be written; a model folder is then replaced whole. Anything else is refused and
    left untouched: an empty path, the current folder or one above it, a file, a link,
    and any folder holding an entry a save did not write (``my_notes.txt``, ``src/``),
    which the error lists.
    """
    text = os.fspath(folder)
    path = _target(folder)
    if os.path.islink(path):
        raise ValueError(f'{text}: is a symbolic link; refusing to replace it with a model '
                         'folder (give the real path, or another one)')
    if not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise ValueError(f'{text}: is a file, not a model folder; refusing to replace it '
                         '(choose another output path)')
    entries = sorted(os.listdir(path))
    if not entries:
        return
    if not _is_model_folder(path):
        raise ValueError(f'{text}: exists and is not a gluonrec model folder (it holds '
                         f'{len(entries)} entries, such as {entries[0]!r}); refusing to '
                         'replace it (choose another output path, or remove it yourself)')
    foreign = [name for name in entries if name not in MODEL_FILES]
    if foreign:
        shown = ', '.join(repr(name) for name in foreign[:5])
        more = f' and {len(foreign) - 5} more' if len(foreign) > 5 else ''
        raise ValueError(f'{text}: a model folder that also holds entries gluonrec did not '
                         f'write ({shown}{more}); refusing to replace it, which would delete '
                         'them (move them out, or choose another output path)')


_TOKEN = re.compile(r'[a-z0-9_]{8}')  # the random part of a ``tempfile.mkdtemp`` name


def _hidden(path, kind, token='*'):
    """The hidden sibling of ``path`` a save stages in (``kind`` 'new') or moves the old
    model to ('old'), for ``token``; with '*' every such sibling that exists."""
    parent, base = os.path.split(path)
    if token != '*':
        return os.path.join(parent, f'.{base}.{kind}.{token}')
    prefix = f'.{base}.{kind}.'
    names = os.listdir(parent) if os.path.isdir(parent) else ()
    return [os.path.join(parent, n) for n in sorted(names)
            if n.startswith(prefix) and _TOKEN.fullmatch(n[len(prefix):])]


def _settle(path):
    """Repair what an interrupted save of ``path`` left; call under the folder's lock.

    Where no atomic exchange exists a save swaps in two renames (``_swap``). A crash
    between them leaves no folder at ``path``, the old model in ``.NAME.old.T`` and the
    complete new one in ``.NAME.new.T``: the new one is moved into place (the old one
    where the new is not a model). Once ``path`` exists, every hidden copy beside it is
    a leftover of an interrupted save, and is removed.
    """
    if not os.path.lexists(path):
        olds = _hidden(path, 'old')
        if olds:
            old = max(olds, key=os.path.getmtime)
            new = _hidden(path, 'new', old.rsplit('.old.', 1)[1])
            source = new if _is_model_folder(new) else old
            os.replace(source, path)
            logger.warning('%s: restored from %s, where a save interrupted between its two '
                           'renames had left it', path, source)
    if os.path.isdir(path) and not os.path.islink(path):
        for leftover in _hidden(path, 'new') + _hidden(path, 'old'):
            shutil.rmtree(leftover, ignore_errors=True)


def _swap(staged, path):
    """Put the complete folder ``staged`` at ``path``; at no point is there no model."""
    if not os.path.lexists(path):
        os.replace(staged, path)
    elif exchange_paths(staged, path):
        shutil.rmtree(staged, ignore_errors=True)  # it now holds the old model
    else:  # two renames; a crash between them is repaired by ``_settle``
        old = _hidden(path, 'old', staged.rsplit('.new.', 1)[1])
        os.replace(path, old)
        os.replace(staged, path)
        shutil.rmtree(old, ignore_errors=True)


def _check_json_config(net):
    """Raise ``ValueError`` naming the constructor argument that JSON cannot hold."""
    for key, value in net.config.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f'{type(net).__name__}: constructor argument {key}={value!r} '
                             f'cannot be saved ({exc}); a model\'s arguments must be JSON '
                             'values (numbers, strings, lists, dicts, None)') from None


def _write_folder(folder, net, train, scaler, history, test, item_names, extra):
    write_ndarrays(os.path.join(folder, 'model.params'), net.save_parameters)
    write_json(os.path.join(folder, 'config.json'), {
        'format_version': FORMAT_VERSION, 'model': model_name_of(net),
        'module': type(net).__module__, 'kwargs': net.config,
        'gluonrec_version': __version__,
        'mxnet_version': mx.__version__, 'dataset': train.name,
        'scale': list(train.scale), 'extra': extra or {}, 'revision': uuid.uuid4().hex})
    write_json(os.path.join(folder, 'ids.json'), {'users': _raw_list(train.user_map),
                                                   'items': _raw_list(train.item_map)})
    write_json(os.path.join(folder, 'scaler.json'), scaler_to_dict(scaler))
    write_json(os.path.join(folder, 'history.json'), list(history or []))
    names = train.item_names if item_names is None else item_names
    write_json(os.path.join(folder, 'items.json'), [[k, v] for k, v in names.items()])
    np.savez(os.path.join(folder, 'train.npz'), user=train.user, item=train.item,
             rating=train.rating)
    if test is not None:
        np.savez(os.path.join(folder, 'test.npz'), user=test.user, item=test.item,
                 rating=test.rating)


def save_model(folder, net, train, scaler, history=None, test=None, item_names=None,
               extra=None):
    """Write a trained model to ``folder``, replacing it whole, in one atomic step.

    Only a path that does not exist, an empty folder or a gluonrec model folder holding
    nothing but what a save writes is replaced; anything else raises ``ValueError``
    before a byte is written (``check_replaceable``). The new folder is written under a
    hidden name beside ``folder`` and swapped in: a crash at any point leaves the old
    model or the new one at ``folder`` (or, on a system without an atomic exchange,
    hidden copies the next load or save puts back). Saves to one folder take turns
    (``gluonrec._io.folder_lock``). Each save records a new ``revision`` in config.json.

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
    path = _target(folder)
    _check_json_config(net)
    net = dense_copy(net)
    parent, base = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    with folder_lock(path):
        _settle(path)
        check_replaceable(folder)
        staged = tempfile.mkdtemp(dir=parent, prefix=f'.{base}.new.')
        try:
            make_public(staged)
            _write_folder(staged, net, train, scaler, history, test, item_names, extra)
            _swap(staged, path)
        except BaseException:
            _settle(path)  # an exception between the renames: the new model goes in
            shutil.rmtree(staged, ignore_errors=True)
            raise
        _settle(path)
    return path


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


def _check_config(config, path):
    """Raise ``ValueError`` naming ``path`` and the key when config.json lacks what
    ``load_model`` reads, or holds it in another form."""
    for key, kind in (('model', str), ('kwargs', dict), ('scale', list)):
        if key not in config:
            raise ValueError(f'{path}: missing {key!r}')
        if not isinstance(config[key], kind):
            raise ValueError(f'{path}: {key!r} must be a JSON {kind.__name__}, got '
                             f'{config[key]!r}')
    scale = config['scale']
    if len(scale) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  and np.isfinite(v) for v in scale) or not scale[0] < scale[1]:
        raise ValueError(f"{path}: 'scale' must be [low, high] with low < high, got {scale!r}")


def _restore_interrupted(folder):
    """For a missing model folder: put back the copy an interrupted save left beside it,
    or raise ``ValueError`` saying there is none, or where it lies."""
    path = os.path.abspath(folder)
    olds = _hidden(path, 'old')
    if not olds:
        raise ValueError(f'{folder}: no such model folder')
    try:
        with folder_lock(path):
            _settle(path)
    except OSError as exc:
        raise ValueError(f'{folder}: no model folder there; an interrupted save left the '
                         f'model in {max(olds, key=os.path.getmtime)} and it cannot be moved '
                         f'back ({exc.strerror}): rename it to {path}') from None
    if not os.path.isdir(folder):
        raise ValueError(f'{folder}: no such model folder')


def load_model(folder, ctx=None):
    """Load a folder written by ``save_model`` as a ready ``Recommender``.

    Raises
    ------
    ValueError
        Naming the file, when one is missing, corrupt, truncated or of another shape.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        _restore_interrupted(folder)
    config = _read_json(os.path.join(folder, 'config.json'))
    if not isinstance(config, dict):
        raise ValueError(f'{os.path.join(folder, "config.json")}: expected a JSON object')
    if config.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{os.path.join(folder, "config.json")}: format_version '
                         f'{config.get("format_version")!r}, expected {FORMAT_VERSION}')
    _check_config(config, os.path.join(folder, 'config.json'))
    ids_path = os.path.join(folder, 'ids.json')
    ids = _read_json(ids_path)
    if not isinstance(ids, dict):
        raise ValueError(f'{ids_path}: bad id map (expected an object with users and items)')
    user_map = _id_map(ids.get('users', {}), ids_path)
    item_map = _id_map(ids.get('items', {}), ids_path)
    scaler_path = os.path.join(folder, 'scaler.json')
    state = _read_json(scaler_path)
    try:
        scaler = scaler_from_dict(state)
    except KeyError as exc:
        raise ValueError(f'{scaler_path}: bad scaler (missing {exc})') from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{scaler_path}: bad scaler ({exc})') from None
    if config['model'] not in model_names():
        module = config.get('module')
        if module == '__main__':
            hint = ('it was defined in a script run as __main__: import the module that '
                    'defines and registers it first, then load')
        elif isinstance(module, str) and module and not module.startswith('gluonrec'):
            hint = f'import {module} first (it registers the model), then load'
        else:
            hint = 'a model of another gluonrec version?'
        raise ValueError(f'{os.path.join(folder, "config.json")}: model '
                         f'{config["model"]!r} is not registered in this process; {hint}')
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
                         f'({error_line(exc)})') from None
    try:
        net.check_loaded()
    except ValueError as exc:
        raise ValueError(f'{params}: does not hold a {config["model"]} model, as config.json '
                         f'says ({exc})') from None
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


def _revision(folder):
    """The ``revision`` in ``folder``'s config.json (None when unreadable or absent)."""
    return (_config_of(folder) or {}).get('revision')


def add_users(folder, ratings, users=None, out=None, reg=None, method='auto', rec=None):
    """Fold new users into the model saved in ``folder`` and save it again.

    The folder (or ``out``) is rewritten as a whole through ``save_model``, so a crash
    leaves the old model or the new one. The read, the fold-in and the write happen
    under the folder's lock, so saves from several processes take turns and none
    drops a user another one added. ``rec``: the model already loaded from ``folder``,
    if the caller has it; it is used only while the folder still holds the revision it
    was loaded from, and otherwise (another process saved in between) the folder is
    read again and the new users are folded into what it holds now. Other arguments
    as in ``gluonrec.foldin.fold_in``.

    Returns
    -------
    (Recommender, numpy.ndarray)
        The extended model and the new users' raw ids.
    """
    paths = sorted({os.path.abspath(folder), _target(out or folder)})
    with contextlib.ExitStack() as locks:
        for path in paths:  # in one order, so two processes never wait on each other
            locks.enter_context(folder_lock(path))
        stale = rec is not None and (rec.config.get('revision') is None or
                                     rec.config.get('revision') != _revision(folder))
        if stale:
            logger.warning('%s: changed since it was loaded (another process saved to it); '
                           'adding to the model it holds now', folder)
        if rec is None or stale:
            rec = load_model(folder)
        before = len(rec.user_map)
        bigger = fold_in(rec, ratings, users=users, reg=reg, method=method)
        save_model(out or folder, bigger.net, bigger.train, bigger.scaler,
                   history=bigger.history, test=bigger.test, item_names=bigger.item_names,
                   extra=bigger.config.get('extra'))
    bigger.config['revision'] = _revision(out or folder)
    return bigger, bigger.user_map.raw_ids[before:]
