"""The scikit-learn estimator and splitters: the estimator contract, search and
cross-validation, persistence, and scikit-learn's own estimator checks."""
import os
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.utils.estimator_checks import parametrize_with_checks

from gluonrec.data import make_synthetic
from gluonrec.sklearn import LeaveKOutPerUser, RatingRegressor, UserKFold, rmse_score

FAST = dict(num_factors=4, epochs=3, batch_size=128, optimizer='adam', lr=0.02,
            engine='generic')


@pytest.fixture(scope='module')
def frame():
    r = make_synthetic(150, 40, 3000, rank=2, scale=(1, 5), seed=2)
    return r.to_dataframe()


def _xy(frame):
    return frame[['user', 'item']], frame['rating']


def test_get_set_params_and_clone():
    est = RatingRegressor('mf', reg=0.05, **FAST)
    params = est.get_params()
    assert params['model'] == 'mf' and params['reg'] == 0.05 and params['lr'] is not None
    assert params['family'] is None and params['patience'] is None  # presets: at fit time
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    assert est.set_params(reg=0.1, num_factors=8) is est
    assert est.get_params()['reg'] == 0.1 and est.num_factors == 8
    with pytest.raises(ValueError, match='Invalid parameter'):
        est.set_params(learning_rate=1)


def test_fit_fills_presets_without_touching_params(frame):
    est = RatingRegressor('biased_mf', epochs=2, engine='generic')
    before = est.get_params()
    est.fit(*_xy(frame))
    assert est.get_params() == before
    assert est.settings_['num_factors'] is not None and est.settings_['reg'] is not None
    assert est.n_features_in_ == 2 and list(est.feature_names_in_) == ['user', 'item']
    assert est.scale_ == (1.0, 5.0) and len(est.history_) == 2
    unfitted = clone(est)
    assert not hasattr(unfitted, 'recommender_')


def test_fit_refits_on_every_pair_by_default(frame):
    """The recipe of train_model: epochs chosen on a 20% share, then a fresh run on all
    the pairs; refit=False keeps the selection run, trained on the other 80%."""
    X, y = _xy(frame)
    settings = dict(FAST, epochs=12, patience=2)
    refit = RatingRegressor('biased_mf', **settings).fit(X, y)
    kept = RatingRegressor('biased_mf', refit=False, **settings).fit(X, y)
    chosen = kept.trained_.history.params_epoch
    assert refit.settings_['refit'] and refit.settings_['chosen_epoch'] == chosen
    assert refit.settings_['refit_epochs'] == len(refit.history_) == round(1.25 * chosen)
    assert len(refit.trained_.train) == len(y)
    assert not kept.settings_['refit'] and len(kept.trained_.train) == round(0.8 * len(y))
    assert not np.allclose(refit.predict(X), kept.predict(X))
    whole = RatingRegressor('biased_mf', validation_fraction=0.0, **settings).fit(X, y)
    assert not whole.settings_['refit'] and len(whole.history_) == 12  # no stopping


def test_same_random_state_same_predictions(frame):
    X, y = _xy(frame)
    a = RatingRegressor('biased_mf', random_state=3, **FAST).fit(X, y).predict(X)
    b = RatingRegressor('biased_mf', random_state=3, **FAST).fit(X, y).predict(X)
    c = RatingRegressor('biased_mf', random_state=4, **FAST).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_predict_scale_fallback_and_arrays(frame):
    X, y = _xy(frame)
    est = RatingRegressor('biased_mf', **FAST).fit(X.to_numpy(), y.to_numpy())
    assert not hasattr(est, 'feature_names_in_')
    pred = est.predict(X.to_numpy())
    assert pred.shape == (len(X),) and (pred >= 1).all() and (pred <= 5).all()
    unknown = est.predict(np.array([[99999, 1], [1, 99999]]))
    huge = est.predict(np.array([[2 ** 64 - 1, 1]], dtype=np.uint64))  # was OverflowError
    assert np.isfinite(huge).all()
    mu, bu, bi = est.recommender_.net.biases()
    assert np.isfinite(unknown).all()
    strict = clone(est).set_params(unknown='error').fit(X, y)
    with pytest.raises(KeyError, match='unknown user 99999'):
        strict.predict(np.array([[99999, 1]]))
    # order and subsets do not change a pair's prediction
    order = np.random.RandomState(0).permutation(len(X))
    np.testing.assert_allclose(est.predict(X.to_numpy()[order]), pred[order])
    np.testing.assert_allclose(est.predict(X.to_numpy()[:7]), pred[:7])
    assert est.score(X, y) > 0  # R^2: better than the mean on training pairs
    assert rmse_score(est, X, y) == pytest.approx(-np.sqrt(np.mean((pred - y) ** 2)))


@pytest.mark.parametrize('X, y, message', [
    (np.zeros((5, 3)), np.ones(5), r'shape \(n, 2\)'),
    (np.zeros((5, 2)), np.ones(4), 'X has 5 pairs but y has 4'),
    (np.array([[1, 2], [2, 3]]), np.array([1.0, np.nan]), 'finite'),
    (np.array([[1.5, 2], [2, 3]]), np.array([1.0, 2.0]), 'non-integral'),
    (np.array([[1, 2], [2, 3]]), np.array([3.0, 3.0]), 'all ratings are equal'),
    (np.array([[1, 2], [2, 3]]), None, 'requires y to be passed'),
])
def test_bad_input(X, y, message):
    with pytest.raises(ValueError, match=message):
        RatingRegressor(**FAST).fit(X, y)


def test_bad_params_fail_at_fit(frame):
    with pytest.raises(ValueError, match='choose from'):
        RatingRegressor('svd').fit(*_xy(frame))
    with pytest.raises(ValueError, match='validation_fraction'):
        RatingRegressor(validation_fraction=1.5).fit(*_xy(frame))
    with pytest.raises(ValueError, match='random_state must be an int'):
        RatingRegressor(random_state=None).fit(*_xy(frame))


def test_grid_search_picks_the_planted_best(frame):
    """lr=1e-6 learns nothing and reg=20 squashes every factor: the search must pick
    the one sensible corner."""
    X, y = _xy(frame)
    grid = {'lr': [1e-6, 0.02], 'reg': [0.001, 20.0]}
    search = GridSearchCV(RatingRegressor('biased_mf', num_factors=4, epochs=8,
                                          batch_size=128, optimizer='adam',
                                          engine='generic'),
                          grid, cv=UserKFold(3, random_state=0),
                          scoring='neg_root_mean_squared_error')
    search.fit(X, y)
    assert search.best_params_ == {'lr': 0.02, 'reg': 0.001}
    ranked = search.cv_results_['rank_test_score']
    assert sorted(ranked) == [1, 2, 3, 4]
    assert hasattr(search.best_estimator_, 'recommender_')
    scores = cross_validate(search.best_estimator_, X, y, cv=LeaveKOutPerUser(2, 2, 0),
                            scoring={'rmse': rmse_score, 'r2': 'r2'})
    assert scores['test_rmse'].shape == (2,) and (scores['test_rmse'] < 0).all()
    assert (-scores['test_rmse'] < frame['rating'].std()).all()


def test_user_kfold_spreads_every_user_and_keeps_single_ratings():
    users = np.array([1] * 7 + [2] * 1 + [3] * 2 + [4] * 4)
    X = np.column_stack([users, np.arange(len(users))])
    cv = UserKFold(3, random_state=0)
    tests = [test for _, test in cv.split(X)]
    assert cv.get_n_splits() == 3
    seen = np.concatenate(tests)
    assert sorted(seen) == sorted(set(seen))  # no pair validated twice
    assert set(seen) == set(np.flatnonzero(users != 2))  # all but the lone rating
    for test in tests:
        for user in (1, 4):
            share = np.sum(users[test] == user) / np.sum(users == user)
            assert 0.2 <= share <= 0.5  # about a third of each user's ratings
        train = np.setdiff1d(np.arange(len(users)), test)
        assert set(users[train]) == {1, 2, 3, 4}  # every user keeps training ratings
    again = [test for _, test in UserKFold(3, random_state=0).split(X)]
    assert all(np.array_equal(a, b) for a, b in zip(tests, again))


def test_leave_k_out_per_user():
    users = np.array([5] * 6 + [6] * 2 + [7] * 1)
    X = pd.DataFrame({'user': users, 'item': np.arange(len(users))})
    for train, test in LeaveKOutPerUser(k=2, n_splits=4, random_state=1).split(X):
        assert np.sum(users[test] == 5) == 2 and not np.isin(users[test], [6, 7]).any()
        assert len(train) + len(test) == len(users)
    with pytest.raises(ValueError, match='k must be'):
        LeaveKOutPerUser(k=0)
    with pytest.raises(ValueError, match='n_splits'):
        UserKFold(1)


def test_plain_kfold_can_validate_a_lone_rating():
    """Why the splitters exist: KFold ignores users and validates single ratings."""
    users = np.array([1] * 7 + [2] + [3] * 2)
    X = np.column_stack([users, np.arange(len(users))])
    lone = [test for _, test in KFold(3, shuffle=True, random_state=0).split(X)
            if 7 in test]
    assert lone  # the lone rating of user 2 is validated in some fold


def test_save_and_load_without_pickle(frame, tmp_path):
    X, y = _xy(frame)
    est = RatingRegressor('biased_mf', reg=0.02, **FAST).fit(X, y)
    est.save(tmp_path / 'model')
    files = sorted(os.listdir(tmp_path / 'model'))
    assert not [f for f in files if f.endswith(('.pkl', '.pickle', '.joblib'))]
    back = RatingRegressor.load(tmp_path / 'model')
    np.testing.assert_allclose(back.predict(X), est.predict(X), rtol=1e-6)
    assert back.get_params() == est.get_params()
    assert back.settings_ == est.settings_


def test_in_memory_pickle_round_trip(frame):
    X, y = _xy(frame)
    est = RatingRegressor('mf', **FAST).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(back.predict(X), est.predict(X), rtol=1e-6)
    unfitted = pickle.loads(pickle.dumps(RatingRegressor(reg=0.3)))
    assert unfitted.reg == 0.3 and not hasattr(unfitted, 'recommender_')


def test_grid_search_in_parallel_processes(frame):
    X, y = _xy(frame)
    search = GridSearchCV(RatingRegressor('biased_mf', **dict(FAST, epochs=8)),
                          {'lr': [1e-6, 0.02]}, cv=UserKFold(2, random_state=0), n_jobs=2,
                          scoring='neg_root_mean_squared_error')
    search.fit(X, y)
    assert search.best_params_ == {'lr': 0.02}


# scikit-learn's own checks. Those listed here generate X with other than two columns
# (or features that are not ids); a RatingRegressor's X is (user, item) pairs, so they
# cannot apply. What they check is tested above on pairs: pickling, sample order and
# subset invariance, params untouched by fit, n_features_in_, NaN in y.
_NOT_PAIRS = 'generates X with other than 2 columns of ids; X here is (user, item) pairs'
NOT_APPLICABLE = {name: _NOT_PAIRS for name in (
    'check_fit_score_takes_y', 'check_dont_overwrite_parameters',
    'check_n_features_in_after_fitting', 'check_estimators_dtypes', 'check_dtype_object',
    'check_pipeline_consistency', 'check_estimators_nan_inf', 'check_estimators_pickle',
    'check_f_contiguous_array_estimator', 'check_regressors_train',
    'check_regressor_data_not_an_array', 'check_regressors_no_decision_function',
    'check_supervised_y_2d', 'check_regressors_int', 'check_methods_sample_order_invariance',
    'check_methods_subset_invariance', 'check_dict_unchanged', 'check_fit2d_predict1d')}
NOT_APPLICABLE['check_positive_only_tag_during_fit'] = (
    'feeds negative floats as X; ids must be integers or strings')


@parametrize_with_checks([RatingRegressor(**FAST)],
                         expected_failed_checks=lambda est: NOT_APPLICABLE)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
