"""save_model / load_model: parameters, JSON config, id maps, scaler, history; no pickle."""
import json
import os
import shutil
import tempfile

import numpy as np

from ._compat import mx
from . import __version__
from ._io import write_json
from .data.ratings import IdMap
from .data.scaling import MinMaxScaler
from .models import get_model, model_name_of

__all__ = ['save_model', 'load_model', 'Recommender', 'dense_copy', 'FORMAT_VERSION']

FORMAT_VERSION = 1
_FILES = ('config.json', 'model.params', 'ids.json', 'scaler.json', 'train.npz')


def _raw_list(id_map):
    return {'dtype': 'int' if id_map.raw_ids.dtype.kind in 'iu' else 'str',
            'ids': id_map.to_list()}


def _id_map(state, path):
    try:
        dtype = np.int64 if state['dtype'] == 'int' else object
        return IdMap(np.asarray(state['ids'], dtype=dtype))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: bad id map ({exc})') from None


def save_model(folder, net, train, scaler, history=None, test=None, item_names=None,
               extra=None):
    """Write a trained model to ``folder`` (replaced as a whole, atomically).

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
    net = dense_copy(net)
    folder = os.path.abspath(os.fspath(folder))
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix='.' + os.path.basename(folder) + '.')
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


def dense_copy(net):
    """``net`` itself, or for a model with row_sparse tables an equal dense twin, so a
    saved model always loads and predicts without a parameter server."""
    if not getattr(net, 'row_sparse_weights', False):
        return net
    twin = get_model(model_name_of(net), **dict(net.config, row_sparse_weights=False))
    ctx = mx.cpu()
    twin.initialize(ctx=ctx)
    zeros = mx.nd.zeros((1,), ctx=ctx, dtype=np.int32)
    twin(zeros, zeros)  # complete deferred shapes (Dense layers)
    target = twin._collect_params_with_prefix()
    for name, param in net._collect_params_with_prefix().items():
        if param._stype == 'row_sparse':
            rows = mx.nd.arange(param.shape[0], ctx=param.list_ctx()[0])
            data = param.row_sparse_data(rows).tostype('default')
        else:
            data = param.data(param.list_ctx()[0])
        target[name].set_data(data.as_in_context(ctx))
    return twin


def _read_json(path):
    if not os.path.isfile(path):
        raise ValueError(f'{path}: missing from the model folder')
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except ValueError as exc:
        raise ValueError(f'{path}: not valid JSON ({exc})') from None


def _read_npz(path):
    if not os.path.isfile(path):
        raise ValueError(f'{path}: missing from the model folder')
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in ('user', 'item', 'rating')}
    except (ValueError, KeyError, OSError, EOFError) as exc:
        raise ValueError(f'{path}: unreadable ({exc})') from None


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
    if config.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{os.path.join(folder, "config.json")}: format_version '
                         f'{config.get("format_version")!r}, expected {FORMAT_VERSION}')
    ids = _read_json(os.path.join(folder, 'ids.json'))
    user_map = _id_map(ids.get('users', {}), os.path.join(folder, 'ids.json'))
    item_map = _id_map(ids.get('items', {}), os.path.join(folder, 'ids.json'))
    try:
        scaler = MinMaxScaler.from_dict(_read_json(os.path.join(folder, 'scaler.json')))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'{os.path.join(folder, "scaler.json")}: bad scaler ({exc})') from None
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
        raise ValueError(f'{params}: cannot load ({str(exc).strip().splitlines()[0]})') \
            from None
    train = _read_npz(os.path.join(folder, 'train.npz'))
    test_path = os.path.join(folder, 'test.npz')
    test = _read_npz(test_path) if os.path.isfile(test_path) else None
    names_path = os.path.join(folder, 'items.json')
    item_names = {k: v for k, v in _read_json(names_path)} if os.path.isfile(names_path) \
        else {}
    history_path = os.path.join(folder, 'history.json')
    history = _read_json(history_path) if os.path.isfile(history_path) else []
    return Recommender(net, user_map, item_map, scaler, tuple(config['scale']), train,
                       test=test, item_names=item_names, history=history, config=config)


class Recommender:
    """A trained model with its id maps and scaler: predictions on the rating scale.

    Built by ``load_model`` (or directly, from the objects ``save_model`` takes).
    """

    def __init__(self, net, user_map, item_map, scaler, scale, train, test=None,
                 item_names=None, history=None, config=None):
        self.net, self.user_map, self.item_map = net, user_map, item_map
        self.scaler, self.scale = scaler, tuple(scale)
        self.train = train
        self.test = test
        self.item_names = dict(item_names or {})
        self.history = list(history or [])
        self.config = config or {}
        self.item_counts = np.bincount(train['item'], minlength=len(item_map))
        self.user_counts = np.bincount(train['user'], minlength=len(user_map))
        self.global_mean = float(np.mean(train['rating']))

    @classmethod
    def from_training(cls, net, train, scaler, test=None, history=None):
        """Wrap a just-trained network and its ``Ratings``."""
        def arrays(r):
            return None if r is None else {'user': r.user, 'item': r.item, 'rating': r.rating}
        return cls(net, train.user_map, train.item_map, scaler, train.scale, arrays(train),
                   test=arrays(test), item_names=train.item_names, history=history)

    @property
    def model_name(self):
        return model_name_of(self.net)

    def _ctx(self):
        return self.net._first_ctx()

    def to_original(self, scaled):
        """Network outputs -> ratings, clipped to the rating scale."""
        return np.clip(self.scaler.inverse_transform(scaled), self.scale[0], self.scale[1])

    def predict(self, raw_users, raw_items, unknown='error'):
        """Predicted ratings of (user, item) pairs given by raw ids.

        Parameters
        ----------
        raw_users, raw_items : scalar or array-like
            Raw ids, as in the data files; broadcast against each other.
        unknown : {'error', 'mean'}
            For an id the model never saw: raise ``KeyError`` naming it, or fall back
            to a baseline: the global bias plus the known side's bias for biased models,
            the training mean otherwise.

        Returns
        -------
        float or numpy.ndarray of float64
        """
        if unknown not in ('error', 'mean'):
            raise ValueError(f"unknown must be 'error' or 'mean', got {unknown!r}")
        scalar = np.ndim(raw_users) == 0 and np.ndim(raw_items) == 0
        users, items = np.broadcast_arrays(np.atleast_1d(np.asarray(raw_users, dtype=object)),
                                           np.atleast_1d(np.asarray(raw_items, dtype=object)))
        if unknown == 'error':
            u = self.user_map.to_inner(users, 'user')
            i = self.item_map.to_inner(items, 'item')
            out = self.score_pairs(u, i)
        else:
            known_u, known_i = self.user_map.contains(users), self.item_map.contains(items)
            out = self._fallback(users, items, known_u, known_i)
            both = known_u & known_i
            if both.any():
                out[both] = self.score_pairs(self.user_map.to_inner(users[both]),
                                                self.item_map.to_inner(items[both]))
        return float(out[0]) if scalar else out

    def score_pairs(self, u, i):
        """Predicted ratings (original scale) of inner-id pairs ``u``, ``i``."""
        ctx = self._ctx()
        pred = self.net(mx.nd.array(u, ctx=ctx, dtype=np.int32),
                        mx.nd.array(i, ctx=ctx, dtype=np.int32)).asnumpy()
        return self.to_original(pred)

    def _fallback(self, users, items, known_u, known_i):
        out = np.full(len(users), self.global_mean)
        if hasattr(self.net, 'biases') and getattr(self.net, 'use_bias', True):
            mu, bu, bi = self.net.biases()
            scaled = np.full(len(users), mu)
            if known_u.any():
                scaled[known_u] += bu[self.user_map.to_inner(users[known_u])]
            if known_i.any():
                scaled[known_i] += bi[self.item_map.to_inner(items[known_i])]
            out = self.to_original(scaled)
        return out

    def score_users(self, inner_users):
        """Predicted ratings of every item for the given inner users,
        shape (len(inner_users), num_items), on the rating scale."""
        return self.to_original(self.net.score_matrix(np.asarray(inner_users)))

    def user_factors(self):
        """User embedding matrix (num_users, factors), numpy."""
        return self.net.user_factors()

    def item_factors(self):
        """Item embedding matrix (num_items, factors), numpy."""
        return self.net.item_factors()

    def item_name(self, raw_item):
        """Title or text of a raw item id ('' when unknown)."""
        return self.item_names.get(raw_item, self.item_names.get(str(raw_item), ''))

    def export(self, path):
        """Export the network with ``HybridBlock.export`` (``path-symbol.json`` and
        ``path-0000.params``) for serving without gluonrec (ids are inner ids)."""
        self.net.hybridize()
        ctx = self._ctx()
        self.net(mx.nd.zeros((1,), ctx=ctx, dtype=np.int32),
                 mx.nd.zeros((1,), ctx=ctx, dtype=np.int32))
        self.net.export(os.fspath(path))
        return f'{path}-symbol.json', f'{path}-0000.params'
