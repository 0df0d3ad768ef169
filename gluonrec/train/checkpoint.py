"""Checkpoints: parameters, optimizer state and loop position, written atomically.

This is the only module that reaches into ``gluon.Trainer``'s private state (its
updaters and the optimizer's update counts): MXNet 1.9 has no public way to save and
restore optimizer state without pickle.
"""
import json
import os
import re

from .._compat import error_line, mx, write_ndarrays
from .._io import atomic_path, write_json

__all__ = ['Checkpoints', 'CHECKPOINT_FILE', 'load_params', 'optimizer_arrays',
           'restore_optimizer']

CHECKPOINT_FILE = 'checkpoint.json'
#: What ``train_model``'s refit keeps in a checkpoint folder: the refit phase's own
#: checkpoint folder in the selection run's, and the selection's outcome in that one.
_REFIT_ENTRIES = ('refit', 'selection.json')
# The only files a checkpoint folder's clean-up may remove: those it wrote itself.
_OWN_FILE = re.compile(r'(params|best)-\d{4}-\d{6}\.params|optimizer-\d{4}-\d{6}\.nd')


def _ours(name):
    """A file a checkpoint folder holds: its state, its arrays, or a temporary file of
    an interrupted write (``_io.atomic_path``)."""
    return name in (CHECKPOINT_FILE, *_REFIT_ENTRIES) or bool(_OWN_FILE.fullmatch(name)) or \
        (name.startswith('.') and name.endswith('.tmp'))


def optimizer_arrays(trainer):
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


def restore_optimizer(trainer, arrays, meta):
    """Load what ``optimizer_arrays`` saved into ``trainer``'s updaters."""
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


def load_params(net, path, ctxs):
    """``net.load_parameters`` with a one-line error naming the file."""
    try:
        net.load_parameters(path, ctx=ctxs)
    except Exception as exc:  # MXNet raises MXNetError/AssertionError with long texts
        raise ValueError(f'{path}: cannot load parameters: {error_line(exc)}') from None


class Checkpoints:
    """Epoch-numbered files plus ``checkpoint.json``, which is written last.

    ``checkpoint.json`` names the files of the last good state; it is replaced
    atomically after they are complete, so a crash at any point leaves the previous
    checkpoint intact and usable.
    """

    def __init__(self, folder):
        self.folder = folder
        self.best = None  # file name of the best parameters so far
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise ValueError(f'{folder}: is a file, not a checkpoint folder')
        foreign = sorted(name for name in (os.listdir(folder) if os.path.isdir(folder) else ())
                         if not _ours(name))
        if foreign:
            raise ValueError(f'{folder}: holds files a checkpoint does not write (such as '
                             f'{foreign[0]!r}); refusing to write checkpoints into it')
        os.makedirs(folder, exist_ok=True)

    def path(self, name):
        """The path of file ``name`` in the checkpoint folder."""
        return os.path.join(self.folder, name)

    def load(self):
        """The saved state (a dict), or None when the folder holds no checkpoint."""
        path = self.path(CHECKPOINT_FILE)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding='utf-8') as handle:
                state = json.load(handle)
            for key in ('epoch', 'batch', 'params', 'optimizer', 'history'):
                state[key]  # noqa: B018 - presence check
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f'{path}: corrupt checkpoint ({exc!r})') from None
        for key in ('params', 'states', 'best_params'):
            name = state.get(key)
            if name and not (isinstance(name, str) and _OWN_FILE.fullmatch(name)):
                raise ValueError(f'{path}: names {name!r} as its {key}, which is not a file '
                                 'a checkpoint writes; refusing to read it')
            if name and not os.path.isfile(self.path(name)):
                raise ValueError(f'{path}: names {name}, which is missing')
        self.best = state.get('best_params')
        return state

    def restore(self, net, engine, state, ctxs):
        """Load the parameters and the engine's optimizer state that ``state`` names."""
        load_params(net, self.path(state['params']), ctxs)
        path = self.path(state['states'])
        try:
            arrays = mx.nd.load(path)
        except mx.base.MXNetError as exc:
            raise ValueError(f'{path}: cannot load the optimizer state; corrupt or '
                             f'truncated ({error_line(exc)})') from None
        engine.restore_optimizer(arrays, state['optimizer'])

    def restore_best(self, net, ctxs):
        """Load the best parameters saved so far, if any."""
        state = self.load()
        if state and state.get('best_params'):
            load_params(net, self.path(state['best_params']), ctxs)

    def _write(self, name, write):
        """``write(path)`` to file ``name`` atomically and checked (``write_ndarrays``:
        a full disk is an ``OSError`` naming the file, not MXNet's traceback)."""
        path = self.path(name)
        with atomic_path(path) as tmp:
            try:
                write_ndarrays(tmp, write)
            except OSError as exc:
                raise OSError(f'{path}: {str(exc).split(": ", 1)[1]}; the previous '
                              'checkpoint is kept') from None

    def save(self, net, engine, state, best_changed):
        """Write parameters, optimizer state and, last, ``checkpoint.json``."""
        tag = f"{state['epoch']:04d}-{state['batch']:06d}"
        params, states = f'params-{tag}.params', f'optimizer-{tag}.nd'
        self._write(params, net.save_parameters)
        arrays, meta = engine.optimizer_state()
        self._write(states, lambda tmp: mx.nd.save(tmp, arrays))
        if best_changed:
            best = f'best-{tag}.params'
            self._write(best, net.save_parameters)
            self.best = best
        state['best_params'] = self.best
        state.update(params=params, states=states, optimizer=meta)
        write_json(self.path(CHECKPOINT_FILE), state)
        keep = {params, states, state.get('best_params')}
        for name in os.listdir(self.folder):
            if _OWN_FILE.fullmatch(name) and name not in keep:
                os.remove(self.path(name))
