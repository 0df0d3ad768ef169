"""The training recipe, preset resolution and load_dataset."""
import os

import numpy as np
import pytest

from gluonrec import evaluate, load_dataset, load_model, train_model
from gluonrec.data import DataNotFound, make_synthetic
from gluonrec.data.catalog import family_of
from gluonrec.models import get_model, model_class, model_names
from gluonrec.presets import PRESETS, resolve
from gluonrec.train.engine import make_engine


def test_resolve_fills_only_unset_values():
    p = PRESETS['jester']['mf']
    s = resolve('jester', 'mf', lr=0.5, reg=None, patience=0)
    assert s['lr'] == 0.5 and s['reg'] == p['reg'] and s['model'] == 'mf'
    assert s['epochs'] == p['epochs']  # fixed-count training: the preset's count
    capped = resolve('jester', 'mf')
    assert capped['epochs'] == 2 * p['epochs'] and capped['patience'] == p['patience']
    assert resolve('jester', 'mf', epochs=5)['epochs'] == 5
    with pytest.raises(ValueError, match="not a preset setting: 'learning_rate'"):
        resolve('jester', 'mf', learning_rate=0.1)
    with pytest.raises(ValueError, match='no preset'):
        resolve('books', 'mf')


def test_recipe_records_settings_and_splits(small_ratings):
    result = train_model(small_ratings, model='mf', num_factors=3, epochs=2, batch_size=100,
                         lr=0.05, patience=0, ctx='cpu', seed=7, val_fraction=0.25)
    s = result.settings
    assert (s['model'], s['num_factors'], s['epochs'], s['batch_size'], s['lr']) == \
        ('mf', 3, 2, 100, 0.05)
    assert s['optimizer'] == PRESETS['jester']['mf']['optimizer']  # unset: the preset's
    assert (s['seed'], s['val_fraction']) == (7, 0.25)
    assert len(result.val) == round(0.25 * len(small_ratings))
    assert len(result.train) + len(result.val) == len(small_ratings)
    assert result.train_iter.batch_size == 100 and len(result.history) == 2
    assert result.net.num_factors == 3 and result.net.sparse_grad


def test_recipe_with_given_validation_and_no_validation(small_ratings):
    from gluonrec.data import random_split
    train, val = random_split(small_ratings, 0.2, seed=1)
    result = train_model(train, val, model='mf', epochs=1, patience=0, ctx='cpu')
    assert result.val is val and len(result.train) == len(train)
    assert result.settings['val_fraction'] is None
    assert 'val_rmse' in result.history[0]
    bare = train_model(small_ratings, model='mf', epochs=1, val_fraction=0, patience=0,
                       ctx='cpu')
    assert bare.val is None and 'val_rmse' not in bare.history[0]
    assert 'baseline_rmse' not in bare.summary()


def test_recipe_same_seed_same_model_and_summary(small_ratings):
    runs = [train_model(small_ratings, model='biased_mf', epochs=2, patience=0, ctx='cpu',
                        seed=3) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].net.item_factors(), runs[1].net.item_factors())
    summary = runs[0].summary()
    best = min(runs[0].history, key=lambda r: r['val_rmse'])
    assert summary['best_epoch'] == best['epoch'] and summary['epoch'] == 2
    assert summary['val_rmse'] == pytest.approx(runs[0].history[-1]['val_rmse'], rel=1e-6)
    val, train = runs[0].val, runs[0].train
    expected = np.sqrt(np.mean((val.rating - train.rating.mean()) ** 2))
    assert summary['baseline_rmse'] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('patience, epoch', [(0, 10), (2, 9)])
def test_summary_describes_the_parameters_returned_and_saved(small_ratings, patience, epoch):
    """Without early stopping the last epoch's parameters are kept, and the summary says
    so (it used to report the best epoch's RMSE for them); with it, the best ones."""
    result = train_model(small_ratings, model='mf', epochs=10, patience=patience, ctx='cpu',
                         optimizer='adam', lr=0.05, reg=0.0, num_factors=16,
                         engine='generic', refit=False)  # the selection run's own summary
    rmses = [r['val_rmse'] for r in result.history]
    assert rmses.index(min(rmses)) == 8 and len(rmses) == 10  # best 9, last 10
    summary = result.summary()
    assert summary['epoch'] == epoch and summary['best_epoch'] == 9
    assert summary['val_rmse'] == pytest.approx(rmses[epoch - 1], rel=1e-6)
    assert summary['val_rmse'] == pytest.approx(
        evaluate(result.net, result.val, result.scaler)['rmse'], rel=1e-9)


def test_trained_model_saves_and_wraps(trained, tmp_path):
    result = trained('biased_mf')
    rec = result.recommender()
    assert rec.test is result.val and rec.history == list(result.history)
    result.save(tmp_path / 'm', extra={'data': 'small'})
    loaded = load_model(tmp_path / 'm')
    assert loaded.config['extra']['settings']['model'] == 'biased_mf'
    assert loaded.config['extra']['data'] == 'small'
    users = result.train.user_map.to_raw(result.val.user[:20])
    items = result.train.item_map.to_raw(result.val.item[:20])
    np.testing.assert_allclose(loaded.predict(users, items), rec.predict(users, items),
                               rtol=1e-6)


def test_models_declare_their_constraint():
    """constrained is True exactly where a class overrides constrain()."""
    from gluonrec.models import RecModel
    for name in model_names():
        cls = model_class(name)
        assert cls.constrained == (cls.constrain is not RecModel.constrain), name
    assert model_class('nnmf').constrained and not model_class('biased_mf').constrained


def test_unknown_engine_names_the_choices(small_ratings):
    with pytest.raises(ValueError, match=r"engine must be one of \('auto', 'generic', "
                                         r"'fused', 'solver'\), got 'fast'"):
        make_engine('fast')
    with pytest.raises(ValueError, match='engine must be one of'):
        train_model(small_ratings, model='mf', epochs=1, ctx='cpu', engine='fast')


def test_load_dataset_by_name_and_path(tmp_path, jester_files):
    (tmp_path / 'jester').mkdir()
    (tmp_path / 'jester' / 'jester_ratings.dat').write_text(jester_files['dat'].read_text())
    (tmp_path / 'jester' / 'jester_items.dat').write_text(jester_files['jokes'].read_text())
    r = load_dataset('jester', root=tmp_path)
    assert (len(r), r.num_users, r.num_items) == (7, 3, 4) and family_of(r) == 'jester'
    assert r.item_names[7] == 'Why did the gradient stop descending?'
    assert len(load_dataset(str(jester_files['csv']))) == 7  # by path, Jester by its name
    folder = tmp_path / 'ml'
    folder.mkdir()
    (folder / 'u.data').write_text('1\t10\t4\t881250949\n2\t10\t5\t891717742\n')
    ml = load_dataset(str(folder))
    assert (len(ml), family_of(ml)) == (2, 'movielens')
    synthetic = load_dataset('synthetic', seed=1)
    assert len(synthetic) == 60000 and synthetic.item_names[3] == '(synthetic joke 3)'


def test_load_dataset_missing_says_where(tmp_path):
    """Offline, the error says exactly what to do: the files, the folder, GLUONREC_DATA,
    and the download argument."""
    jester = os.path.join(str(tmp_path), 'jester')
    with pytest.raises(DataNotFound) as caught:
        load_dataset('jester', root=tmp_path, download=False)
    message = str(caught.value)
    for part in ('put jester_ratings.dat and jester_items.dat into ' + jester,
                 'GLUONREC_DATA to the absolute path', 'download=True',
                 'eigentaste.berkeley.edu'):
        assert part in message, (part, message)
    with pytest.raises(FileNotFoundError, match='u.data and u.item into'):
        load_dataset('ml-100k', root=tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match='nothing.csv: no such file'):
        load_dataset(str(tmp_path / 'nothing.csv'))
    assert not os.listdir(tmp_path)  # nothing created on the way


def test_a_relative_gluonrec_data_is_resolved_logged_and_never_created(tmp_path, monkeypatch,
                                                                      caplog):
    from gluonrec.data import data_home, fetch
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('GLUONREC_DATA', 'elsewhere/data')
    with caplog.at_level('INFO', logger='gluonrec.data.sets.base'):
        assert data_home() == str(tmp_path / 'elsewhere' / 'data')
    assert 'GLUONREC_DATA=elsewhere/data is relative: data from ' + str(tmp_path) in caplog.text
    with pytest.raises(DataNotFound, match='names .*elsewhere/data, which does not exist'):
        fetch('ml-100k', url='http://127.0.0.1:9/ml-100k.zip')
    assert not os.listdir(tmp_path)


def test_family_of_reads_the_declarations():
    from gluonrec.data import Ratings
    def named(name, scale):
        return Ratings.from_raw(np.array([1, 2]), np.array([1, 1]), np.array(scale), scale,
                                name=name)
    assert family_of(named('ml-1m', (1.0, 5.0))) == 'movielens'
    assert family_of(named('ml-100k (ratings >= 4)', (0.0, 1.0))) == 'movielens'
    assert family_of(named('my jokes', (-10.0, 10.0))) == 'jester'  # by the scale
    assert family_of(named('books', (1.0, 7.0))) is None  # no guess


def test_ratings_of_no_declared_family_train_with_movielens_presets_and_a_warning(caplog):
    ratings = make_synthetic(40, 10, 300, scale=(1.0, 7.0), seed=0, name='sevens')
    with caplog.at_level('WARNING', logger='gluonrec.recipe'):
        result = train_model(ratings, epochs=1, ctx='cpu', val_fraction=0)
    assert result.settings['model'] == 'biased_mf'
    assert 'sevens: no declared data set on the scale (1.0, 7.0); training with the ' \
        'MovieLens presets' in caplog.text


def test_real_data_sets_by_name(shared_data):
    jester = load_dataset('jester', root=shared_data)
    assert (len(jester), jester.num_users, jester.num_items) == (363209, 5000, 100)
    assert len(jester.item_names) == 150
    ml = load_dataset('ml-100k', root=shared_data)
    assert (len(ml), ml.num_users, ml.num_items) == (100000, 943, 1682)


def test_preset_epochs_are_doubled_only_where_early_stopping_can_end_the_run():
    """The preset's epochs are about the best epoch of a fixed-length run; with a
    validation split they are doubled as a cap for early stopping, without one (nothing
    to stop on) they are trained as they are."""
    from gluonrec.presets import preset
    r = make_synthetic(60, 20, 800, rank=2, scale=(1, 5), seed=0)
    tuned = preset('movielens', 'mf', engine='generic')['epochs']
    common = dict(model='mf', family='movielens', engine='generic', num_factors=2,
                  batch_size=256)
    with_val = train_model(r, val_fraction=0.2, **common)
    without = train_model(r, val_fraction=0.0, **common)
    assert with_val.settings['epochs'] == 2 * tuned
    assert without.settings['epochs'] == tuned and len(without.history) == tuned


def test_autorec_trains_on_whole_rows_with_the_presets_model_arguments(small_ratings,
                                                                       monkeypatch):
    from gluonrec.data import RowIter
    from gluonrec.recipe import _train_iter
    # a preset with constructor arguments (today's AutoRec presets have none)
    monkeypatch.setitem(PRESETS['jester']['autorec'], 'model_kwargs',
                        {'dropout': 0.3, 'user_based': True})
    result = train_model(small_ratings, model='autorec', num_factors=4, epochs=1,
                         batch_size=7, patience=0, ctx='cpu', val_fraction=0.2,
                         model_kwargs={'user_based': False})
    it, net = result.train_iter, result.net
    assert isinstance(it, RowIter) and it.rows == 'item' and it.batch_size == 7
    assert len(it) == -(-it.num_rows // 7)  # batch_size counts rows
    # the preset's constructor arguments, under the caller's
    assert net.dropout == 0.3 and not net.user_based
    assert result.settings['model_kwargs'] == {'dropout': 0.3, 'user_based': False}
    assert resolve('jester', 'mf')['model_kwargs'] == {}
    u_net = get_model('autorec', **dict(net.config, user_based=True))
    assert _train_iter(u_net, result.train, result.scaler, 5, 0, 1, 0).rows == 'user'
    with pytest.raises(ValueError, match='trains on whole rows.*one process'):
        _train_iter(net, result.train, result.scaler, 5, 0, 2, 0)


# Refit after early stopping (issue: accuracy that holds on data nobody tuned on).
_REFIT = dict(model='biased_mf', num_factors=4, epochs=12, batch_size=128, optimizer='adam',
              lr=0.02, reg=0.01, patience=2, ctx='cpu', seed=1, engine='generic')


def _weights(net):
    return {k: v.data().asnumpy().copy() for k, v in net._collect_params_with_prefix().items()}


@pytest.fixture(scope='module')
def refit_data():
    return make_synthetic(90, 30, 2200, rank=2, seed=5)


def test_refit_trains_on_every_rating_for_the_chosen_epochs(refit_data):
    kept = train_model(refit_data, refit=False, **_REFIT)
    refit = train_model(refit_data, **_REFIT)  # on by default with a split of its own
    chosen = kept.history.params_epoch
    grown = round(chosen * len(refit_data) / len(kept.train))  # 1.25x: val_fraction 0.2
    assert refit.settings['refit'] and refit.settings['chosen_epoch'] == chosen < 12
    assert refit.settings['refit_epochs'] == len(refit.history) == grown > chosen
    assert len(refit.train) == len(refit_data) == len(kept.train) + len(kept.val)
    users, items, _ = refit.train_iter.arrays()
    assert len(users) == len(refit_data)  # the iterator gave every rating, val included
    assert not kept.settings['refit']
    timeless = [{k: v for k, v in r.items() if k not in ('seconds', 'ratings_per_sec')}
                for r in kept.history]
    assert [{k: v for k, v in r.items() if k not in ('seconds', 'ratings_per_sec')}
            for r in refit.selection] == timeless  # refit=False: the selection run, as before
    differ = [not np.allclose(a, _weights(kept.net)[k]) for k, a in _weights(refit.net).items()]
    assert all(differ)
    summary = refit.summary()
    assert summary['refit'] and summary['epoch'] == chosen and summary['refit_epochs'] == grown
    assert summary['val_rmse'] == kept.history.best()['val_rmse']  # the selection run's
    assert summary['baseline_rmse'] == pytest.approx(kept.summary()['baseline_rmse'])


@pytest.mark.parametrize('engine', ['generic', 'fused'])
def test_the_refit_is_a_fresh_run_on_everything_for_the_chosen_epochs(refit_data, engine):
    """What compare.py relies on to score the recipe's model after each epoch: the refit
    equals ``train_model(ratings, val, epochs=E, patience=0)``, whatever ``val`` is."""
    if engine == 'fused':
        from gluonrec.train import native
        try:
            native.load()
        except native.BuildError as exc:
            pytest.skip(f'no fused engine: {exc}')
    settings = dict(_REFIT, engine=engine,
                    optimizer='adagrad' if engine == 'fused' else _REFIT['optimizer'])
    refit = train_model(refit_data, **settings)
    chosen = refit.settings['refit_epochs']
    watched = train_model(refit_data, refit_data.subset(np.arange(100)),
                          **dict(settings, epochs=chosen, patience=0))
    assert len(watched.history) == chosen and watched.history[-1]['val_rmse'] is not None
    for key, value in _weights(refit.net).items():
        np.testing.assert_array_equal(value, _weights(watched.net)[key])


def test_scale_refit_false_refits_for_the_chosen_number_itself(refit_data):
    same = train_model(refit_data, scale_refit=False, **_REFIT)
    chosen = same.settings['chosen_epoch']
    assert same.settings['refit_epochs'] == len(same.history) == chosen
    scaled = train_model(refit_data, **_REFIT)
    assert scaled.settings['chosen_epoch'] == chosen
    differ = [not np.allclose(a, _weights(scaled.net)[k]) for k, a in _weights(same.net).items()]
    assert all(differ)  # the scaled refit ran longer


def test_refit_is_off_with_a_val_of_ones_own_and_without_early_stopping(refit_data):
    train, val = refit_data.subset(np.arange(1800)), refit_data.subset(np.arange(1800, 2200))
    assert not train_model(train, val, **_REFIT).settings['refit']
    assert not train_model(refit_data, **dict(_REFIT, patience=0)).settings['refit']
    with pytest.raises(ValueError, match='refit=True needs train_model to hold out'):
        train_model(train, val, refit=True, **_REFIT)


class _InterruptTheRefit:
    """Ctrl-C after batch ``batch`` of epoch ``epoch`` of the refit phase (known by its
    epoch records, which have no validation scores)."""

    def __init__(self, epoch, batch):
        self.at, self.refitting = (epoch, batch), False

    def __call__(self, record):
        self.refitting = self.refitting or record.get('val_rmse') is None
        return False

    def on_batch_end(self, epoch, batch):
        if self.refitting and (epoch, batch) == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize('where', ['selection', 'refit'])
def test_resume_across_both_phases_equals_an_uninterrupted_run(refit_data, tmp_path, where):
    from conftest import InterruptAt
    whole = train_model(refit_data, checkpoint_dir=str(tmp_path / 'a'), **_REFIT)
    stop = InterruptAt(1, 3) if where == 'selection' else _InterruptTheRefit(1, 3)
    cut = train_model(refit_data, checkpoint_dir=str(tmp_path / 'b'), callbacks=[stop],
                      **_REFIT)
    assert cut.history.interrupted
    if where == 'selection':
        assert not cut.settings['refit']  # not refit: a warning says so
    again = train_model(refit_data, checkpoint_dir=str(tmp_path / 'b'), resume=True,
                        **_REFIT)
    assert again.settings['refit_epochs'] == whole.settings['refit_epochs']
    for key, value in _weights(again.net).items():
        np.testing.assert_allclose(value, _weights(whole.net)[key], rtol=1e-5, atol=1e-7)
    assert sorted(os.listdir(tmp_path / 'b' / 'refit'))[-1] == 'selection.json'


def test_a_refit_model_folds_in_with_weights_chosen_before_the_refit(refit_data, tmp_path):
    """Choosing the fold-in weight on validation ratings the refit model trained on
    picked too small a weight (fold_in.py --refit: biased_mf RMSE 1.0105 -> 1.0676 for
    5 revealed ratings); the weights are chosen on the selection run instead."""
    from gluonrec.foldin import choose_reg, preferred_reg
    refit = train_model(refit_data, **_REFIT)
    kept = train_model(refit_data, refit=False, **_REFIT)
    recorded = refit.settings['fold_in_reg']
    assert set(recorded) == {'2', '5', '10', '20'}  # what 30 known users have here
    assert recorded['5'] == choose_reg(kept.recommender(), reveal=5)[0]
    rec = load_model(refit.save(tmp_path / 'm'))
    assert preferred_reg(rec) == 'auto' and rec.fold_in_reg(4) == recorded['5']
    assert rec.fold_in_reg(100) == recorded['20']
    mlp = train_model(refit_data, **dict(_REFIT, model='mlp'))  # no closed form: none
    assert mlp.settings['fold_in_reg'] == {}
    assert preferred_reg(mlp.recommender()) is None  # the training weight, not a leak
