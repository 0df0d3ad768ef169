"""Fold-in of new users: closed forms against autograd and independent solvers, the
returned view, add_users through save/load, and bad input."""
import os

import re

import numpy as np
import pytest
import scipy.optimize

from gluonrec import load_model
from gluonrec._compat import mx
from gluonrec.foldin import fold_in
from gluonrec.persist import add_users
from gluonrec.recommend import recommend
from gluonrec.similarity import similar_users

REG = 0.05


def _user_ratings(rec, inner_user):
    mine = rec.train.user == inner_user
    items = rec.item_map.to_raw(rec.train.item[mine]).tolist()
    return dict(zip(items, rec.train.rating[mine].astype(float).tolist()))


def _some_users(rec, count=5, start=0):
    return [_user_ratings(rec, u) for u in range(start, start + count)]


@pytest.mark.parametrize('model', ['mf', 'biased_mf', 'nnmf'])
def test_closed_form_equals_autograd(trained, model):
    rec = trained(model).recommender()
    ratings = _some_users(rec)
    exact = fold_in(rec, ratings, reg=REG, method='closed_form')
    generic = fold_in(rec, ratings, reg=REG, method='autograd')
    new = exact.user_map.raw_ids[-5:]
    items = rec.item_map.raw_ids
    a = exact.predict(np.repeat(new, len(items)), np.tile(items, 5))
    b = generic.predict(np.repeat(new, len(items)), np.tile(items, 5))
    assert np.abs(a - b).max() < 0.01 * (rec.scale[1] - rec.scale[0])
    np.testing.assert_allclose(exact.user_factors()[-5:], generic.user_factors()[-5:],
                               atol=5e-3)


@pytest.mark.parametrize('count', [None, 3])
def test_ridge_solution_matches_least_squares(trained, count):
    """biased_mf: (p, b_u) solve the user's ridge problem, checked by lstsq on the
    augmented system [X; sqrt(reg n) I] w = [t; 0]; with all of a user's ratings
    (more than the 5 unknowns: the normal equations) and with 3 (the dual form)."""
    rec = trained('biased_mf').recommender()
    ratings = dict(list(_user_ratings(rec, 3).items())[:count])
    assert (len(ratings) > 5) == (count is None)
    folded = fold_in(rec, ratings, reg=REG)
    items = rec.item_map.to_inner(list(ratings))
    mu, _, bi = rec.net.biases()
    x = np.hstack([rec.item_factors()[items], np.ones((len(items), 1))]).astype(np.float64)
    t = rec.scaler.transform(np.array(list(ratings.values()))) - mu - bi[items]
    aug_x = np.vstack([x, np.sqrt(REG * len(items)) * np.eye(x.shape[1])])
    aug_t = np.concatenate([t, np.zeros(x.shape[1])])
    want = np.linalg.lstsq(aug_x, aug_t, rcond=None)[0]
    _, bu, _ = folded.net.biases()
    np.testing.assert_allclose(folded.user_factors()[-1], want[:-1], atol=1e-5)
    assert bu[-1] == pytest.approx(want[-1], abs=1e-5)


@pytest.mark.parametrize('count', [None, 3])
def test_nnmf_fold_in_is_non_negative_least_squares(trained, count):
    """Against scipy's NNLS on the augmented system; with all of each user's ratings
    (more than the 4 factors) and with 3 (the low-rank products)."""
    rec = trained('nnmf').recommender()
    ratings = [dict(list(r.items())[:count]) for r in _some_users(rec, 4, start=10)]
    folded = fold_in(rec, ratings, reg=REG)
    rows = folded.user_factors()[-4:]
    assert (rows >= 0).all()
    for n, user in enumerate(ratings):
        items = rec.item_map.to_inner(list(user))
        x = rec.item_factors()[items].astype(np.float64)
        t = rec.scaler.transform(np.array(list(user.values())))
        aug_x = np.vstack([x, np.sqrt(REG * len(items)) * np.eye(x.shape[1])])
        want = scipy.optimize.nnls(aug_x, np.concatenate([t, np.zeros(x.shape[1])]))[0]
        np.testing.assert_allclose(rows[n], want, atol=1e-5)


def test_fold_in_is_batched_per_user(trained):
    """Folding users in together gives each the rows it gets alone."""
    rec = trained('biased_mf').recommender()
    ratings = _some_users(rec, 3, start=20)
    together = fold_in(rec, ratings, reg=REG).user_factors()[-3:]
    alone = np.vstack([fold_in(rec, r, reg=REG).user_factors()[-1] for r in ratings])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_folded_copy_of_a_training_user_predicts_like_it(small_ratings):
    """At convergence a training user's row is the solution of its own ridge problem,
    so folding in that user's ratings reproduces its predictions."""
    from gluonrec.recipe import train_model
    model = train_model(small_ratings, model='biased_mf', num_factors=4, epochs=200,
                        batch_size=256, optimizer='adam', lr=0.01, reg=0.02, wd=0.0,
                        patience=0, sparse_grad=False, ctx='cpu', seed=0, engine='generic')
    rec = model.recommender()
    items = rec.item_map.raw_ids
    for inner in (0, 7, 31):
        folded = rec.fold_in(_user_ratings(rec, inner))
        raw = rec.user_map.to_raw(inner)
        want = rec.predict(np.full(len(items), raw), items)
        got = folded.predict(np.full(len(items), folded.user_map.raw_ids[-1]), items)
        assert np.abs(got - want).max() < 0.05 * (rec.scale[1] - rec.scale[0])


def test_generic_path_fits_the_revealed_ratings(trained):
    """mlp has no closed form: autograd fits the new rows with the network frozen, so
    the revealed ratings are predicted better than by the average user's row."""
    rec = trained('mlp').recommender()
    ratings = _some_users(rec, 4, start=5)
    folded = fold_in(rec, ratings, reg=0.001)
    new = folded.user_map.raw_ids[-4:]
    users = np.concatenate([[u] * len(r) for u, r in zip(new, ratings)])
    items = np.concatenate([list(r) for r in ratings])
    truth = np.concatenate([list(r.values()) for r in ratings])
    fitted = folded.predict(users, items)
    baseline = rec.fold_in(ratings, reg=1e6).predict(users, items)  # rows pinned near 0
    assert np.sqrt(np.mean((fitted - truth) ** 2)) < np.sqrt(np.mean((baseline - truth) ** 2))
    # the network itself was not touched
    for (_, a), (_, b) in zip(rec.net.body.collect_params().items(),
                              folded.net.body.collect_params().items()):
        np.testing.assert_array_equal(a.data().asnumpy(), b.data().asnumpy())


def test_view_knows_the_new_user(trained):
    rec = trained('biased_mf').recommender()
    before = len(rec.user_map)
    ratings = _user_ratings(rec, 2)
    view = rec.fold_in(ratings, users=[9999], reg=REG)
    assert len(rec.user_map) == before  # the original is unchanged
    assert view.user_map.raw_ids[-1] == 9999 and len(view.user_map) == before + 1
    picks = [item for item, _ in recommend(view, 9999, n=10)]
    assert picks and not set(picks) & set(ratings)
    neighbours = similar_users(view, 9999, k=3)
    assert len(neighbours) == 3 and 9999 not in [u for u, _ in neighbours]
    assert np.isfinite(view.predict(9999, list(ratings)[0]))
    # known users predict as before
    items = rec.item_map.raw_ids
    raw = rec.user_map.raw_ids[0]
    np.testing.assert_allclose(view.predict(np.full(len(items), raw), items),
                               rec.predict(np.full(len(items), raw), items), atol=1e-6)


def test_string_user_ids_get_fresh_names(small_ratings):
    from gluonrec.data import Ratings
    from gluonrec.recipe import train_model
    frame = small_ratings.to_dataframe()
    named = Ratings.from_raw(frame['user'].map(lambda u: f'u{u}'), frame['item'],
                             frame['rating'], small_ratings.scale)
    rec = train_model(named, model='mf', num_factors=2, epochs=1, batch_size=256,
                      optimizer='adam', lr=0.01, reg=0.01, ctx='cpu', seed=0,
                      engine='generic').recommender()
    view = rec.fold_in([{1: 3.0}, {2: 4.0}])
    assert view.user_map.raw_ids[-2:].tolist() == ['new-0', 'new-1']


def test_long_form_input_names_the_users(trained):
    import pandas as pd
    rec = trained('biased_mf').recommender()
    frame = pd.DataFrame({'user': [500, 500, 501], 'item': [1, 2, 3],
                          'rating': [4.0, 2.0, 5.0]})
    view = rec.fold_in(frame, reg=REG)
    assert view.user_map.raw_ids[-2:].tolist() == [500, 501]
    same = rec.fold_in([{1: 4.0, 2: 2.0}, {3: 5.0}], users=[500, 501], reg=REG)
    np.testing.assert_allclose(view.user_factors()[-2:], same.user_factors()[-2:])


@pytest.mark.parametrize('ratings, error, words', [
    ({}, ValueError, 'empty'),
    ([{1: 3.0}, {}], ValueError, 'user #1 has no ratings'),
    ({12345: 3.0}, KeyError, 'unknown item 12345'),
    ({1: 99.0}, ValueError, 'outside the scale'),
    ({1: float('nan')}, ValueError, 'outside the scale'),
    ({1: 'good'}, ValueError, 'must be numbers'),
    ('7:3', ValueError, 'give {item: rating}'),
])
def test_bad_ratings_are_refused(trained, ratings, error, words):
    rec = trained('biased_mf').recommender()
    with pytest.raises(error, match=words):
        rec.fold_in(ratings, reg=REG)


def test_bad_users_and_options_are_refused(trained):
    rec = trained('biased_mf').recommender()
    known = rec.user_map.raw_ids[0]
    with pytest.raises(ValueError, match='already known'):
        rec.fold_in({1: 3.0}, users=[known], reg=REG)
    with pytest.raises(ValueError, match='2 ids given for 1'):
        rec.fold_in({1: 3.0}, users=[1000, 1001], reg=REG)
    with pytest.raises(ValueError, match='integer user ids'):
        rec.fold_in({1: 3.0}, users=['alice'], reg=REG)
    with pytest.raises(ValueError, match='method'):
        rec.fold_in({1: 3.0}, reg=REG, method='magic')
    with pytest.raises(ValueError, match='no closed form'):
        trained('mlp').recommender().fold_in({1: 3.0}, reg=REG, method='closed_form')
    with pytest.raises(ValueError, match='reg must be'):
        rec.fold_in({1: 3.0}, reg=-1)
    frame_dupe = ([7, 7], [1, 1], [3.0, 4.0])
    with pytest.raises(ValueError, match='rated twice'):
        rec.fold_in(frame_dupe, reg=REG)


def test_untrained_item_is_refused(trained):
    rec = trained('biased_mf').recommender()
    never = np.flatnonzero(rec.item_counts == 0)
    if not len(never):
        rec.item_counts = rec.item_counts.copy()
        rec.item_counts[0] = 0
        never = [0]
    with pytest.raises(ValueError, match='never rated in training'):
        rec.fold_in({rec.item_map.to_raw(never[0]): 3.0}, reg=REG)


def test_reg_comes_from_the_training_settings(trained):
    model = trained('biased_mf')
    rec = model.recommender()
    assert rec.training_reg() == model.settings['reg']
    bare = type(rec)(rec.net, rec.train, rec.scaler)
    with pytest.raises(ValueError, match='pass reg='):
        bare.fold_in({1: 3.0})


def test_add_users_round_trips_through_save_and_load(trained, tmp_path):
    model = trained('biased_mf')
    folder = model.save(tmp_path / 'model')
    rec = load_model(folder)
    ratings = [_user_ratings(rec, 4), {1: 5.0, 2: 1.0}]
    bigger, ids = add_users(folder, ratings, users=[700, 701])
    assert ids.tolist() == [700, 701]
    again = load_model(folder)
    assert again.user_map.raw_ids[-2:].tolist() == [700, 701]
    items = rec.item_map.raw_ids
    for user in (700, 701):
        np.testing.assert_allclose(again.predict(np.full(len(items), user), items),
                                   bigger.predict(np.full(len(items), user), items),
                                   atol=1e-6)
    assert {i for i, _ in recommend(again, 701, n=40)}.isdisjoint({1, 2})
    assert again.training_reg() == model.settings['reg']
    # a second call with a taken id changes nothing on disk
    stamp = os.stat(os.path.join(folder, 'model.params')).st_mtime_ns
    with pytest.raises(ValueError, match='already known'):
        add_users(folder, {1: 3.0}, users=[700])
    assert os.stat(os.path.join(folder, 'model.params')).st_mtime_ns == stamp


def test_add_users_to_another_folder_keeps_the_original(trained, tmp_path):
    folder = trained('mf').save(tmp_path / 'model')
    before = len(load_model(folder).user_map)
    add_users(folder, {1: 5.0}, out=tmp_path / 'more')
    assert len(load_model(folder).user_map) == before
    assert len(load_model(tmp_path / 'more').user_map) == before + 1


def test_choose_reg_picks_the_best_of_its_grid(trained):
    from gluonrec.foldin import choose_reg
    rec = trained('biased_mf').recommender()
    grid = [0.001, 0.1, 10.0]
    best, scores = choose_reg(rec, reveal=4, grid=grid, users=40)
    assert sorted(scores) == grid and best == min(scores, key=scores.get)
    assert scores[10.0] != scores[0.001]  # the weight changes the predictions
    # reg='auto' uses the weight chosen for the users' median number of ratings
    rec.training_reg = lambda: 0.02  # noqa: E731  (the fixture trained with reg=0)
    ratings = [dict(list(_user_ratings(rec, u).items())[:4]) for u in (1, 2, 3)]
    auto = rec.fold_in(ratings, reg='auto')
    fixed = rec.fold_in(ratings, reg=rec.fold_in_reg(4))
    np.testing.assert_allclose(auto.user_factors()[-3:], fixed.user_factors()[-3:])
    with pytest.raises(ValueError, match="'auto'"):
        rec.fold_in(ratings, reg='best')


def test_a_new_user_with_more_ratings_than_anyone_gets_the_weight_of_the_most(trained,
                                                                             caplog):
    """rate_jokes.py --ratings with 120 of 140 jokes used to fail: "no user has 120
    training ratings and a held-out one"."""
    rec = trained('biased_mf').recommender()
    rec.training_reg = lambda: 0.02  # noqa: E731  (the fixture trained with reg=0)
    counts = np.bincount(rec.train.user)
    everything = {rec.item_map.to_raw(i): 3.0 for i in range(rec.train.num_items)}
    assert len(everything) > counts.max()  # more than any known user has
    with caplog.at_level('INFO', logger='gluonrec.foldin'):
        view = rec.fold_in(everything, reg='auto')
    assert 'too few known users have 30 training ratings' in caplog.text
    cap = int(re.search(r'simulating users with (\d+)', caplog.text).group(1))
    assert cap <= counts.max()
    fixed = rec.fold_in(everything, reg=rec.fold_in_reg(cap))
    np.testing.assert_allclose(view.user_factors()[-1], fixed.user_factors()[-1])


def test_choose_reg_needs_held_out_ratings(trained):
    from gluonrec.foldin import choose_reg
    rec = trained('biased_mf').recommender()
    bare = type(rec)(rec.net, rec.train, rec.scaler)
    with pytest.raises(ValueError, match='held-out ratings'):
        choose_reg(bare)


@pytest.mark.parametrize('model, kwargs, solved', [
    ('svdpp', {}, 2),                           # p_u, b_u
    ('autorec', {'user_based': False}, 2),      # decoder row, b_u (encoder row stays 0)
    ('autorec', {'user_based': True}, 1)])      # b_u (the code comes from the ratings)
def test_models_that_read_the_ratings_fold_in_to_their_ridge_optimum(small_ratings, model,
                                                                     kwargs, solved):
    """The closed forms of svdpp and autorec, checked through the folded model's own
    forward pass: the new user's objective (squared error of their ratings plus reg
    times their rows' norms once per rating) does not go down when any row it solved
    moves, and moving a row either way changes it alike (zero gradient). Known users'
    predictions do not change, though the new ratings join what the model reads."""
    from gluonrec.models.base import table
    from gluonrec.recipe import train_model
    rec = train_model(small_ratings, model=model, num_factors=4, epochs=2, batch_size=32,
                      optimizer='adam', lr=0.01, reg=REG, patience=0, ctx='cpu', seed=0,
                      model_kwargs=kwargs).recommender()
    ratings = _user_ratings(rec, 3)
    folded = fold_in(rec, ratings, reg=REG)
    net, new = folded.net, len(rec.user_map)
    items = rec.item_map.to_inner(list(ratings))
    target = rec.scaler.transform(np.array(list(ratings.values())))
    tables = net.user_tables()

    def objective():
        pred = net(mx.nd.array(np.full(len(items), new), dtype='int32'),
                   mx.nd.array(items, dtype='int32')).asnumpy()
        norms = sum(float(np.sum(table(t).asnumpy()[new] ** 2)) for t in tables)
        return float(np.sum((pred - target) ** 2)) + REG * len(items) * norms

    best = objective()
    rng = np.random.RandomState(0)
    for block in tables[:solved]:
        data = block.weight.data()
        row = data[new].copy()
        step = mx.nd.array(rng.normal(0, 0.05, row.shape))
        moved = []
        for sign in (1, -1):
            data[new] = row + sign * step
            moved.append(objective())
        data[new] = row
        assert min(moved) > best - 1e-6
        assert abs(moved[0] - moved[1]) < 1e-3 * (min(moved) - best) + 1e-6
    if model == 'autorec' and not kwargs['user_based']:
        assert not table(tables[2]).asnumpy()[new].any()  # the encoder row
    users = rec.user_map.raw_ids[:20]
    known_items = rec.item_map.raw_ids[np.arange(20) % len(rec.item_map)]
    np.testing.assert_allclose(folded.predict(users, known_items),
                               rec.predict(users, known_items), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="'autograd' does not fold in"):
        rec.fold_in(ratings, reg=REG, method='autograd')
    with pytest.raises(ValueError, match='runs imperatively'):
        rec.export('/nonexistent/x')


@pytest.mark.parametrize('model', ['biased_mf', 'nnmf'])
def test_chunked_solves_equal_one_chunk(trained, model, monkeypatch):
    """Users are solved in chunks bounded by memory; a chunk of one user at a time gives
    the same rows as one chunk for all (primal and dual forms)."""
    import gluonrec.foldin as foldin
    rec = trained(model).recommender()
    ratings = _some_users(rec, 6) + [dict(list(_user_ratings(rec, 9).items())[:2])]
    whole = fold_in(rec, ratings, reg=REG).user_factors()[-7:]
    monkeypatch.setattr(foldin, '_CHUNK_ELEMENTS', 1)
    chunked = fold_in(rec, ratings, reg=REG).user_factors()[-7:]
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
