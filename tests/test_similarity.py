
import numpy as np
import pytest

from gluonrec.similarity import cosine_top_k, similar_items, similar_items_batch, similar_users

FACTORS = np.array([[1.0, 0.0],     # 0
                    [0.9, 0.1],     # 1: nearly 0
                    [0.0, 1.0],     # 2: orthogonal to 0
                    [-1.0, 0.0],    # 3: opposite of 0
                    [0.7, 0.7],     # 4: 45 degrees
                    [0.0, 0.0]])    # 5: zero vector


def test_known_neighbour_order():
    result = similar_items(FACTORS, 0, k=5)
    assert [i for i, _ in result] == [1, 4, 2, 5, 3]
    scores = dict(result)
    assert scores[1] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    assert scores[4] == pytest.approx(np.sqrt(0.5))
    assert scores[5] == 0.0 and scores[3] == pytest.approx(-1)
    assert 0 not in scores


def test_zero_vector_query_gives_no_nan_and_k_larger_than_candidates():
    result = similar_items(FACTORS, 5, k=100)
    assert len(result) == 5 and not np.isnan([s for _, s in result]).any()


def test_batch_matches_single():
    rng = np.random.RandomState(0)
    factors = rng.normal(size=(150, 16))
    batch = similar_items_batch(factors, range(150), k=10)
    single = similar_items(factors, 7, k=10)
    assert [i for i, _ in batch[7]] == [i for i, _ in single]
    np.testing.assert_allclose([s for _, s in batch[7]], [s for _, s in single], rtol=1e-12)


def test_valid_mask_excludes_untrained():
    top, _ = cosine_top_k(FACTORS, [0], 5, valid=np.array([1, 0, 1, 1, 1, 1], dtype=bool))
    assert 1 not in top[0].tolist() and len(top[0]) == 4


class _FakeRec:
    def __init__(self):
        from gluonrec.data.ratings import IdMap
        self.item_map = IdMap(np.array([10, 11, 12, 13, 14, 15]))
        self.user_map = IdMap(np.array([1, 2]))
        self.item_counts = np.array([5, 5, 0, 5, 5, 5])
        self.user_counts = np.array([1, 1])

    def item_factors(self):
        return FACTORS

    def user_factors(self):
        return FACTORS[:2]


def test_recommender_uses_raw_ids_and_rejects_untrained():
    rec = _FakeRec()
    result = similar_items(rec, 10, k=2)
    assert [i for i, _ in result] == [11, 14]
    assert 12 not in [i for i, _ in similar_items(rec, 10, k=10)]
    with pytest.raises(ValueError, match='never rated'):
        similar_items(rec, 12)
    with pytest.raises(KeyError, match='unknown item 99'):
        similar_items(rec, 99)
    assert similar_users(rec, 1, k=1)[0][0] == 2
