import math

import numpy as np
import pytest
import scipy.sparse as sp

from gluonrec import metrics


def test_rating_errors_known_answers():
    assert metrics.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert metrics.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    # 3.4 -> 3, 4.6 -> 5, 0.2 -> 0 then clipped to 1
    assert metrics.rounded_mae([3, 4, 1], [3.4, 4.6, 0.2], scale=(1, 5)) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match='shapes differ'):
        metrics.rmse([1, 2], [1])


def test_rmse_is_not_half_squared_error():
    # Gluon's L2Loss would report 0.5 * 4 = 2 here; RMSE is 2.
    assert metrics.rmse([0.0], [2.0]) == 2.0


@pytest.fixture
def ranked():
    # user 0: relevant {1, 3}; list [1, 2, 3]: hits at ranks 1 and 3
    # user 1: relevant {0};    list [2, 0, 1]: hit at rank 2
    # user 2: nothing relevant: left out of every mean
    recommended = np.array([[1, 2, 3], [2, 0, 1], [0, 1, 2]])
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool))
    return recommended, relevant


def test_ranking_known_answers(ranked):
    rec, rel = ranked
    assert metrics.precision_at_k(rec, rel, 3) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert metrics.recall_at_k(rec, rel, 3) == pytest.approx((1 + 1) / 2)
    assert metrics.precision_at_k(rec, rel, 1) == pytest.approx(0.5)
    ap0 = (1 / 1 + 2 / 3) / 2
    ap1 = (1 / 2) / 1
    assert metrics.map_at_k(rec, rel, 3) == pytest.approx((ap0 + ap1) / 2)
    dcg0 = 1 + 1 / math.log2(4)
    idcg0 = 1 + 1 / math.log2(3)
    ndcg1 = (1 / math.log2(3)) / 1
    assert metrics.ndcg_at_k(rec, rel, 3) == pytest.approx((dcg0 / idcg0 + ndcg1) / 2)
    assert set(metrics.ranking_metrics(rec, rel, 2)) == {'precision@2', 'recall@2', 'map@2',
                                                        'ndcg@2'}


def test_padding_and_bad_k(ranked):
    rec, rel = ranked
    padded = np.array([[1, -1, -1], [0, -1, -1], [-1, -1, -1]])
    assert metrics.precision_at_k(padded, rel, 3) == pytest.approx((1 / 3 + 1 / 3) / 2)
    with pytest.raises(ValueError, match='k must lie'):
        metrics.precision_at_k(rec, rel, 4)


def test_relevance_rules():
    user = np.array([0, 0, 0, 0, 1, 1])
    item = np.array([0, 1, 2, 3, 0, 1])
    rating = np.array([1, 2, 3, 4, 5, 3], dtype=float)
    thr = metrics.relevance_matrix(user, item, rating, 2, 4, threshold=3)
    assert thr.toarray().astype(int).tolist() == [[0, 0, 1, 1], [1, 1, 0, 0]]
    top = metrics.relevance_matrix(user, item, rating, 2, 4, top_quantile=0.25)
    assert top.toarray().astype(int).tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]
    with pytest.raises(ValueError, match='exactly one'):
        metrics.relevance_matrix(user, item, rating, 2, 4)
