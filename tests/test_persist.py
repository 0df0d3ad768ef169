import json
import os
import re

import numpy as np
import pytest

from gluonrec._compat import mx
from gluonrec.models import get_model, model_names
from gluonrec.persist import load_model, save_model
from gluonrec.recommender import Recommender


@pytest.fixture
def parts(trained):
    """``parts(name)``: (net, train, test, scaler, history) of the session's model."""
    def get(name='biased_mf'):
        t = trained(name)
        return t.net, t.train, t.val, t.scaler, t.history
    return get


@pytest.mark.parametrize('name', model_names())
def test_round_trip_identical_predictions(name, tmp_path, parts):
    net, train, test, scaler, history = parts(name)
    folder = save_model(tmp_path / 'm', net, train, scaler, history=history, test=test)
    rec = load_model(folder)
    direct = Recommender.from_training(net, train, scaler)
    users = train.user_map.to_raw(test.user)
    items = train.item_map.to_raw(test.item)
    np.testing.assert_allclose(rec.predict(users, items), direct.predict(users, items),
                               rtol=1e-6)
    assert rec.model_name == name and rec.item_name(3) == 'item 3'
    assert len(rec.history) == 3 and rec.test.user.shape == test.user.shape
    np.testing.assert_array_equal(rec.item_factors(), net.item_factors())
    config = json.loads((tmp_path / 'm' / 'config.json').read_text())
    assert config['mxnet_version'] == mx.__version__ and config['model'] == name


def test_predictions_on_original_scale_and_clipped(tmp_path, parts):
    net, train, test, scaler, _ = parts()
    rec = Recommender.from_training(net, train, scaler)
    pred = rec.predict(train.user_map.to_raw(train.user), train.item_map.to_raw(train.item))
    assert pred.min() >= -10 and pred.max() <= 10
    scaled = net(mx.nd.array(train.user, dtype='int32'), mx.nd.array(train.item, dtype='int32'))
    np.testing.assert_allclose(pred, np.clip(scaler.inverse_transform(scaled.asnumpy()), -10,
                                             10), rtol=1e-5, atol=1e-5)
    rmse = np.sqrt(np.mean((pred - train.rating) ** 2))
    assert rmse < np.std(train.rating) * 1.05  # on the -10..10 scale, not the scaled one
    assert isinstance(rec.predict(1, 1), float)


def test_unknown_ids_raise_or_fall_back(tmp_path, parts):
    net, train, test, scaler, _ = parts()
    rec = Recommender.from_training(net, train, scaler)
    with pytest.raises(KeyError, match='unknown user 999'):
        rec.predict(999, 1)
    mu, bu, bi = net.biases()
    value = rec.predict(999, 1, unknown='mean')
    assert value == pytest.approx(scaler.inverse_transform(mu + bi[0]))
    assert rec.predict([999, 1], [1000, 1], unknown='mean').shape == (2,)


def test_broken_folders_name_the_file(tmp_path, parts):
    net, train, test, scaler, _ = parts()
    folder = save_model(tmp_path / 'm', net, train, scaler)
    params = os.path.join(folder, 'model.params')
    data = open(params, 'rb').read()
    with open(params, 'wb') as out:
        out.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='model.params: cannot load'):
        load_model(folder)
    save_model(folder, net, train, scaler)
    other = get_model('biased_mf', num_users=train.num_users, num_items=train.num_items,
                      num_factors=6)
    other.initialize()
    other.save_parameters(params)
    with pytest.raises(ValueError, match='model.params: cannot load'):
        load_model(folder)
    save_model(folder, net, train, scaler)
    os.remove(os.path.join(folder, 'ids.json'))
    with pytest.raises(ValueError, match='ids.json: missing'):
        load_model(folder)
    with pytest.raises(ValueError, match='no such model folder'):
        load_model(tmp_path / 'nope')


def _halve(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as out:
        out.write(data[:len(data) // 2])


def _edit_json(path, change):
    with open(path) as handle:
        data = json.load(handle)
    change(data)
    with open(path, 'w') as out:
        json.dump(data, out)


def _write(text):
    def change(path):
        with open(path, 'w') as out:
            out.write(text)
    return change


@pytest.mark.parametrize('name, change, message', [
    ('train.npz', _halve, 'train.npz: unreadable, corrupt or truncated'),
    ('test.npz', _halve, 'test.npz: unreadable, corrupt or truncated'),
    ('model.params', _halve, r'model.params: cannot load; corrupt.*Invalid NDArray file'),
    ('ids.json', _halve, 'ids.json: not valid JSON'),
    ('ids.json', _write('[1, 2]'), 'ids.json: bad id map'),
    ('ids.json', _write('{"users": {"dtype": "int", "ids": 5}, "items": {}}'),
     'ids.json: bad id map'),
    ('ids.json', lambda p: _edit_json(p, lambda d: d['users']['ids'].__setitem__(0, 1.5)),
     r'ids.json: bad id map \(id #0 is 1.5, but the ids are declared "int"\)'),
    ('ids.json', lambda p: _edit_json(p, lambda d: d['users']['ids'].__setitem__(0, '7')),
     "ids.json: bad id map \\(id #0 is '7', but the ids are declared \"int\"\\)"),
    ('config.json', lambda p: _edit_json(p, lambda d: d.__setitem__('model', 'nnmf')),
     'model.params: does not hold a nnmf model, as config.json says .*negative factors'),
    ('config.json', lambda p: _edit_json(p, lambda d: d.pop('scale')),
     "config.json: missing 'scale'"),  # was "error: scale"
    ('config.json', lambda p: _edit_json(p, lambda d: d.__setitem__('scale', [5, 1])),
     r"config.json: 'scale' must be \[low, high\] with low < high, got \[5, 1\]"),
    ('config.json', _write('[]'), 'config.json: expected a JSON object'),
    ('scaler.json', _write('{"low": 1}'), "scaler.json: bad scaler \\(missing 'high'\\)"),
    ('items.json', _write('[1]'), r'items.json: expected a list of \[item id, name\] pairs'),
    ('history.json', _write('{"epoch": 1}'), 'history.json: expected a list'),
    ('history.json', _write(''), 'history.json: not valid JSON'),
])
def test_corrupt_model_files_name_the_file(tmp_path, parts, name, change, message):
    net, train, test, scaler, history = parts()
    folder = save_model(tmp_path / 'm', net, train, scaler, history=history, test=test)
    change(os.path.join(folder, name))
    with pytest.raises(ValueError, match=message):
        load_model(folder)


def test_save_replaces_folder_atomically(tmp_path, parts):
    net, train, test, scaler, _ = parts()
    folder = tmp_path / 'm'
    save_model(folder, net, train, scaler, test=test)
    save_model(folder, net, train, scaler)  # test.npz, written before, is gluonrec's own
    assert not (folder / 'test.npz').exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['m']  # no copies, no lock file


def test_retraining_into_a_model_folder_never_deletes_a_users_file(tmp_path, parts):
    """It used to delete my_notes.txt (and src/ beside a config.json with the two keys)."""
    net, train, test, scaler, _ = parts()
    folder = tmp_path / 'm'
    save_model(folder, net, train, scaler)
    (folder / 'my_notes.txt').write_text('keep me')
    (folder / 'src').mkdir()
    before = {p: p.read_bytes() for p in folder.rglob('*') if p.is_file()}
    with pytest.raises(ValueError, match=r"also holds entries gluonrec did not write "
                                         r"\('my_notes.txt', 'src'\); refusing"):
        save_model(folder, net, train, scaler)
    assert {p: p.read_bytes() for p in folder.rglob('*') if p.is_file()} == before
    project = tmp_path / 'proj'
    (project / 'src').mkdir(parents=True)
    (project / 'src' / 'main.py').write_text('print(1)')
    (project / 'results.csv').write_text('a,b')
    (project / 'config.json').write_text('{"format_version": 1, "model": "x"}')
    with pytest.raises(ValueError, match="'results.csv', 'src'"):
        save_model(project, net, train, scaler)
    assert (project / 'src' / 'main.py').read_text() == 'print(1)'


@pytest.mark.parametrize('path', ['', '   ', '.', '..'])
def test_save_refuses_an_empty_path_and_the_current_folder(tmp_path, parts, monkeypatch,
                                                           path):
    """--out '' used to replace the folder the user stood in with the model."""
    net, train, test, scaler, _ = parts()
    here = tmp_path / 'project'
    here.mkdir()
    (here / 'main.py').write_text('print(1)')
    monkeypatch.chdir(here)
    with pytest.raises(ValueError, match='empty|current folder or one above it'):
        save_model(path, net, train, scaler)
    assert sorted(p.name for p in tmp_path.rglob('*')) == ['main.py', 'project']


def _crash_script(folder, after):
    """A child process that saves to ``folder`` and dies (os._exit, as kill -9 would)
    right after the ``after``-th rename, with no chance to clean up."""
    return f'''
import os, sys
from gluonrec import _io, load_model, persist
rec = load_model({str(folder)!r})
if {after} == 1:
    _io._RENAMEAT2 = None  # the two-rename fallback of systems without an exchange
real, count = os.replace, [0]
def replace(a, b):
    folder = os.path.isdir(a)  # the swap's renames, not those of the files written
    real(a, b)
    count[0] += folder
    if folder and count[0] == {after}:
        os._exit(9)
os.replace = replace
persist.exchange_paths = lambda a, b: _io.exchange_paths(a, b) and os._exit(9)
persist.save_model({str(folder)!r}, rec.net, rec.train, rec.scaler,
                   extra={{'generation': 2}})
'''


@pytest.mark.parametrize('after', [1, 0], ids=['between-two-renames', 'after-exchange'])
def test_a_crash_during_the_swap_leaves_a_loadable_model(tmp_path, parts, after):
    """A crash between save_model's two renames used to leave no model at the path."""
    import subprocess
    import sys
    net, train, test, scaler, _ = parts()
    folder = tmp_path / 'm'
    save_model(folder, net, train, scaler, extra={'generation': 1})
    proc = subprocess.run([sys.executable, '-c', _crash_script(folder, after)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr
    left = sorted(p.name for p in tmp_path.iterdir())
    assert any('.m.' in name for name in left), left  # the crash did leave copies behind
    rec = load_model(folder)  # recovers
    assert rec.config['extra']['generation'] == 2
    np.testing.assert_allclose(rec.predict(train.user_map.raw_ids[:3],
                                           train.item_map.raw_ids[:3]),
                               Recommender(net, train, scaler).predict(
                                   train.user_map.raw_ids[:3], train.item_map.raw_ids[:3]),
                               rtol=1e-5)
    save_model(folder, net, train, scaler)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['m']  # the leftovers are gone


def test_an_exception_between_the_renames_puts_the_new_model_in_place(tmp_path, parts,
                                                                     monkeypatch):
    from gluonrec import _io, persist
    net, train, test, scaler, _ = parts()
    folder = tmp_path / 'm'
    save_model(folder, net, train, scaler, extra={'generation': 1})
    monkeypatch.setattr(_io, '_RENAMEAT2', None)
    real, count = os.replace, [0]

    def replace(a, b):
        folder = os.path.isdir(a)
        real(a, b)
        count[0] += folder
        if folder and count[0] == 1:
            raise KeyboardInterrupt
    monkeypatch.setattr(persist.os, 'replace', replace)
    with pytest.raises(KeyboardInterrupt):
        save_model(folder, net, train, scaler, extra={'generation': 2})
    monkeypatch.setattr(persist.os, 'replace', real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['m']
    assert load_model(folder).config['extra']['generation'] == 2


def test_a_load_says_where_the_model_is_when_it_cannot_put_it_back(tmp_path, parts,
                                                                  monkeypatch):
    from gluonrec import persist
    net, train, test, scaler, _ = parts()
    folder = tmp_path / 'm'
    save_model(folder, net, train, scaler)
    hidden = tmp_path / '.m.old.abcd1234'
    os.replace(folder, hidden)

    def refuse(path):
        raise PermissionError(13, 'Permission denied', str(path))
    monkeypatch.setattr(persist, '_settle', refuse)
    with pytest.raises(ValueError, match=f'left the model in {re.escape(str(hidden))}.*'
                                         f'rename it to {re.escape(str(folder))}'):
        load_model(folder)
    monkeypatch.undo()
    assert load_model(folder).net is not None  # and with the rights, it is put back
    assert sorted(p.name for p in tmp_path.iterdir()) == ['m']


@pytest.mark.parametrize('make, message', [
    (lambda p: p.write_text('my notes'), 'is a file, not a model folder'),
    (lambda p: (p.mkdir(), (p / 'thesis.tex').write_text('x')),
     "not a gluonrec model folder (it holds 1 entries, such as 'thesis.tex')"),
    (lambda p: (p.mkdir(), (p / 'config.json').write_text('{"name": "other"}')),
     'not a gluonrec model folder'),
])
def test_save_refuses_to_replace_what_is_not_a_model(tmp_path, parts, make, message):
    net, train, test, scaler, _ = parts()
    target = tmp_path / 'out'
    make(target)
    before = sorted(str(p) for p in tmp_path.rglob('*'))
    with pytest.raises(ValueError, match=re.escape(message)):
        save_model(target, net, train, scaler)
    assert sorted(str(p) for p in tmp_path.rglob('*')) == before  # left untouched
    link = tmp_path / 'link'
    link.symlink_to(tmp_path / 'elsewhere')
    with pytest.raises(ValueError, match='symbolic link'):
        save_model(link, net, train, scaler)
    (tmp_path / 'empty').mkdir()
    save_model(tmp_path / 'empty', net, train, scaler)  # an empty folder is fine
    assert (tmp_path / 'empty' / 'config.json').exists()


def test_saved_files_follow_the_umask(tmp_path, parts):
    """They used to be 0700 (folder) and 0600 (JSON) beside 0644 parameters."""
    net, train, test, scaler, _ = parts()
    old = os.umask(0o022)
    try:
        save_model(tmp_path / 'm', net, train, scaler, test=test)
    finally:
        os.umask(old)
    assert (tmp_path / 'm').stat().st_mode & 0o777 == 0o755
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / 'm').iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_no_pickle_in_saved_files(tmp_path, parts):
    net, train, test, scaler, _ = parts()
    folder = save_model(tmp_path / 'm', net, train, scaler, test=test)
    for name in ('train.npz', 'test.npz'):
        with np.load(os.path.join(folder, name), allow_pickle=False) as data:
            assert data['user'].dtype == np.int32


def test_export_for_serving(tmp_path, parts):
    net, train, test, scaler, _ = parts()
    rec = Recommender.from_training(net, train, scaler)
    symbol, params = rec.export(str(tmp_path / 'served'))
    block = mx.gluon.SymbolBlock.imports(symbol, ['data0', 'data1'], params)
    u, i = mx.nd.array([0, 1], dtype='int32'), mx.nd.array([2, 3], dtype='int32')
    np.testing.assert_allclose(block(u, i).asnumpy(), net(u, i).asnumpy(), rtol=1e-6)


def test_concurrent_add_users_keep_every_user(tmp_path, parts):
    """Three processes adding a user each at once used to leave only the last one: each
    read the folder, then wrote it back with its own user only. Here all three have
    read it before any writes (a barrier), the widest form of that race."""
    import subprocess
    import sys
    import time
    net, train, test, scaler, _ = parts()
    folder = tmp_path / 'm'
    save_model(folder, net, train, scaler)
    items = train.item_map.raw_ids[:2].tolist()
    code = f'''
import os, sys, time
from gluonrec import add_users, load_model
rec = load_model({str(folder)!r})
open(os.path.join({str(tmp_path)!r}, 'ready-' + sys.argv[1]), 'w').close()
deadline = time.time() + 120
while not os.path.exists(os.path.join({str(tmp_path)!r}, 'go')) and time.time() < deadline:
    time.sleep(0.01)
add_users({str(folder)!r}, {{{items[0]}: 4.0, {items[1]}: 2.0}}, users=[sys.argv[1]],
          reg=0.1, rec=rec)
print('saved', sys.argv[1])
'''
    new = [9001, 9002, 9003]
    procs = [subprocess.Popen([sys.executable, '-c', code, str(u)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for u in new]
    deadline = time.time() + 240
    while len(list(tmp_path.glob('ready-*'))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    (tmp_path / 'go').touch()
    outs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in outs]
    assert all(out.startswith('saved') for out, _ in outs)
    assert load_model(folder).user_map.contains(new).all()


def test_a_stale_loaded_model_adds_to_what_the_folder_holds_now(tmp_path, parts, caplog):
    """An interactive rate_jokes.py session that loaded the model before another save
    used to overwrite the user that save had added."""
    from gluonrec.persist import add_users
    net, train, test, scaler, _ = parts()
    folder = tmp_path / 'm'
    save_model(folder, net, train, scaler)
    item = train.item_map.raw_ids[0].item()
    session = load_model(folder)  # loaded, then the user takes their time
    _, first = add_users(folder, {item: 4.0}, users=[9001], reg=0.1)
    with caplog.at_level('WARNING', logger='gluonrec.persist'):
        view, second = add_users(folder, {item: 1.0}, users=[9002], rec=session, reg=0.1)
    assert 'changed since it was loaded' in caplog.text
    assert load_model(folder).user_map.contains([9001, 9002]).all()
    assert view.user_map.contains([9001, 9002]).all()
    with pytest.raises(ValueError, match='already known'):  # the same id, added meanwhile
        add_users(folder, {item: 1.0}, users=[9001], rec=session, reg=0.1)
    caplog.clear()
    with caplog.at_level('WARNING', logger='gluonrec.persist'):
        add_users(folder, {item: 2.0}, users=[9003], rec=view, reg=0.1)  # current: used as it is
    assert 'changed since' not in caplog.text
    assert load_model(folder).user_map.contains([9001, 9002, 9003]).all()
