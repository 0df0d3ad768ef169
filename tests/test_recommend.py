import numpy as np
from hypothesis import given, settings, strategies as st
import pytest

from gluonrec._compat import mx
from gluonrec.data import MinMaxScaler, Ratings, make_synthetic
from gluonrec.evaluation import evaluate_recommender
from gluonrec.models import get_model
from gluonrec.recommend import recommend, recommend_all, top_n
from gluonrec.recommender import Recommender


@pytest.fixture
def rec(trained):
    return trained('biased_mf').recommender()


def _hand_built():
    """3 users x 4 items, MF with k=1: scaled scores p_u * q_i with p = (1, -1, 0) and
    q = (.1, .2, .3, .4), so ratings (1..5 scale, 3 + 2x) are u10: 3.2 3.4 3.6 3.8 and
    u20: 2.8 2.6 2.4 2.2. In training user 10 rated item 1, user 20 item 4, and user 30
    items 2 and 3 (so that every item has a training rating)."""
    net = get_model('mf', num_users=3, num_items=4, num_factors=1)
    net.initialize()
    net.user_embedding.weight.set_data(mx.nd.array([[1.0], [-1.0], [0.0]]))
    net.item_embedding.weight.set_data(mx.nd.array([[0.1], [0.2], [0.3], [0.4]]))
    maps = {'user_map': [10, 20, 30], 'item_map': [1, 2, 3, 4], 'scale': (1, 5)}
    train = Ratings([0, 1, 2, 2], [0, 3, 1, 2], [4.0, 2.0, 3.0, 1.0], **maps)
    test = Ratings([0, 0, 1], [1, 2, 0], [5.0, 1.0, 4.0], **maps)
    return Recommender.from_training(net, train, MinMaxScaler.from_scale((1, 5)), test=test)


def test_never_recommends_rated_items(rec):
    for raw_user in rec.user_map.raw_ids[:20]:
        inner = rec.user_map.to_inner(raw_user)
        rated = set(rec.item_map.to_raw(rec.train.item[rec.train.user == inner]).tolist())
        items = [i for i, _ in recommend(rec, raw_user, n=30)]
        assert not rated & set(items)
        assert len(items) == len(set(items)) == min(30, 30 - len(rated))


def test_top_n_matches_full_sort(rec):
    raw_user = rec.user_map.raw_ids[3]
    result = recommend(rec, raw_user, n=5, exclude_rated=False)
    inner = rec.user_map.to_inner(raw_user)
    scores = rec.score_users([inner])[0]
    expected = rec.item_map.to_raw(np.argsort(-scores, kind='stable')[:5]).tolist()
    assert [i for i, _ in result] == expected
    assert [s for _, s in result] == sorted([s for _, s in result], reverse=True)


def test_recommend_all_agrees_with_recommend(rec):
    users, items, scores = recommend_all(rec, n=5, chunk_size=7)
    for inner in (0, 13, 79):
        single = recommend(rec, rec.user_map.to_raw(inner), n=5)
        assert rec.item_map.to_raw(items[inner]).tolist() == [i for i, _ in single]


def test_unknown_user(rec):
    with pytest.raises(KeyError, match='unknown user'):
        recommend(rec, 'stranger')
    popular = recommend(rec, 'stranger', n=3, fallback='popular')
    counts = rec.item_counts
    assert rec.item_map.to_inner(popular[0][0]) == int(np.argmax(counts))
    assert len(recommend(rec, 'stranger', n=3, fallback='bias')) == 3


@pytest.mark.parametrize('huge', ['99999999999999999999', 2 ** 64 - 1, 2 ** 70, 1.5, '1.5'])
def test_ids_no_int64_holds_are_unknown_not_an_overflow(rec, huge):
    """Ids of 2^63 and beyond used to raise OverflowError (and 1.5 found user 1)."""
    assert rec.user_map.canonical(huge) is None
    assert not rec.user_map.contains(huge).any()
    with pytest.raises(KeyError, match='unknown user'):
        recommend(rec, huge)
    with pytest.raises(KeyError, match='unknown'):
        rec.user_map.to_inner(huge, 'user')
    with pytest.raises(ValueError, match='does not fit'):
        rec.fold_in({rec.item_map.to_raw(0): 3.0}, users=[2 ** 64], reg=0.1)


def test_top_n_pads_exhausted_rows():
    top, scores = top_n(np.array([[1.0, -np.inf, 3.0]]), 3)
    assert top.tolist() == [[2, 0, -1]]


def test_evaluate_recommender_known_answer():
    """Errors 1.6, 2.6, 1.2; relevant (>= 4): item 2 for user 10 (ranked 3rd after items
    4 and 3), item 1 for user 20 (ranked 1st, item 4 being rated)."""
    out = evaluate_recommender(_hand_built(), _hand_built().test, k=3, threshold=4)
    assert out['ratings'] == 3
    assert out['rmse'] == pytest.approx(np.sqrt((1.6 ** 2 + 2.6 ** 2 + 1.2 ** 2) / 3), rel=1e-5)
    assert out['mae'] == pytest.approx(1.8, rel=1e-5)
    assert out['precision@3'] == pytest.approx(1 / 3) and out['recall@3'] == 1.0
    assert out['map@3'] == pytest.approx((1 / 3 + 1) / 2)
    assert out['ndcg@3'] == pytest.approx((1 / np.log2(4) + 1) / 2)
    assert out['users_ranked'] == 2


def test_recommender_helpers_known_answer():
    rec = _hand_built()
    assert rec.top_rated(10) == [(1, 4.0)] and rec.top_rated('20') == [(4, 2.0)]
    np.testing.assert_allclose(rec.item_means(), [4.0, 3.0, 1.0, 2.0])
    np.testing.assert_allclose(rec.item_baseline(), rec.item_means())  # mf has no biases
    assert rec.rated_matrix().toarray().tolist() == [[True, False, False, False],
                                                     [False, False, False, True],
                                                     [False, True, True, False]]
    assert [i for i, _ in recommend(rec, 10, n=3)] == [4, 3, 2]


def test_recommend_all_matches_brute_force_at_jester_scale():
    r = make_synthetic(5000, 100, 50000, seed=0)
    net = get_model('biased_mf', num_users=5000, num_items=100, num_factors=16)
    net.initialize()
    rec = Recommender.from_training(net, r, MinMaxScaler.from_scale(r.scale))
    users, items, _ = recommend_all(rec, n=10)
    assert items.shape == (5000, 10)
    rated = rec.rated_matrix()
    for user in (0, 1234, 4999):
        scores = rec.score_users([user])[0]
        scores[rated[user].indices] = -np.inf
        assert items[user].tolist() == np.argsort(-scores, kind='stable')[:10].tolist()


def test_recommend_all_ranks_on_float32_scores_within_the_chunk_budget(monkeypatch):
    """Top-N selects on the network's float32 scores a budget-sized chunk at a time, and
    converts only the chosen ones: the same items and ratings as ranking the predicted
    ratings of every item."""
    import gluonrec.ranking_eval as ranking_eval
    r = make_synthetic(300, 80, 4000, seed=2)
    net = get_model('biased_mf', num_users=300, num_items=80, num_factors=8)
    net.initialize()
    rec = Recommender.from_training(net, r, MinMaxScaler.from_scale(r.scale))
    seen = []
    original = rec.rank_scores
    monkeypatch.setattr(rec, 'rank_scores', lambda users: seen.append(len(users)) or
                        original(users))
    monkeypatch.setattr(ranking_eval, 'SCORE_BUDGET', 80 * 4 * 50)  # 50 users a chunk
    users, items, scores = recommend_all(rec, n=5)
    assert max(seen) == 50 and sum(seen) == 300  # budget-sized chunks
    assert original([0]).dtype == np.float32
    full = rec.score_users(np.arange(300))
    full[rec.rated_matrix().nonzero()] = -np.inf
    expected = np.argsort(-full, axis=1, kind='stable')[:, :5]
    np.testing.assert_array_equal(items, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), rtol=1e-6)


def test_a_scaler_of_ones_own_is_ranked_on_its_ratings(rec):
    """A custom scaler may not be increasing: top-N then ranks the predicted ratings."""
    class Flipped(MinMaxScaler):
        def inverse_transform(self, scaled):
            return -super().inverse_transform(scaled)

    flipped = Recommender(rec.net, rec.train, Flipped.from_scale(rec.scale))
    np.testing.assert_array_equal(flipped.rank_scores([0, 1]), flipped.score_users([0, 1]))
    assert flipped.from_rank_scores(np.array([1.5])) == 1.5


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 700), st.integers(1, 30), st.integers(0, 10_000),
       st.booleans())
def test_top_n_equals_a_stable_full_sort(rows, cols, n, seed, float32):
    """Both ways of finding the cut-off (a partition of narrow rows, block maxima of wide
    ones) give exactly the stable sort's first n, ties in column order, -1 past the
    finite scores."""
    rng = np.random.RandomState(seed)
    scores = np.round(rng.normal(size=(rows, cols)), 1)  # many ties
    scores[rng.random_sample((rows, cols)) < 0.3] = -np.inf
    scores = scores.astype(np.float32 if float32 else np.float64)
    n = min(n, cols)
    top, values = top_n(scores, n)
    expected = np.argsort(-scores, axis=1, kind='stable')[:, :n]
    kept = np.take_along_axis(scores, expected, axis=1)
    expected[~np.isfinite(kept)] = -1
    np.testing.assert_array_equal(top, expected)
    np.testing.assert_array_equal(values, kept)
    assert values.dtype == scores.dtype
