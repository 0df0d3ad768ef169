import time

import numpy as np
import pytest

from gluonrec.data import MinMaxScaler, RatingIter, make_synthetic, random_split
from gluonrec.evaluation import evaluate_recommender
from gluonrec.models import get_model
from gluonrec.persist import Recommender
from gluonrec.recommend import recommend, recommend_all, top_n
from gluonrec.train import fit


@pytest.fixture(scope='module')
def rec():
    r = make_synthetic(80, 30, 1200, rank=2, seed=4)
    train, test = random_split(r, 0.2, seed=0)
    net = get_model('biased_mf', num_users=r.num_users, num_items=r.num_items, num_factors=4)
    scaler = MinMaxScaler.from_scale(r.scale)
    fit(net, RatingIter.from_ratings(train, scaler, batch_size=64), test, epochs=5,
        scaler=scaler, ctx='cpu', seed=0, log_interval=None)
    return Recommender.from_training(net, train, scaler, test=test)


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


def test_top_n_pads_exhausted_rows():
    top, scores = top_n(np.array([[1.0, -np.inf, 3.0]]), 3)
    assert top.tolist() == [[2, 0, -1]]


def test_evaluate_recommender(rec):
    out = evaluate_recommender(rec, rec.test, k=5, threshold=0.0)
    assert out['ratings'] == len(rec.test.user) and 0 < out['rmse'] < 10
    assert 0 <= out['precision@5'] <= 1 and 0 <= out['ndcg@5'] <= 1


def test_recommend_all_speed_for_jester_scale():
    r = make_synthetic(5000, 100, 50000, seed=0)
    net = get_model('biased_mf', num_users=5000, num_items=100, num_factors=16)
    net.initialize()
    rec = Recommender.from_training(net, r, MinMaxScaler.from_scale(r.scale))
    tic = time.time()
    users, items, _ = recommend_all(rec, n=10)
    assert items.shape == (5000, 10)
    assert time.time() - tic < 5  # generous bound; the benchmark reports the real time
