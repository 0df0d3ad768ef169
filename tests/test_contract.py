"""A researcher's own model through everything a built-in goes through (issue: "Your own
model, first class"): tests/custom_models.py's MoodGMF, registered and nothing else."""
import ast
import json
import logging
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import gluonrec as gr
from conftest import REPO
from custom_models import NAME, MoodGMF
from gluonrec._compat import mx
from gluonrec.data import MinMaxScaler, make_synthetic, random_split

TESTS = os.path.join(REPO, 'tests')


@pytest.fixture(scope='module')
def ratings():
    return make_synthetic(60, 25, 900, rank=2, seed=3)


@pytest.fixture(scope='module')
def result(ratings):
    return gr.train_model(ratings, model=NAME, ctx='cpu', seed=0)


def test_a_model_without_a_preset_trains_with_its_declared_defaults(ratings, caplog):
    """It used to raise "no movielens preset for model 'my_model'" although every
    setting was given."""
    given = gr.train_model(ratings, model=NAME, num_factors=4, epochs=2, batch_size=128,
                           optimizer='adam', lr=0.003, reg=0.001, patience=2, ctx='cpu')
    assert given.settings['lr'] == 0.003 and len(given.history) == 2
    with caplog.at_level(logging.INFO, logger='gluonrec.presets'):
        run = gr.train_model(ratings, model=NAME, ctx='cpu', epochs=2)
    line = [r.getMessage() for r in caplog.records if 'has no' in r.getMessage()]
    assert len(line) == 1 and f'{NAME} has no jester preset' in line[0]
    assert "optimizer='adam'" in line[0] and 'lr=0.02' in line[0]  # training_defaults
    assert 'num_factors=16' in line[0]  # and the package's for what the model left out
    assert 'epochs=' not in line[0]  # given by the caller
    assert run.settings['lr'] == 0.02 and run.settings['batch_size'] == 256
    assert run.settings['engine'] == 'generic'  # the fused engine takes built-ins only


def test_config_is_captured_and_tables_are_found():
    net = MoodGMF(num_users=9, num_items=5, num_factors=3, mood=4)
    assert net.config == {'num_users': 9, 'num_items': 5, 'num_factors': 3, 'mood': 4}
    tables = {block.name: kind for block, kind in net.embedding_tables()}
    assert sorted(tables.values()) == ['item', 'item', 'user', 'user', 'user']
    assert net.mood in net.user_tables() and net.user_bias in net.user_tables()
    assert gr.get_model(NAME, **json.loads(json.dumps(net.config))).config == net.config


def test_the_l2_penalty_covers_the_extra_per_user_table():
    """The penalty used to leave a table out unless embedding_tables was overridden."""
    net = MoodGMF(num_users=9, num_items=5, num_factors=3)
    net.initialize()
    user, item = mx.nd.array([1, 2], dtype='int32'), mx.nd.array([0, 4], dtype='int32')
    mood = net.mood.weight.data().asnumpy()
    before = net.penalty(mx.nd, user, item).asnumpy()
    net.mood.weight.set_data(mx.nd.array(mood * 3))
    after = net.penalty(mx.nd, user, item).asnumpy()
    np.testing.assert_allclose(after - before, 8 * (mood[[1, 2]] ** 2).sum(axis=1),
                               rtol=1e-5)


def test_ambiguous_tables_ask_for_the_helper():
    class Square(MoodGMF):
        pass
    net = Square(num_users=6, num_items=6)
    with pytest.raises(ValueError, match=r"has 6 rows, as many as there are users and "
                                         r"items; make it with self.embedding\('user'"):
        net.user_tables()


def test_a_constructor_argument_json_cannot_hold_is_named_at_save(ratings, tmp_path,
                                                                   result):
    class Noted(MoodGMF):
        def __init__(self, num_users, num_items, note=None, **kwargs):
            super().__init__(num_users, num_items, **kwargs)
    bad = Noted(result.train.num_users, result.train.num_items, note={1, 2})
    assert bad.config == {'num_users': result.train.num_users,  # the outermost call's
                          'num_items': result.train.num_items, 'note': {1, 2}}
    with pytest.raises(ValueError, match=r"Noted: constructor argument note=\{1, 2\} cannot "
                                         'be saved'):
        gr.save_model(tmp_path / 'm', bad, result.train, result.scaler)
    assert not (tmp_path / 'm').exists()


def _load_in_a_fresh_process(folder, imports):
    code = (f'{imports}\nimport gluonrec\nrec = gluonrec.load_model({str(folder)!r})\n'
            'print(float(rec.predict(rec.user_map.raw_ids[0], rec.item_map.raw_ids[0])))')
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=TESTS), cwd=REPO, timeout=300)


def test_save_and_load_in_a_process_with_and_without_the_defining_module(result, tmp_path):
    """load_model used to fail with "__init__() missing 2 required positional arguments"
    (kwargs {}), and in a fresh process with "unknown model" and no hint."""
    folder = result.save(tmp_path / 'm')
    config = json.loads((tmp_path / 'm' / 'config.json').read_text())
    assert config['module'] == 'custom_models' and config['kwargs']['mood'] == 2
    rec = result.recommender()
    want = float(rec.predict(rec.user_map.raw_ids[0], rec.item_map.raw_ids[0]))
    done = _load_in_a_fresh_process(folder, 'import custom_models')
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(want, rel=1e-6)
    done = _load_in_a_fresh_process(folder, '')
    assert done.returncode == 1
    assert (f"model '{NAME}' is not registered in this process; import custom_models "
            'first (it registers the model), then load') in done.stderr


def test_fold_in_recommend_and_similar_items(result, tmp_path):
    rec = result.recommender()
    items = rec.item_map.raw_ids[:5].tolist()
    view = rec.fold_in({item: 5.0 for item in items}, users=[999])
    assert view.user_map.raw_ids[-1] == 999 and view.net.mood.weight.shape[0] == \
        rec.net.num_users + 1
    assert view.predict(999, items[0]) > view.predict(999, rec.item_map.raw_ids[-1]) - 5
    picks = gr.recommend(view, 999, n=3)
    assert len(picks) == 3 and not set(items) & {item for item, _ in picks}
    assert len(gr.similar_items(rec, items[0], k=3)) == 3
    folder = result.save(tmp_path / 'm')
    _, added = gr.add_users(folder, {items[0]: 1.0}, users=[1001])
    assert gr.load_model(folder).user_map.contains(added).all()


def test_grid_search_over_a_researchers_model(ratings):
    from sklearn.model_selection import GridSearchCV
    from gluonrec.sklearn import RatingRegressor, UserKFold
    frame = ratings.to_dataframe()
    X, y = frame[['user', 'item']].to_numpy(), frame['rating'].to_numpy()
    search = GridSearchCV(RatingRegressor(NAME, epochs=2, ctx='cpu'),
                          {'lr': [0.001, 0.05]}, cv=UserKFold(2),
                          scoring='neg_root_mean_squared_error').fit(X, y)
    assert search.best_params_['lr'] in (0.001, 0.05)
    assert search.best_estimator_.recommender_.model_name == NAME


@gr.data.register_scaler('test_centering')
class CenteringScaler:
    """Ratings minus their training mean, divided by a spread (a scaler of the contract
    in gluonrec.data.scaling that is not min-max: no low or high)."""

    def __init__(self, mean=0.0, spread=1.0):
        self.mean, self.spread = float(mean), float(spread)

    def transform(self, ratings):
        return (np.asarray(ratings, dtype=np.float64) - self.mean) / self.spread

    def inverse_transform(self, scaled):
        return np.asarray(scaled, dtype=np.float64) * self.spread + self.mean

    def to_dict(self):
        return {'mean': self.mean, 'spread': self.spread}

    @classmethod
    def from_dict(cls, state):
        return cls(**state)


def test_a_custom_scaler_trains_saves_and_loads(ratings, tmp_path):
    """It used to fail after epoch 1: "'CenteringScaler' object has no attribute 'low'",
    and load_model always rebuilt a MinMaxScaler."""
    scaler = CenteringScaler(float(np.mean(ratings.rating)), 2.0)
    run = gr.train_model(ratings, model='biased_mf', scaler=scaler, epochs=3, ctx='cpu',
                         engine='generic')
    assert run.settings['refit'] and len(run.selection) >= 2  # validated with the scaler
    assert np.isfinite(run.selection[-1]['val_rmse'])
    rec = gr.load_model(run.save(tmp_path / 'm'))
    assert isinstance(rec.scaler, CenteringScaler) and rec.scaler.spread == 2.0

    class Half:
        def transform(self, ratings):
            return ratings
    with pytest.raises(ValueError, match='scaler Half lacks inverse_transform, to_dict, '
                                         'from_dict'):
        gr.train_model(ratings, model='mf', scaler=Half(), epochs=1, ctx='cpu')


def test_fit_reads_batches_by_name_and_one_step_down_keeps_the_reg(ratings):
    """NDArrayIter sorts its data names (item, user): the ids arrived swapped and the
    generic engine died in C++. And fit + from_training lost the training reg."""
    train, val = random_split(ratings, 0.2, seed=0)
    net = gr.get_model(NAME, num_users=train.num_users, num_items=train.num_items)
    scaler = MinMaxScaler.from_scale(train.scale, net.feature_range)
    it = mx.io.NDArrayIter(data={'user': train.user, 'item': train.item},
                           label=scaler.transform(train.rating), batch_size=64, shuffle=True)
    history = gr.fit(net, it, val, epochs=3, optimizer='adam', learning_rate=0.02,
                     reg=0.01, scaler=scaler, ctx='cpu', log_interval=None)
    assert history[-1]['val_rmse'] < history[0]['val_rmse']
    rec = gr.Recommender.from_training(net, train, scaler, test=val, history=history)
    assert rec.training_reg() == 0.01
    assert len(rec.fold_in({train.item_map.raw_ids[0]: 3.0}, reg='auto').user_map) == \
        train.num_users + 1
    bad = mx.io.NDArrayIter(data={'u': train.user, 'i': train.item}, batch_size=64)
    with pytest.raises(ValueError, match=r"train_iter provides data named \['i', 'u'\]; "
                                         r"gluonrec reads a batch by the names"):
        gr.fit(net, bad, epochs=1, ctx='cpu')


def test_one_word_for_unknown_users_and_blend_serves_them(result, trained):
    other = trained('mf').recommender()
    rec = result.recommender()
    assert gr.recommender.UNKNOWN == ('error', 'baseline', 'popular')
    members = [trained('biased_mf').recommender(), other]
    blend = gr.Blend(members)
    picks = gr.recommend(blend, 'stranger', n=3, unknown='baseline')  # AttributeError before
    want = np.argsort(-(0.5 * members[0].item_baseline() + 0.5 * other.item_baseline()),
                      kind='stable')[:3]
    assert [item for item, _ in picks] == blend.item_map.to_raw(want).tolist()
    assert gr.recommend(rec, 'stranger', n=2, unknown='popular') == \
        gr.recommend(rec, 'stranger', n=2, fallback='popular')  # the older name
    assert np.isfinite(rec.predict('stranger', rec.item_map.raw_ids[0], unknown='baseline'))
    with pytest.raises(ValueError, match=r"unknown must be one of \('error', 'baseline'\)"):
        rec.predict(1, 1, unknown='popular')


BUILT_IN = {'MatrixFactorization', 'BiasedMF', 'NonNegativeMF', 'MLPRecommender', 'SVDpp',
            'AutoRec'}


def test_no_isinstance_on_a_built_in_model_outside_the_models():
    """What the package knows about a model lives in that model's file."""
    package = pathlib.Path(gr.__file__).parent
    found = []
    for path in package.rglob('*.py'):
        if path.parent.name == 'models':
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, 'id', None) in (
                    'isinstance', 'issubclass') and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(node.args[1])
                          if isinstance(n, ast.Attribute)}
                if names & BUILT_IN:
                    found.append(f'{path.relative_to(package)}:{node.lineno}')
    assert not found, found


@pytest.mark.slow
def test_the_write_your_own_model_example_runs():
    """examples/custom_model.py, the README's guide in code: every step, in a process of
    its own (it registers its model under __main__, and reloads in a fresh process)."""
    done = subprocess.run([sys.executable, os.path.join(REPO, 'examples', 'custom_model.py')],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'GridSearchCV chose' in done.stdout
    assert 'reloaded in a fresh process: user_scaled_mf 300 users, 60 items' in done.stdout
    assert 'new user 301 gets' in done.stdout and 'items like' in done.stdout
