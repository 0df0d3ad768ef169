import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gluonrec.data import (Ratings, cold_start_counts, kfold, make_synthetic, random_split,
                           user_holdout_split)


def _ratings(n_users=20, n_items=10, n=120, seed=0):
    return make_synthetic(n_users, n_items, n, rank=2, seed=seed)


def _keys(r):
    return set(zip(r.user.tolist(), r.item.tolist()))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), fraction=st.floats(0.05, 0.95))
def test_random_split_partitions_and_is_seeded(seed, fraction):
    r = _ratings()
    train, test = random_split(r, fraction, seed=seed)
    assert _keys(train) | _keys(test) == _keys(r) and not _keys(train) & _keys(test)
    assert len(test) == round(len(r) * fraction)
    again, _ = random_split(r, fraction, seed=seed)
    np.testing.assert_array_equal(train.user, again.user)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n_splits=st.integers(2, 7))
def test_kfold_test_parts_partition(seed, n_splits):
    r = _ratings()
    seen = []
    for train, test in kfold(r, n_splits, seed=seed):
        assert not _keys(train) & _keys(test)
        assert len(train) + len(test) == len(r)
        seen.extend(_keys(test))
    assert len(seen) == len(r) and set(seen) == _keys(r)


def test_user_holdout_holds_k_per_user_and_keeps_small_users():
    r = Ratings([0, 0, 0, 1, 1, 2], [0, 1, 2, 0, 1, 0], [1, 2, 3, 4, 5, 1],
                [1, 2, 3], [1, 2, 3], (1, 5))
    train, test = user_holdout_split(r, k=1, min_ratings=2, seed=3)
    assert np.bincount(test.user, minlength=3).tolist() == [1, 1, 0]
    assert 2 in train.user.tolist()  # the user with one rating stays whole in train
    assert len(train) + len(test) == len(r)
    with pytest.raises(ValueError, match='min_ratings'):
        user_holdout_split(r, k=2, min_ratings=2)


def test_cold_start_is_counted_and_logged(caplog):
    r = Ratings([0, 0, 1], [0, 1, 1], [1, 2, 3], [7, 8], [1, 2], (1, 5))
    train, test = r.subset([0, 1]), r.subset([2])
    assert cold_start_counts(train, test) == {'users': 1, 'items': 0, 'ratings': 1}
    with caplog.at_level('WARNING'):
        random_split(Ratings([0, 1], [0, 1], [1, 2], [1, 2], [1, 2], (1, 5)), 0.5, seed=0)
    assert 'unseen in training' in caplog.text


def test_bad_fraction():
    with pytest.raises(ValueError, match='between 0 and 1'):
        random_split(_ratings(), 1.5)


def test_new_user_split_holds_out_whole_users():
    from gluonrec.data import make_synthetic, new_user_split
    r = make_synthetic(100, 20, 1500, rank=2, seed=0)
    kept, held = new_user_split(r, 0.2, seed=3)
    kept_ids = set(kept.user_map.to_raw(kept.user).tolist())
    held_ids = set(held.user_map.to_raw(held.user).tolist())
    assert not kept_ids & held_ids and len(held_ids) == 20
    assert len(kept) + len(held) == len(r)
    assert len(kept.user_map) == len(kept_ids) and len(held.user_map) == len(held_ids)
    assert kept.item_map is r.item_map and held.item_map is r.item_map
    mine = r.user_map.to_inner(sorted(held_ids))
    assert len(held) == int(np.isin(r.user, mine).sum())  # all of their ratings
    again, _ = new_user_split(r, 0.2, seed=3)
    assert set(again.user_map.to_list()) == set(kept.user_map.to_list())
    with pytest.raises(ValueError, match='fraction'):
        new_user_split(r, 1.0)
