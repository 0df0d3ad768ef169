"""Implicit feedback: positives, ranking splits, the negative sampler, ranking losses,
closed-form models, ranking evaluation, and the ranking models end to end."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gluonrec._compat import mx
from mxnet import autograd

import gluonrec as gr
from gluonrec.data import (NegativeSampleIter, RatingIter, Ratings, k_core, leave_one_out,
                           make_implicit, positives, ranking_protocol, split_per_user,
                           temporal_split)
from gluonrec.metrics import per_user_metrics
from gluonrec.models import get_model, model_names
from gluonrec.models.closed_form import implicit_user_rows
from gluonrec.ranking_eval import (Popularity, RankingValidation, compare_per_user,
                                   evaluate_ranking, pairs_matrix, sampled_metrics,
                                   top_k_items)
from gluonrec.recipe import train_model
from gluonrec.train import fit
from gluonrec.train.objective import RankingObjective

from conftest import InterruptAt

RANKING = model_names('ranking')


@pytest.fixture(scope='module')
def planted():
    """Positives with a planted group structure, split 80/10/10 per user."""
    data = make_implicit(num_users=240, num_items=120, per_user=16, groups=4, seed=1)
    return (data, *split_per_user(data, (0.8, 0.1, 0.1), seed=0))


def _keys(user, item, num_items):
    return np.asarray(user, dtype=np.int64) * num_items + np.asarray(item, dtype=np.int64)


# --- positives, k-core and splits -------------------------------------------------------

def test_positives_threshold_dedupes_and_sums_weights():
    r = Ratings.from_raw([1, 1, 1, 2, 2], [10, 10, 11, 10, 12], [4, 5, 2, 3, 1], (1, 5),
                         timestamp=[5, 9, 1, 2, 3])
    p = positives(r, threshold=3)
    pairs = sorted(zip(r.user_map.to_raw(p.user).tolist(), r.item_map.to_raw(p.item).tolist()))
    assert pairs == [(1, 10), (2, 10)]  # (1, 10) twice in the input, kept once
    assert p.scale == (0.0, 1.0) and set(p.rating.tolist()) == {1.0}
    assert p.timestamp[r.user_map.to_raw(p.user) == 1].tolist() == [9]  # the pair's latest
    summed = positives(r, weights='sum')
    one_ten = (r.user_map.to_raw(summed.user) == 1) & (r.item_map.to_raw(summed.item) == 10)
    assert summed.rating[one_ten].tolist() == [9.0] and summed.scale == (0.0, 9.0)
    with pytest.raises(ValueError, match='no rating is >= 6'):
        positives(r, threshold=6)


def test_load_interactions_counts_repeats_and_names_bad_lines(tmp_path):
    log = tmp_path / 'plays.csv'
    log.write_text('u1,song a,3,100\nu1,song a,2,300\nu2,song b,1,200\nu1,song c,4,50\n')
    r = gr.data.load_interactions(log, columns=('user', 'item', 'count', 'timestamp'))
    table = {(r.user_map.to_raw(u), r.item_map.to_raw(i)): (w, t) for u, i, w, t in
             zip(r.user, r.item, r.rating, r.timestamp)}
    assert table == {('u1', 'song a'): (5.0, 300), ('u2', 'song b'): (1.0, 200),
                     ('u1', 'song c'): (4.0, 50)}
    assert r.scale == (0.0, 5.0) and len(positives(r)) == 3
    plain = gr.data.load_interactions(log, columns=('user', 'item', 'plays', 'time'))
    assert sorted(plain.rating.tolist()) == [1.0, 1.0, 2.0]  # lines per pair
    log.write_text('u1,a,3\nu2,b,-1\n')
    with pytest.raises(ValueError, match=r'plays.csv: line 2: the count must be a number > 0'):
        gr.data.load_interactions(log, columns=('user', 'item', 'count'))


def test_k_core_leaves_no_user_or_item_below_the_limit():
    rng = np.random.RandomState(0)
    r = Ratings.from_raw(rng.randint(0, 60, 900), rng.randint(0, 80, 900), np.ones(900),
                         (0, 1))
    p = positives(r)
    core = k_core(p, 8, 6)
    assert np.bincount(core.user).min() >= 8 and np.bincount(core.item).min() >= 6
    assert core.num_users == len(np.unique(core.user))  # renumbered, no empty row
    # Every pair kept is one of the input's, by raw ids.
    kept = set(zip(core.user_map.to_raw(core.user).tolist(),
                   core.item_map.to_raw(core.item).tolist()))
    assert kept <= set(zip(p.user_map.to_raw(p.user).tolist(),
                           p.item_map.to_raw(p.item).tolist()))
    with pytest.raises(ValueError, match='nothing is left'):
        k_core(p, 500, 1)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(0, 10_000))
def test_split_per_user_partitions_each_users_rows(per_user, seed):
    data = make_implicit(num_users=30, num_items=60, per_user=per_user, groups=3, seed=seed)
    parts = split_per_user(data, (0.8, 0.1, 0.1), seed=seed)
    keys = [set(_keys(p.user, p.item, data.num_items).tolist()) for p in parts]
    assert sum(len(k) for k in keys) == len(data)
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    for part in parts:
        assert part.user_map is data.user_map and part.item_map is data.item_map
    train, val, test = (np.bincount(p.user, minlength=30) for p in parts)
    assert (train >= 1).all()  # every user keeps a training row
    # The floor of each share, raised to 1 while the training part keeps a row.
    held = int(np.floor(0.1 * per_user)) or (1 if per_user > 1 else 0)
    assert (val == held).all()
    assert (test == (int(np.floor(0.1 * per_user)) or (1 if per_user - held > 1 else 0))).all()


def test_leave_one_out_holds_out_each_users_latest():
    data = make_implicit(num_users=50, num_items=60, per_user=6, groups=3, seed=2)
    data.timestamp = np.random.RandomState(0).permutation(len(data)).astype(np.int64)
    train, val, test = leave_one_out(data)
    for u in range(data.num_users):
        times = np.sort(data.timestamp[data.user == u])
        assert test.timestamp[test.user == u].tolist() == [times[-1]]
        assert val.timestamp[val.user == u].tolist() == [times[-2]]
        assert train.timestamp[train.user == u].max() < times[-2]
    two = leave_one_out(data, validation=False)
    assert len(two) == 2 and len(two[1]) == data.num_users


def test_temporal_split_cuts_in_time_without_leakage():
    data = make_implicit(num_users=40, num_items=60, per_user=10, groups=3, seed=3)
    data.timestamp = np.arange(len(data), dtype=np.int64)[::-1].copy()
    train, test = temporal_split(data, fraction=0.25)
    assert train.timestamp.max() < test.timestamp.min()
    assert len(test) == pytest.approx(0.25 * len(data), abs=1)
    assert not set(_keys(train.user, train.item, 60)) & set(_keys(test.user, test.item, 60))
    no_time = Ratings(data.user, data.item, data.rating, data.user_map, data.item_map,
                      data.scale)
    with pytest.raises(ValueError, match='timestamps'):
        temporal_split(no_time)


# --- the negative-sampling iterator -----------------------------------------------------

def _epoch(it):
    batches = list(it)
    cat = [np.concatenate([b.data[j].asnumpy() for b in batches]) for j in range(3)]
    return batches, cat


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(['uniform', 'popularity']),
       st.integers(1, 5))
def test_negatives_are_never_training_positives(seed, sampling, negatives):
    data = make_implicit(num_users=40, num_items=30, per_user=8, groups=3, seed=seed)
    it = NegativeSampleIter.from_ratings(data, batch_size=37, num_negatives=negatives,
                                         sampling=sampling, seed=seed)
    positive = set(_keys(data.user, data.item, 30).tolist())
    for _ in range(2):
        _, (user, item, neg) = _epoch(it)
        assert neg.shape[1] == negatives
        drawn = _keys(np.repeat(user, negatives), neg.ravel(), 30)
        assert not positive & set(drawn.tolist())
        it.reset()


@pytest.mark.parametrize('sampling', ['uniform', 'popularity'])
def test_the_member_table_and_the_sorted_search_reject_the_same_negatives(sampling,
                                                                        monkeypatch):
    """Below MEMBER_TABLE_LIMIT pairs the rejection reads a byte table, above it a binary
    search: the same negatives either way."""
    import gluonrec.data.sampling as sampling_module
    data = make_implicit(num_users=50, num_items=40, per_user=9, groups=4, seed=2)
    table = NegativeSampleIter.from_ratings(data, batch_size=64, num_negatives=3,
                                            sampling=sampling, seed=5)
    monkeypatch.setattr(sampling_module, 'MEMBER_TABLE_LIMIT', 0)
    search = NegativeSampleIter.from_ratings(data, batch_size=64, num_negatives=3,
                                             sampling=sampling, seed=5)
    assert table._member is not None and search._member is None
    for epoch in (0, 3):
        np.testing.assert_array_equal(table.negatives(data.user, epoch),
                                      search.negatives(data.user, epoch))


def test_every_positive_once_per_epoch_in_a_seeded_order(planted):
    data = planted[1]
    it = NegativeSampleIter.from_ratings(data, batch_size=100, last_batch_handle='discard',
                                         seed=4)
    _, (u0, i0, n0) = _epoch(it)
    assert len(u0) == len(data) // 100 * 100
    it = NegativeSampleIter.from_ratings(data, batch_size=100, seed=4)  # 'pad'
    batches, (user, item, neg) = _epoch(it)
    pad = batches[-1].pad
    assert pad == 100 * len(batches) - len(data)
    keys = _keys(user[:len(data)], item[:len(data)], data.num_items)
    assert sorted(keys) == sorted(_keys(data.user, data.item, data.num_items))
    it.reset()
    _, (user2, _, neg2) = _epoch(it)
    assert not np.array_equal(user, user2) and not np.array_equal(neg, neg2)
    again = NegativeSampleIter.from_ratings(data, batch_size=100, seed=4)
    again.set_epoch(1)  # a resumed run sees epoch 2's batches exactly
    _, (user3, _, neg3) = _epoch(again)
    np.testing.assert_array_equal(user3, user2)
    np.testing.assert_array_equal(neg3, neg2)
    assert [d.name for d in it.provide_data] == ['user', 'item', 'negative']
    assert it.provide_data[2].shape == (100, 1) and it.provide_label[0].name == 'weight'


def test_popularity_sampling_follows_counts_to_the_power_alpha():
    rng = np.random.RandomState(0)
    counts = np.array([1, 2, 4, 8, 16, 32, 64, 0, 3, 5])
    item = np.repeat(np.arange(10), counts)
    user = rng.randint(0, 400, len(item)) + 1000  # users with few positives each
    user = np.concatenate([user, [0]])  # a user who has item 9 only: the one tested below
    item = np.concatenate([item, [9]])
    it = NegativeSampleIter(user, item, num_users=1400, num_items=10, num_negatives=1,
                            sampling='popularity', alpha=0.5, seed=0)
    drawn = it.negatives(np.zeros(200_000, dtype=np.int64), epoch=0).ravel()
    counts = np.bincount(item, minlength=10).astype(float)
    expected = np.sqrt(counts) * (np.arange(10) != 9)  # item 9 is user 0's own positive
    expected /= expected.sum()
    observed = np.bincount(drawn, minlength=10) / len(drawn)
    np.testing.assert_allclose(observed, expected, atol=0.004)
    assert observed[7] == 0  # no training positive: never drawn by popularity


def test_sampler_refuses_a_user_who_has_every_item():
    with pytest.raises(ValueError, match='every item'):
        NegativeSampleIter([0, 0, 0, 1], [0, 1, 2, 0], num_users=2, num_items=3)
    with pytest.raises(ValueError, match='num_negatives'):
        NegativeSampleIter([0], [1], num_users=1, num_items=3, num_negatives=0)
    with pytest.raises(ValueError, match=r'item ids must lie in \[0, 3\)'):
        NegativeSampleIter([0], [3], num_users=1, num_items=3)


# --- ranking metrics ---------------------------------------------------------------------

def test_ranking_metrics_on_a_hand_built_answer():
    import scipy.sparse as sp
    recommended = np.array([[1, 2, 3], [4, 0, -1], [0, 1, 2]])
    relevant = sp.csr_matrix(np.array([[0, 0, 1, 0, 0, 1],    # hit at rank 2 of 2 relevant
                                       [1, 0, 0, 0, 1, 0],    # hits at ranks 1 and 2
                                       [0, 0, 0, 0, 0, 0]],   # nothing relevant: left out
                                      dtype=bool))
    rows, values = per_user_metrics(recommended, relevant, 3)
    assert rows.tolist() == [0, 1]
    d = 1 / np.log2(np.arange(2, 5))
    np.testing.assert_allclose(values['precision@3'], [1 / 3, 2 / 3])
    np.testing.assert_allclose(values['recall@3'], [1 / 2, 1])
    np.testing.assert_allclose(values['ndcg@3'], [d[1] / (d[0] + d[1]), 1.0])
    np.testing.assert_allclose(values['map@3'], [(1 / 2) / 2, (1 + 1) / 2])
    np.testing.assert_allclose(values['hit@3'], [1, 1])
    np.testing.assert_allclose(values['mrr@3'], [1 / 2, 1])


class _Fixed:
    """A model whose scores are a fixed matrix."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)

    def score_matrix(self, users, items=None):
        return self.scores[np.asarray(users)]


def test_evaluate_ranking_masks_training_positives_and_reports_per_user(planted):
    data, train, val, test = planted
    scores = np.random.RandomState(0).normal(size=(data.num_users, data.num_items))
    model = _Fixed(scores)
    top = top_k_items(model.score_matrix, np.arange(data.num_users), 10, data.num_items,
                      exclude=pairs_matrix([train], data.num_users, data.num_items))
    seen = set(_keys(train.user, train.item, data.num_items).tolist())
    assert not seen & set(_keys(np.repeat(np.arange(data.num_users), 10), top.ravel(),
                                data.num_items).tolist())
    chunked = top_k_items(model.score_matrix, np.arange(data.num_users), 10, data.num_items,
                          chunk_size=7)
    whole = top_k_items(model.score_matrix, np.arange(data.num_users), 10, data.num_items)
    np.testing.assert_array_equal(chunked, whole)
    means, frame = evaluate_ranking(model, train, test, k=(5, 10), per_user=True)
    assert len(frame) == means['users'] == len(np.unique(test.user))
    assert means['ndcg@10'] == pytest.approx(frame['ndcg@10'].mean())
    assert set(frame.columns) >= {'user', 'relevant', 'recall@5', 'mrr@10', 'hit@10'}
    # A model that knows the test set scores perfectly on HR.
    oracle = np.zeros((data.num_users, data.num_items), dtype=np.float32)
    oracle[test.user, test.item] = 1
    assert evaluate_ranking(_Fixed(oracle), train, test, k=10)['hit@10'] == 1.0


def test_compare_per_user_pairs_the_same_users(planted):
    data, train, val, test = planted
    rng = np.random.RandomState(1)
    a = evaluate_ranking(_Fixed(rng.normal(size=(240, 120))), train, test, per_user=True)[1]
    same = compare_per_user(a, a)
    assert same['difference'] == 0 and same['t_pvalue'] == 1.0 and same['ci_low'] == 0
    better = a.copy()
    better['ndcg@10'] += 0.05
    out = compare_per_user(a, better, resamples=2000)
    assert out['difference'] == pytest.approx(0.05)
    assert out['ci_low'] > 0 and out['t_pvalue'] < 1e-6 and out['users'] == len(a)
    with pytest.raises(ValueError, match="no column 'ndcg@20'"):
        compare_per_user(a, a, metric='ndcg@20')


def test_sampled_metrics_draw_negatives_outside_the_users_positives(planted):
    data, train, val, test = planted
    oracle = np.zeros((data.num_users, data.num_items), dtype=np.float32)
    oracle[test.user, test.item] = 1
    oracle[train.user, train.item] = 2  # would win if a training positive were sampled
    out = sampled_metrics(_Fixed(oracle), train, test, num_negatives=50, k=1)
    assert out['hr@1'] == 1.0 and out['ndcg@1'] == 1.0 and out['positives'] == len(test)


# --- losses and closed forms against numpy -----------------------------------------------

@pytest.mark.parametrize('loss', ['bpr', 'bce'])
def test_ranking_losses_and_gradients_match_numpy(loss):
    net = get_model('mf', num_users=5, num_items=7, num_factors=3)
    net.initialize(mx.init.Normal(0.5))
    objective = RankingObjective(net, reg=0.1, loss=loss)
    user = mx.nd.array([0, 1, 3], dtype='int32')
    item = mx.nd.array([2, 2, 6], dtype='int32')
    neg = mx.nd.array([[1, 4], [0, 5], [3, 3]], dtype='int32')
    weight = mx.nd.array([1.0, 2.0, 0.5])
    with autograd.record():
        err, obj = objective(user, item, neg, weight)
    obj.backward()
    P, Q = net.user_factors().astype(float), net.item_factors().astype(float)
    u, i, j, w = user.asnumpy(), item.asnumpy(), neg.asnumpy(), weight.asnumpy()
    gp, gq = np.zeros_like(P), np.zeros_like(Q)
    total = []
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    for r in range(3):
        xp = P[u[r]] @ Q[i[r]]
        xn = Q[j[r]] @ P[u[r]]
        if loss == 'bpr':
            term = w[r] * np.mean(np.log1p(np.exp(-(xp - xn))))
            coef = -w[r] * (1 - sig(xp - xn)) / len(xn)  # d term / d (xp - xn_j)
            gp[u[r]] += coef.sum() * Q[i[r]] - coef @ Q[j[r]]
            gq[i[r]] += coef.sum() * P[u[r]]
            for jj, c in zip(j[r], coef):
                gq[jj] -= c * P[u[r]]
        else:
            term = w[r] * np.log1p(np.exp(-xp)) + np.sum(np.log1p(np.exp(xn)))
            cp, cn = -w[r] * (1 - sig(xp)), sig(xn)
            gp[u[r]] += cp * Q[i[r]] + cn @ Q[j[r]]
            gq[i[r]] += cp * P[u[r]]
            for jj, c in zip(j[r], cn):
                gq[jj] += c * P[u[r]]
        penalty = P[u[r]] @ P[u[r]] + Q[i[r]] @ Q[i[r]] + np.mean((Q[j[r]] ** 2).sum(1))
        gp[u[r]] += 0.1 * 2 * P[u[r]]
        gq[i[r]] += 0.1 * 2 * Q[i[r]]
        for jj in j[r]:
            gq[jj] += 0.1 * 2 * Q[jj] / len(j[r])
        total.append(term + 0.1 * penalty)
    np.testing.assert_allclose(obj.asnumpy(), total, rtol=1e-5)
    np.testing.assert_allclose(net.user_embedding.weight.grad().asnumpy(), gp, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(net.item_embedding.weight.grad().asnumpy(), gq, rtol=1e-4,
                               atol=1e-6)


def _dense_ials_rows(fixed, index, inner, weight, count, reg, alpha):
    """The iALS solve written out over the dense preference and confidence matrices."""
    pref = np.zeros((count, len(fixed)))
    conf = np.ones((count, len(fixed)))
    pref[index, inner] = 1
    conf[index, inner] = 1 + alpha * weight
    return np.stack([np.linalg.solve(fixed.T @ (conf[u][:, None] * fixed) +
                                     reg * np.eye(fixed.shape[1]),
                                     fixed.T @ (conf[u] * pref[u])) for u in range(count)])


def test_ials_solve_equals_the_dense_normal_equations():
    rng = np.random.RandomState(0)
    fixed = rng.normal(size=(25, 4))
    index = rng.randint(0, 9, 60)
    index[index == 3] = 4  # row 3 has no positive: its solution is 0
    inner = rng.randint(0, 25, 60)
    keys = np.unique(index * 25 + inner)
    index, inner = keys // 25, keys % 25
    weight = rng.uniform(0.5, 3, len(index))
    expected = _dense_ials_rows(fixed, index, inner, weight, 9, 0.7, 2.0)
    got = implicit_user_rows(fixed, index, inner, weight, 9, 0.7, 2.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert not got[3].any()
    cg = implicit_user_rows(fixed, index, inner, weight, 9, 0.7, 2.0, solver='cg',
                            cg_steps=8)  # k = 4 steps solve a 4 x 4 system; 8 to be safe
    np.testing.assert_allclose(cg, expected, rtol=1e-6, atol=1e-8)


def test_ials_epoch_alternates_users_then_items(planted):
    _, train, _, _ = planted
    net = get_model('ials', num_users=train.num_users, num_items=train.num_items,
                    num_factors=5, alpha=3.0, solver='exact')
    net.initialize()
    q0 = net.item_factors().astype(np.float64)
    net.solve(train.user, train.item, train.rating, 0.5)
    p = _dense_ials_rows(q0, train.user, train.item, train.rating, train.num_users, 0.5, 3.0)
    q = _dense_ials_rows(p, train.item, train.user, train.rating, train.num_items, 0.5, 3.0)
    np.testing.assert_allclose(net.user_factors(), p, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net.item_factors(), q, rtol=1e-4, atol=1e-6)


def test_ease_equals_its_formula(planted):
    _, train, _, _ = planted
    net = get_model('ease', num_users=train.num_users, num_items=train.num_items)
    net.initialize()
    net.solve(train.user, train.item, train.rating, 30.0)
    x = np.zeros((train.num_users, train.num_items))
    x[train.user, train.item] = 1
    p = np.linalg.inv(x.T @ x + 30.0 * np.eye(train.num_items))
    b = np.eye(train.num_items) - p / np.diag(p)[None, :]
    np.testing.assert_allclose(np.diag(b), 0, atol=1e-12)
    np.testing.assert_allclose(net.score_matrix(np.arange(train.num_users)), x @ b,
                               rtol=1e-4, atol=1e-5)


def test_ease_refuses_a_catalogue_too_large_for_memory(monkeypatch):
    import gluonrec.models.closed_form as closed_form
    monkeypatch.setattr(closed_form, 'physical_memory', lambda: 8 * 2 ** 30)
    with pytest.raises(ValueError, match=r'EASE needs a dense item x item matrix: 30,000 '
                                         r'items .* GiB .* use ials or bpr_mf'):
        get_model('ease', num_users=10, num_items=30_000)
    get_model('ease', num_users=10, num_items=3_000)  # 0.25 GiB: fine


# --- the ranking models end to end --------------------------------------------------------

#: Settings that learn the planted groups within a few seconds each.
QUICK = {'bpr_mf': dict(num_factors=16, lr=0.02, epochs=15),
         'gmf': dict(num_factors=16, lr=0.02, epochs=15),
         'neumf': dict(num_factors=16, lr=0.01, epochs=15, model_kwargs={'mlp_factors': 8}),
         'ials': dict(num_factors=8, reg=5.0, epochs=4),
         'ease': dict(reg=20.0)}


@pytest.fixture(scope='module')
def ranked(planted):
    """``ranked(name)``: train_model of that ranking model on the planted train part,
    validated on its val part, trained once per module."""
    data, train, val, test = planted
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = train_model(train, val=val, model=name, seed=0, ctx='cpu',
                                      batch_size=256, patience=3, log_interval=None,
                                      **QUICK[name])
        return cache[name]
    return get


@pytest.mark.parametrize('name', RANKING)
def test_each_ranking_model_learns_the_planted_preferences(name, planted, ranked):
    data, train, val, test = planted
    result = ranked(name)
    model = evaluate_ranking(result.net, train, test, k=10, exclude=(val,))['ndcg@10']
    popular = evaluate_ranking(Popularity(train), train, test, k=10, exclude=(val,))['ndcg@10']
    assert model > 1.8 * popular, (model, popular)
    record = result.history[-1]
    assert 'val_ndcg@10' in record and 'val_rmse' not in record
    from gluonrec.train.fused import why_not
    fused = why_not(type(result.net), None, None, None, result.settings['loss']) is None
    assert result.settings['engine'] == ('solver' if result.net.closed_form else
                                         'fused' if fused else 'generic')
    summary = result.summary()
    assert summary['val_ndcg@10'] == pytest.approx(result.history.best()['val_ndcg@10'])
    assert summary['baseline_ndcg@10'] < summary['val_ndcg@10']


@pytest.mark.parametrize('name', RANKING)
def test_ranking_models_save_load_recommend_and_fold_in(name, planted, ranked, tmp_path):
    data, train, val, test = planted
    result = ranked(name)
    result.save(tmp_path / name)
    rec = gr.load_model(tmp_path / name)
    users = np.arange(10)
    np.testing.assert_allclose(rec.score_users(users), result.net.score_matrix(users),
                               rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / name / 'scaler.json').read_text())['kind'] == 'identity'
    raw = rec.user_map.to_raw(0)
    top = gr.recommend(rec, raw, n=10)
    known = set(rec.item_map.to_raw(train.item[train.user == 0]).tolist())
    assert len(top) == 10 and not known & {item for item, _ in top}
    # A new user who likes group 0's items gets group 0's items recommended.
    group = data.truth['item_group']
    liked = {int(i): 1.0 for i in rec.item_map.to_raw(np.flatnonzero(group == 0)[:12])}
    if name == 'neumf':
        with pytest.raises(ValueError, match='no fold-in from positives'):
            rec.fold_in(liked)
        return
    new = rec.fold_in(liked)
    top = gr.recommend(new, new.user_map.to_raw(len(new.user_map) - 1), n=10)
    share = np.mean(group[new.item_map.to_inner([item for item, _ in top])] == 0)
    assert share >= 0.6, share


def test_ranking_early_stopping_keeps_the_best_ndcg_epoch(planted):
    data, train, val, test = planted
    result = train_model(train, val=val, model='bpr_mf', num_factors=16, lr=0.05,
                         epochs=30, patience=2, batch_size=256, seed=0, ctx='cpu',
                         log_interval=None)
    history = result.history
    best = max(history, key=lambda r: r['val_ndcg@10'])
    assert history.params_epoch == best['epoch'] and history.best() is best
    now = RankingValidation(train, val)(result.net)['val_ndcg@10']
    assert now == pytest.approx(best['val_ndcg@10'], rel=1e-6)


@pytest.mark.parametrize('name', ['bpr_mf', 'ials'])
def test_ranking_resume_after_ctrl_c_equals_an_uninterrupted_run(name, planted, tmp_path):
    data, train, val, test = planted

    def run(folder=None, **kwargs):
        net = get_model(name, num_users=train.num_users, num_items=train.num_items,
                        num_factors=6)
        it = NegativeSampleIter.from_ratings(train, batch_size=128, seed=2) \
            if not net.closed_form else RatingIter.from_ratings(train, batch_size=len(train),
                                                                shuffle=False)
        fit(net, it, RankingValidation(train, val), epochs=3, optimizer='adam',
            learning_rate=0.01, reg=1e-3 if name == 'bpr_mf' else 2.0,
            loss='bpr' if name == 'bpr_mf' else None, ctx='cpu', seed=5, log_interval=None,
            checkpoint_dir=folder, **kwargs)
        return net.score_matrix(np.arange(train.num_users))

    expected = run()
    folder = str(tmp_path / 'ckpt')
    run(folder, callbacks=[InterruptAt(1, 0)])
    np.testing.assert_allclose(run(folder, resume=True), expected, rtol=1e-5, atol=1e-6)


def test_engines_and_losses_refuse_what_they_cannot_train(planted):
    data, train, val, test = planted
    with pytest.raises(ValueError, match="solved in closed form: engine must be 'auto'"):
        train_model(train, model='ials', engine='generic', ctx='cpu')
    with pytest.raises(ValueError, match="engine='solver' trains models solved in closed "):
        train_model(train, model='bpr_mf', engine='solver', ctx='cpu')
    net = get_model('bpr_mf', num_users=train.num_users, num_items=train.num_items)
    with pytest.raises(ValueError, match='a ranking loss trains on a NegativeSampleIter'):
        fit(net, RatingIter.from_ratings(train, batch_size=64), epochs=1, loss='bpr',
            ctx='cpu', log_interval=None)
    with pytest.raises(ValueError, match='for ranking models'):
        train_model(train, model='biased_mf', threshold=3)
    from gluonrec.sklearn import RatingRegressor
    with pytest.raises(ValueError, match='a ranking model'):
        RatingRegressor(model='ials').fit(np.array([[1, 2], [2, 3]]), np.array([1.0, 2.0]))


def test_train_model_turns_explicit_ratings_into_positives(small_ratings):
    result = train_model(small_ratings, model='ease', threshold=2.0, reg=10.0, ctx='cpu')
    kept = (small_ratings.rating >= 2.0).sum()
    assert len(result.train) + len(result.val) == kept
    assert result.settings['threshold'] == 2.0 and result.scaler.__class__.__name__ == \
        'IdentityScaler'


def test_ranking_protocol_on_movielens(shared_data):
    ratings = gr.load_dataset('ml-100k', root=shared_data)
    train, val, test = ranking_protocol(ratings)
    union = [np.concatenate([p.user for p in (train, val, test)]),
             np.concatenate([p.item for p in (train, val, test)])]
    assert np.bincount(union[0]).min() >= 10 and np.bincount(union[1]).min() >= 10
    assert len(val) == len(test) == pytest.approx(0.1 * len(union[0]), rel=0.1)  # floors
    raw = ratings.rating[ratings.rating >= 3]
    assert len(union[0]) < len(raw)  # the 10-core removed some
