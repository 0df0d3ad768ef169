import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gluonrec._compat import mx
from gluonrec.data import MinMaxScaler, RatingIter, RowIter, make_synthetic


def _arrays(n, users=50, items=20, seed=0):
    rng = np.random.RandomState(seed)
    return (rng.randint(0, users, n), rng.randint(0, items, n),
            rng.uniform(-1, 1, n).astype(np.float32))


def _epoch(it):
    pos = []
    for batch in it:
        keep = batch.data[0].shape[0] - batch.pad
        pos.append(batch.label[0][:keep].asnumpy())
    return np.concatenate(pos)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), batch=st.integers(1, 64), seed=st.integers(0, 1000))
def test_each_rating_once_per_epoch_with_pad(n, batch, seed):
    user, item, rating = _arrays(n)
    rating = np.arange(n, dtype=np.float32)  # the label identifies the example
    it = RatingIter(user, item, rating, batch_size=batch, seed=seed)
    for _ in range(2):
        labels = _epoch(it)
        assert sorted(labels.tolist()) == list(range(n))
        it.reset()


def test_same_seed_same_order_new_epoch_new_order():
    user, item, _ = _arrays(500)
    rating = np.arange(500, dtype=np.float32)
    a = RatingIter(user, item, rating, batch_size=64, seed=7)
    b = RatingIter(user, item, rating, batch_size=64, seed=7)
    first = _epoch(a)
    np.testing.assert_array_equal(first, _epoch(b))
    a.reset()
    assert not np.array_equal(first, _epoch(a))
    b.set_epoch(1)
    a.set_epoch(1)
    np.testing.assert_array_equal(_epoch(a), _epoch(b))


def test_regression_blog_shuffle_duplicated_rows():
    """The blog's reset() ran random.shuffle on a 2-D numpy array, which swaps row views
    and duplicates rows: after 10 epochs a few hundred distinct rows remained of 80,000.
    RatingIter must keep every row, with its own user/item/rating together."""
    data = np.stack([np.arange(1000), np.arange(1000) % 37, np.arange(1000)], axis=1)
    broken = data.copy().astype(float)
    random.Random(0).shuffle(broken)
    assert len(np.unique(broken, axis=0)) < 1000  # the bug, shown on numpy itself
    it = RatingIter(data[:, 0], data[:, 1], data[:, 2].astype(np.float32), batch_size=100,
                    seed=0)
    for _ in range(10):
        rows = []
        for batch in it:
            rows.append(np.stack([batch.data[0].asnumpy(), batch.data[1].asnumpy(),
                                  batch.label[0].asnumpy()], axis=1))
        rows = np.concatenate(rows)
        assert len(np.unique(rows, axis=0)) == 1000
        assert (rows[:, 1] == rows[:, 0] % 37).all() and (rows[:, 2] == rows[:, 0]).all()
        it.reset()


def test_last_batch_modes():
    user, item, rating = _arrays(10)
    pad = list(RatingIter(user, item, rating, batch_size=4, last_batch_handle='pad'))
    assert [b.data[0].shape[0] for b in pad] == [4, 4, 4] and [b.pad for b in pad] == [0, 0, 2]
    discard = list(RatingIter(user, item, rating, batch_size=4, last_batch_handle='discard'))
    assert [b.pad for b in discard] == [0, 0] and len(discard) == 2
    labels = np.arange(10, dtype=np.float32)
    roll = RatingIter(user, item, labels, batch_size=4, last_batch_handle='roll_over', seed=1)
    first = _epoch(roll)
    assert len(first) == 8
    left = set(range(10)) - set(first.tolist())
    roll.reset()
    second = _epoch(roll)
    assert left <= set(second[:2].tolist()) and len(second) == 12


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 200), parts=st.integers(1, 5))
def test_shards_partition_the_data(n, parts):
    user, item, _ = _arrays(n)
    rating = np.arange(n, dtype=np.float32)
    seen = []
    for index in range(min(parts, n)):
        it = RatingIter(user, item, rating, batch_size=8, num_parts=min(parts, n),
                        part_index=index)
        seen.extend(_epoch(it).tolist())
    assert sorted(seen) == list(range(n))


def test_provide_data_and_module_api():
    r = make_synthetic(30, 10, 200, seed=0)
    it = RatingIter.from_ratings(r, MinMaxScaler.from_scale(r.scale), batch_size=32)
    assert [d.name for d in it.provide_data] == ['user', 'item']
    assert it.provide_label[0].name == 'rating' and it.provide_data[0].shape == (32,)
    user, item, label = mx.sym.var('user'), mx.sym.var('item'), mx.sym.var('rating')
    pred = mx.sym.sum(mx.sym.Embedding(user, input_dim=30, output_dim=4, name='u') *
                      mx.sym.Embedding(item, input_dim=10, output_dim=4, name='i'), axis=1)
    out = mx.sym.LinearRegressionOutput(pred, label)
    module = mx.mod.Module(out, data_names=['user', 'item'], label_names=['rating'])
    module.fit(it, num_epoch=2, optimizer='adam', eval_metric='rmse')
    score = dict(module.score(it, 'rmse'))
    assert np.isfinite(score['rmse'])


@pytest.mark.parametrize('kwargs, message', [
    (dict(user=[0, 1], item=[0], rating=[1.0]), 'lengths differ'),
    (dict(batch_size=0), 'batch_size'),
    (dict(user=[0, 60]), r'user ids must lie in \[0, 50\)'),
    (dict(item=[-1, 0]), 'item ids'),
    (dict(rating=[np.nan, 1.0]), 'NaN'),
    (dict(last_batch_handle='keep'), 'last_batch_handle'),
    (dict(num_parts=2, part_index=2), 'part_index'),
])
def test_bad_arguments(kwargs, message):
    args = dict(user=[0, 1], item=[0, 1], rating=[1.0, 2.0], batch_size=2, num_users=50,
                num_items=20)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        RatingIter(**args)


@pytest.mark.parametrize('mode', ['pad', 'discard', 'roll_over'])
def test_prefetching_the_next_epoch_changes_no_order(mode):
    """The background shuffle yields exactly the batches of the synchronous one, across
    epochs, after a jump with set_epoch, and for a fresh iterator asked for epoch 0."""
    rs = np.random.RandomState(3)
    user, item, rating = rs.randint(0, 50, 1001), rs.randint(0, 20, 1001), rs.rand(1001)

    def epochs(prefetch):
        it = RatingIter(user, item, rating, batch_size=64, seed=5, last_batch_handle=mode,
                        prefetch=prefetch)
        it.set_epoch(0)
        seen = []
        for e in range(4):
            if e == 2:
                it.set_epoch(7)
            elif e:
                it.reset()
            seen.append([(b.data[0].asnumpy().tolist(), b.label[0].asnumpy().tolist(), b.pad)
                         for b in it])
        return seen

    with_prefetch, without = epochs(True), epochs(False)
    assert with_prefetch == without
    assert with_prefetch[0] != with_prefetch[1]  # it does shuffle


def test_arrays_are_the_shard_in_input_order_and_read_only():
    user, item, rating = np.arange(10), np.arange(10) % 3, np.linspace(0, 1, 10)
    it = RatingIter(user, item, rating, batch_size=4, num_parts=2, part_index=1)
    u, i, r = it.arrays()
    np.testing.assert_array_equal(u, user[5:])
    np.testing.assert_array_equal(i, item[5:])
    np.testing.assert_allclose(r, rating[5:], rtol=1e-6)
    with pytest.raises(ValueError):
        u[0] = 99


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), rows=st.integers(1, 30), seed=st.integers(0, 1000),
       side=st.sampled_from(['item', 'user']))
def test_row_batches_hold_whole_rows_each_rating_once(n, rows, seed, side):
    user, item, _ = _arrays(n, seed=seed)
    rating = np.arange(n, dtype=np.float32)  # the label identifies the example
    it = RowIter(user, item, rating, batch_size=rows, rows=side, seed=seed)
    key = item if side == 'item' else user
    present = len(np.unique(key))
    assert it.num_rows == present and len(it) == -(-present // rows)
    orders = []
    for _ in range(2):
        labels = []
        for batch in it:
            assert batch.pad == 0
            got = batch.label[0].asnumpy().astype(int)
            ids = key[got]
            np.testing.assert_array_equal(batch.data[0].asnumpy(), user[got])
            np.testing.assert_array_equal(batch.data[1].asnumpy(), item[got])
            # whole rows: every rating of each row in the batch, at most `rows` rows
            assert len(np.unique(ids)) <= rows
            assert sorted(got.tolist()) == sorted(np.flatnonzero(np.isin(key, ids)).tolist())
            labels.extend(got.tolist())
        assert sorted(labels) == list(range(n))
        orders.append(labels)
        it.reset()
    if present > 3:
        assert orders[0] != orders[1]  # a new order of rows each epoch


def test_row_iter_reproducible_and_refuses_what_it_cannot_do():
    user, item, rating = _arrays(400)
    a, b = (RowIter(user, item, rating, batch_size=5, seed=3) for _ in range(2))
    a.set_epoch(4)
    for _ in range(4):
        b.reset()
    assert [x.label[0].asnumpy().tolist() for x in a] == \
        [x.label[0].asnumpy().tolist() for x in b]
    assert a.provide_data[0].shape == (round(400 * 5 / a.num_rows),)
    with pytest.raises(ValueError, match="rows must be 'item' or 'user'"):
        RowIter(user, item, rating, rows='rating')
    with pytest.raises(TypeError, match='num_parts'):
        RowIter(user, item, rating, num_parts=2, part_index=0)
    with pytest.raises(ValueError, match='item ids must lie'):
        RowIter(user, item, rating, num_items=3)
