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
    save_model(folder, net, train, scaler)
    (folder / 'stale.txt').write_text('x')
    save_model(folder, net, train, scaler)
    assert not (folder / 'stale.txt').exists()
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
