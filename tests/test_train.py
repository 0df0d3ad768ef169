import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import InterruptAt
from gluonrec._compat import mx
from gluonrec.data import MinMaxScaler, RatingIter, make_synthetic, random_split
from gluonrec.models import get_model
from gluonrec.train import (CHECKPOINT_FILE, EarlyStopping, History, evaluate, fit,
                            plot_history, resolve_ctx)


@pytest.fixture(scope='module')
def planted():
    """A rank-2 matrix, densely observed, with little noise."""
    r = make_synthetic(num_users=120, num_items=40, num_ratings=3600, rank=2, noise=0.02,
                       seed=1)
    return random_split(r, 0.2, seed=0)


def _setup(split, name='mf', batch_size=128, seed=0, **kwargs):
    train, val = split
    net = get_model(name, num_users=train.num_users, num_items=train.num_items,
                    num_factors=kwargs.pop('num_factors', 4), **kwargs)
    scaler = MinMaxScaler.from_scale(train.scale, net.feature_range)
    it = RatingIter.from_ratings(train, scaler, batch_size=batch_size, seed=seed)
    return net, scaler, it, val


def _params(net):
    return {k: v.data().asnumpy().copy() for k, v in net._collect_params_with_prefix().items()}


@pytest.mark.parametrize('name', ['mf', 'biased_mf'])
def test_recovers_planted_low_rank_matrix(planted, name):
    net, scaler, it, val = _setup(planted, name)
    net.initialize(mx.init.Normal(0.1))
    initial = evaluate(net, val, scaler)['rmse']
    history = fit(net, it, val, epochs=40, optimizer='adam', learning_rate=0.02,
                  scaler=scaler, ctx='cpu', seed=0, log_interval=None)
    assert history[-1]['val_rmse'] < 0.25 * initial
    assert len(history) == 40 and history[-1]['train_loss'] < history[0]['train_loss']


def test_nnmf_has_no_negative_factor_after_training(planted):
    net, scaler, it, val = _setup(planted, 'nnmf', sparse_grad=True)
    assert scaler.feature_range == (0.0, 1.0)
    history = fit(net, it, val, epochs=5, optimizer='adam', learning_rate=0.05,
                  scaler=scaler, ctx='cpu', seed=0, log_interval=None)
    assert net.user_factors().min() >= 0 and net.item_factors().min() >= 0
    assert history[-1]['val_rmse'] < history[0]['val_rmse']


def test_same_seed_same_parameters(planted):
    runs = []
    for _ in range(2):
        net, scaler, it, val = _setup(planted, 'mlp', dropout=0.1)
        fit(net, it, val, epochs=2, scaler=scaler, ctx='cpu', seed=5, log_interval=None)
        runs.append(_params(net))
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key])


def test_resume_equals_uninterrupted_run(planted, tmp_path):
    net, scaler, it, val = _setup(planted, 'biased_mf', sparse_grad=True)
    full = fit(net, it, val, epochs=4, optimizer='adagrad', learning_rate=0.1, reg=0.01,
               scaler=scaler, ctx='cpu', seed=3, log_interval=None)
    expected = _params(net)

    net, scaler, it, val = _setup(planted, 'biased_mf', sparse_grad=True)
    fit(net, it, val, epochs=2, optimizer='adagrad', learning_rate=0.1, reg=0.01,
        scaler=scaler, ctx='cpu', seed=3, log_interval=None, checkpoint_dir=str(tmp_path))
    net, scaler, it, val = _setup(planted, 'biased_mf', sparse_grad=True)  # a new process
    resumed = fit(net, it, val, epochs=4, optimizer='adagrad', learning_rate=0.1, reg=0.01,
                  scaler=scaler, ctx='cpu', seed=3, log_interval=None,
                  checkpoint_dir=str(tmp_path), resume=True)
    assert [r['epoch'] for r in resumed] == [1, 2, 3, 4]
    assert resumed[-1]['val_rmse'] == pytest.approx(full[-1]['val_rmse'], rel=1e-6)
    for key, value in _params(net).items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-5, atol=1e-7)


def test_ctrl_c_checkpoints_mid_epoch_and_resume_matches(planted, tmp_path):
    net, scaler, it, val = _setup(planted, 'mf')
    fit(net, it, val, epochs=3, optimizer='adam', scaler=scaler, ctx='cpu', seed=2,
        log_interval=None)
    expected = _params(net)

    net, scaler, it, val = _setup(planted, 'mf')
    history = fit(net, it, val, epochs=3, optimizer='adam', scaler=scaler, ctx='cpu', seed=2,
                  log_interval=None, checkpoint_dir=str(tmp_path),
                  callbacks=[InterruptAt(1, 4)])
    assert len(history) == 1  # epoch 2 was cut short after its 5th batch
    state = json.loads((tmp_path / CHECKPOINT_FILE).read_text())
    assert (state['epoch'], state['batch']) == (1, 5)
    net, scaler, it, val = _setup(planted, 'mf')
    fit(net, it, val, epochs=3, optimizer='adam', scaler=scaler, ctx='cpu', seed=2,
        log_interval=None, checkpoint_dir=str(tmp_path), resume=True)
    for key, value in _params(net).items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-5, atol=1e-7)


def test_checkpoints_keep_out_of_foreign_folders_and_files(planted, tmp_path):
    """A checkpoint folder holding other files is refused; clean-up removes only the
    files checkpoints wrote (a user's own .params beside them survive a resume)."""
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'weights.params').write_text('x')
    net, scaler, it, val = _setup(planted, 'mf')
    with pytest.raises(ValueError, match="holds files a checkpoint does not write .*weights"):
        fit(net, it, val, epochs=1, scaler=scaler, ctx='cpu', log_interval=None,
            checkpoint_dir=str(tmp_path / 'mine'))
    assert (tmp_path / 'mine' / 'weights.params').read_text() == 'x'
    folder = tmp_path / 'ckpt'
    fit(net, it, val, epochs=2, scaler=scaler, ctx='cpu', log_interval=None,
        checkpoint_dir=str(folder))
    (folder / '.params-0001-000000.params.abc.tmp').write_text('half-written')
    fit(net, it, val, epochs=3, scaler=scaler, ctx='cpu', log_interval=None,
        checkpoint_dir=str(folder), resume=True)  # our own leftovers are no obstacle
    names = sorted(p.name for p in folder.iterdir())
    assert 'checkpoint.json' in names and any(n.startswith('params-0003') for n in names)


def test_nan_loss_raises_and_keeps_last_good_checkpoint(planted, tmp_path):
    net, scaler, it, val = _setup(planted, 'mf')
    fit(net, it, val, epochs=1, optimizer='sgd', learning_rate=0.01, scaler=scaler,
        ctx='cpu', seed=0, log_interval=None, checkpoint_dir=str(tmp_path))
    before = (tmp_path / CHECKPOINT_FILE).read_text()
    with pytest.raises(FloatingPointError, match='lower the learning rate'):
        fit(net, it, val, epochs=3, optimizer='sgd', learning_rate=1e6, scaler=scaler,
            ctx='cpu', seed=0, log_interval=1, checkpoint_dir=str(tmp_path))
    assert (tmp_path / CHECKPOINT_FILE).read_text() == before
    net2, scaler, it, val = _setup(planted, 'mf')
    history = fit(net2, it, val, epochs=2, optimizer='sgd', learning_rate=0.01,
                  scaler=scaler, ctx='cpu', seed=0, checkpoint_dir=str(tmp_path),
                  resume=True, log_interval=None)
    assert len(history) == 2 and np.isfinite(net2.item_factors()).all()


@pytest.mark.parametrize('optimizer', ['adagrad', 'adam'])
def test_divergence_without_nan_stops_and_names_only_a_real_checkpoint(planted, tmp_path,
                                                                       optimizer):
    """lr 1e6 with adagrad or adam: the loss runs to ~1e20 and stays finite. It used to
    train on and return; now it stops, and points to a checkpoint only if one exists."""
    net, scaler, it, val = _setup(planted, 'mf')
    with pytest.raises(FloatingPointError, match='training diverged: loss .* times the loss '
                                                 'of predicting 0') as err:
        fit(net, it, val, epochs=3, optimizer=optimizer, learning_rate=1e6, scaler=scaler,
            ctx='cpu', seed=0, log_interval=None, checkpoint_dir=str(tmp_path / 'c'))
    assert 'checkpoint' not in str(err.value)  # none was written before it diverged
    net, scaler, it, val = _setup(planted, 'mf')
    fit(net, it, val, epochs=1, optimizer=optimizer, learning_rate=0.01, scaler=scaler,
        ctx='cpu', seed=0, log_interval=None, checkpoint_dir=str(tmp_path / 'd'))
    with pytest.raises(FloatingPointError, match='last good checkpoint is in'):
        fit(net, it, val, epochs=3, optimizer=optimizer, learning_rate=1e6, scaler=scaler,
            ctx='cpu', seed=0, log_interval=None, checkpoint_dir=str(tmp_path / 'd'))


@pytest.mark.parametrize('change, message', [
    (dict(optimizer='sgd'), "optimizer 'adagrad', this run has 'sgd'"),  # used to crash
    (dict(optimizer='adam'), "optimizer 'adagrad', this run has 'adam'"),  # silent mix-up
    (dict(learning_rate=0.05), "optimizer settings"),
    (dict(reg=0.1), 'reg 0.0, this run has 0.1'),
    (dict(seed=5), 'seed 0, this run has 5'),
    (dict(num_factors=8), 'model config'),
    (dict(name='biased_mf'), "model 'MatrixFactorization', this run has 'BiasedMF'"),
    (dict(batch_size=64), 'batch size 128, this run has 64'),
    (dict(split_seed=1), 'training data (sha256)'),  # another train/validation split
])
def test_resume_refuses_a_checkpoint_of_other_settings_or_data(planted, tmp_path, change,
                                                                message):
    def run(name='mf', num_factors=4, batch_size=128, split_seed=0, **fit_args):
        split = planted if not split_seed else random_split(
            make_synthetic(num_users=120, num_items=40, num_ratings=3600, rank=2, noise=0.02,
                           seed=1), 0.2, seed=split_seed)  # the fixture's data, resplit
        net, scaler, it, val = _setup(split, name, batch_size=batch_size,
                                      num_factors=num_factors)
        args = dict(epochs=2, optimizer='adagrad', learning_rate=0.1, reg=0.0, seed=0,
                    scaler=scaler, ctx='cpu', log_interval=None, checkpoint_dir=str(tmp_path))
        args.update(fit_args)
        return fit(net, it, val, **args)

    run(epochs=1)
    fit_keys = {'optimizer', 'learning_rate', 'reg', 'seed'}
    with pytest.raises(ValueError, match=re.escape(message)):
        run(resume=True, **{k: v for k, v in change.items() if k in fit_keys},
            **{k: v for k, v in change.items() if k not in fit_keys})
    assert len(run(resume=True)) == 2  # the same settings resume


def test_corrupt_checkpoint_is_a_clear_error(planted, tmp_path):
    net, scaler, it, val = _setup(planted, 'mf')
    fit(net, it, val, epochs=1, scaler=scaler, ctx='cpu', log_interval=None,
        checkpoint_dir=str(tmp_path))
    state = json.loads((tmp_path / CHECKPOINT_FILE).read_text())
    params = tmp_path / state['params']
    params.write_bytes(params.read_bytes()[:100])
    with pytest.raises(ValueError, match='cannot load parameters') as caught:
        fit(net, it, val, epochs=2, scaler=scaler, ctx='cpu', checkpoint_dir=str(tmp_path),
            resume=True)
    assert 'Traceback' not in str(caught.value)  # it used to be the reason given
    (tmp_path / CHECKPOINT_FILE).write_text('{not json')
    with pytest.raises(ValueError, match='corrupt checkpoint'):
        fit(net, it, val, epochs=2, scaler=scaler, ctx='cpu', checkpoint_dir=str(tmp_path),
            resume=True)


def test_corrupt_optimizer_state_and_foreign_paths_are_one_line_errors(planted, tmp_path):
    """A corrupt optimizer-*.nd used to end in an MXNetError traceback on --resume, and
    "params": "../../../etc/passwd" was read from outside the checkpoint folder."""
    net, scaler, it, val = _setup(planted, 'mf')
    folder = tmp_path / 'ckpt'
    fit(net, it, val, epochs=1, scaler=scaler, ctx='cpu', log_interval=None,
        checkpoint_dir=str(folder))
    state = json.loads((folder / CHECKPOINT_FILE).read_text())
    states = folder / state['states']
    states.write_bytes(states.read_bytes()[:60])
    with pytest.raises(ValueError, match=re.escape(str(states)) +
                       ': cannot load the optimizer state; corrupt or truncated'):
        fit(net, it, val, epochs=2, scaler=scaler, ctx='cpu', checkpoint_dir=str(folder),
            resume=True)
    (tmp_path / 'secret.params').write_bytes((folder / state['params']).read_bytes())
    (folder / CHECKPOINT_FILE).write_text(json.dumps(dict(state, params='../secret.params')))
    with pytest.raises(ValueError, match="names '../secret.params' as its params, which is "
                                         'not a file a checkpoint writes'):
        fit(net, it, val, epochs=2, scaler=scaler, ctx='cpu', checkpoint_dir=str(folder),
            resume=True)


def test_a_full_disk_while_checkpointing_is_one_line_naming_the_file(planted, tmp_path,
                                                                     monkeypatch):
    """It used to be an MXNetError traceback. MXNet writes to /dev/full here, which
    fails as a full disk does (ENOSPC), and the checkpoint before it stays usable."""
    import contextlib
    from gluonrec.train import checkpoint
    net, scaler, it, val = _setup(planted, 'mf')
    folder = tmp_path / 'ckpt'
    fit(net, it, val, epochs=1, scaler=scaler, ctx='cpu', log_interval=None,
        checkpoint_dir=str(folder))
    before = (folder / CHECKPOINT_FILE).read_text()

    @contextlib.contextmanager
    def full(path):
        yield '/dev/full'
    monkeypatch.setattr(checkpoint, 'atomic_path', full)
    with pytest.raises(OSError, match=r'ckpt/params-0002-000000\.params: cannot write it, the '
                                      r'disk may be full \(MXNetError: .*\); the previous '
                                      r'checkpoint is kept$'):
        fit(net, it, val, epochs=2, scaler=scaler, ctx='cpu', checkpoint_dir=str(folder),
            resume=True, log_interval=None)
    assert (folder / CHECKPOINT_FILE).read_text() == before


def test_a_full_disk_names_the_file_python_was_writing(tmp_path, monkeypatch):
    """Errno 28 from a write names no file; atomic writes say which one they were."""
    from gluonrec._io import write_text
    target = tmp_path / 'history.json'
    real_open = open

    def full_disk_open(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        if str(path).endswith('.tmp'):
            handle.close()
            return real_open('/dev/full', 'w')
        return handle
    monkeypatch.setattr('builtins.open', full_disk_open)
    with pytest.raises(OSError, match=re.escape(f"No space left on device: '{target}'")):
        write_text(target, 'x' * 100000)
    monkeypatch.undo()
    assert not target.exists() and not list(tmp_path.iterdir())


def test_parameters_too_big_for_memory_are_refused_before_allocating(planted):
    """--num-factors 100000000 used to end in an MXNetError traceback from initialize."""
    net, scaler, it, val = _setup(planted, 'mf', num_factors=100_000_000)
    with pytest.raises(ValueError, match=r'the model has 16,000,000,000 parameters: about '
                                         r'[\d,.]+ GiB to train .* lower num_factors'):
        fit(net, it, val, epochs=1, scaler=scaler, ctx='cpu', log_interval=None)
    assert all(p._data is None for p in net.collect_params().values())  # nothing allocated


def test_early_stopping_restores_best(planted, tmp_path):
    net, scaler, it, val = _setup(planted, 'mf', num_factors=16)
    history = fit(net, it, val, epochs=60, optimizer='adam', learning_rate=0.05,
                  scaler=scaler, ctx='cpu', seed=0, log_interval=None, patience=2,
                  checkpoint_dir=str(tmp_path))
    best = history.best()
    assert len(history) < 60 and best['epoch'] <= len(history) - 2
    assert evaluate(net, val, scaler)['rmse'] == pytest.approx(best['val_rmse'], rel=1e-5)
    stopper = EarlyStopping(patience=2)
    assert [stopper({'val_rmse': v}) for v in (3, 2, 2.5, 2.4)] == [False, False, False, True]


def test_history_files_and_plot(tmp_path):
    h = History([{'epoch': 1, 'train_loss': 0.5, 'val_rmse': 2.0},
                 {'epoch': 2, 'train_loss': 0.4, 'val_rmse': 1.5}])
    h.to_csv(tmp_path / 'h.csv')
    h.to_json(tmp_path / 'h.json')
    assert (tmp_path / 'h.csv').read_text().splitlines()[0] == 'epoch,train_loss,val_rmse'
    assert json.loads((tmp_path / 'h.json').read_text())[1]['val_rmse'] == 1.5
    pytest.importorskip('matplotlib')
    plot_history(h, tmp_path / 'h.png')
    assert (tmp_path / 'h.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_ctx_selection(monkeypatch):
    assert resolve_ctx('cpu') == [mx.cpu()]
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    assert resolve_ctx('auto') == [mx.cpu()]
    with pytest.raises(ValueError, match='GPU 0 requested but this machine has 0'):
        resolve_ctx('gpu')
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 2)
    assert resolve_ctx('auto') == [mx.gpu(0)]
    assert resolve_ctx('gpu:0,1') == [mx.gpu(0), mx.gpu(1)]
    assert resolve_ctx([mx.gpu(1)]) == [mx.gpu(1)]
    with pytest.raises(ValueError, match='GPU 2 requested'):
        resolve_ctx('gpu:1,2')
    for bad in ('tpu', 'gpu:a', 'gpu:1,1'):
        with pytest.raises(ValueError, match='bad ctx'):
            resolve_ctx(bad)


def test_fit_on_missing_gpu_fails_before_training(planted, monkeypatch):
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    net, scaler, it, val = _setup(planted)
    with pytest.raises(ValueError, match='GPU 0 requested'):
        fit(net, it, val, ctx='gpu', scaler=scaler)


def test_multi_device_path_splits_batches(planted):
    """Two CPU contexts exercise the same split-and-aggregate path as several GPUs."""
    net, scaler, it, val = _setup(planted, 'biased_mf')
    history = fit(net, it, val, epochs=3, ctx=[mx.cpu(0), mx.cpu(1)], scaler=scaler,
                  optimizer='adam', learning_rate=0.02, seed=0, log_interval=None)
    assert history[-1]['val_rmse'] < history[0]['val_rmse']


@pytest.mark.parametrize('kwargs, message', [
    (dict(epochs=0), 'epochs'), (dict(learning_rate=0), 'learning_rate'),
    (dict(loss='huber'), 'loss'), (dict(resume=True), 'checkpoint_dir'),
])
def test_bad_arguments(planted, kwargs, message):
    net, scaler, it, val = _setup(planted)
    with pytest.raises(ValueError, match=message):
        fit(net, it, val, scaler=scaler, ctx='cpu', **kwargs)


def test_sparse_adagrad_with_wd_points_to_reg(planted):
    net, scaler, it, val = _setup(planted, sparse_grad=True)
    with pytest.raises(ValueError, match='use reg='):
        fit(net, it, val, optimizer='adagrad', wd=0.01, ctx='cpu')


def test_real_movielens_biased_mf_beats_constant(shared_data):
    from gluonrec.data import load_movielens
    r = load_movielens(os.path.join(shared_data, 'ml-100k'))
    train, test = random_split(r, 0.2, seed=0)
    net = get_model('biased_mf', num_users=r.num_users, num_items=r.num_items,
                    num_factors=16, sparse_grad=True)
    scaler = MinMaxScaler.from_scale(r.scale)
    it = RatingIter.from_ratings(train, scaler, batch_size=1024, seed=0)
    history = fit(net, it, test, epochs=10, optimizer='adagrad', learning_rate=0.1,
                  reg=0.05, scaler=scaler, ctx='cpu', seed=0, log_interval=None)
    constant = float(np.sqrt(np.mean((test.rating - train.rating.mean()) ** 2)))
    assert history.best()['val_rmse'] < constant - 0.1


@pytest.mark.parametrize('setup, verbose, lines', [
    ('', True, 2),  # a plain Python session asks for the epoch lines
    ('', False, 0),  # the library does not print on its own (house style: logging)
    ('import logging; logging.basicConfig(level=logging.INFO)', False, 0),  # logged once
    ('import logging; logging.basicConfig(level=logging.INFO)', True, 2),
])
def test_fit_reports_epochs_through_logging_or_verbose(setup, verbose, lines):
    """verbose=True prints each epoch's line; logging, when set up, shows it once."""
    import subprocess
    import sys
    code = (f'{setup}\nimport gluonrec as gr\n'
            'r = gr.load_dataset("synthetic")\n'
            f'gr.train_model(r, model="mf", epochs=2, ctx="cpu", verbose={verbose}, '
            'refit=False)\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    printed = [line for line in proc.stdout.splitlines() if line.startswith('Epoch ')]
    assert len(printed) == lines
    assert proc.stderr.count('Epoch 2 / 2') == (1 if setup else 0)


def test_dropping_native_lines_keeps_every_other_line(capfd):
    from gluonrec.train.engine import dropping_native_lines
    with dropping_native_lines('lazy_update = True detected'):
        os.write(2, b'[12:00:00] utils.h:472: Optimizer with lazy_update = True detected.\n')
        os.write(2, b'something else MXNet said\n')
    err = capfd.readouterr().err
    assert 'something else MXNet said' in err and 'lazy_update' not in err


def test_adam_with_sparse_gradients_prints_no_native_note(tmp_path):
    """MXNet logs a note from C++ the first time adam updates row_sparse gradients
    lazily; gluonrec chooses that on purpose, so a run prints nothing of it."""
    script = tmp_path / 'run.py'
    script.write_text(
        'import gluonrec as gr\n'
        'r = gr.make_synthetic(100, 20, 2000, rank=2, seed=0)\n'
        "gr.train_model(r, model='mf', optimizer='adam', epochs=2, sparse_grad=True,\n"
        "               engine='generic', batch_size=256, lr=0.01)\n"
        "print('trained')\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and 'trained' in proc.stdout, proc.stderr
    assert 'lazy_update' not in proc.stderr
