import json

import numpy as np
import pytest

from gluonrec._compat import mx
from mxnet import autograd, gluon
from gluonrec.models import (BiasedMF, MatrixFactorization, get_model, model_class,
                             model_name_of, model_names, register_model)

NU, NI = 13, 7


def _ratings():
    """Training ratings that touch every user and item (for the models that read them)."""
    from gluonrec.data import Ratings
    rng = np.random.RandomState(1)
    user = np.concatenate([np.arange(NU), rng.randint(0, NU, 40)])
    item = np.concatenate([np.arange(NU) % NI, rng.randint(0, NI, 40)])
    pairs = np.unique(np.column_stack([user, item]), axis=0)
    return Ratings(pairs[:, 0], pairs[:, 1], rng.uniform(1, 5, len(pairs)),
                   np.arange(NU), np.arange(NI), (1, 5))


def _net(name, **kwargs):
    from gluonrec.data import MinMaxScaler
    net = get_model(name, num_users=NU, num_items=NI, num_factors=4, **kwargs)
    net.initialize(ctx=mx.cpu())
    net.attach_ratings(_ratings(), MinMaxScaler.from_scale((1, 5), net.feature_range))
    return net


def _ids(n=11, seed=0):
    rng = np.random.RandomState(seed)
    return (mx.nd.array(rng.randint(0, NU, n), dtype='int32'),
            mx.nd.array(rng.randint(0, NI, n), dtype='int32'))


def test_registry_names_and_errors():
    assert model_names('rating') == ['autorec', 'biased_mf', 'mf', 'mlp', 'nnmf', 'svdpp',
                                     'test_gmf']  # the last one: tests/custom_models.py
    assert model_names('ranking') == ['bpr_mf', 'ease', 'gmf', 'ials', 'neumf']
    assert model_names() == sorted(model_names('rating') + model_names('ranking'))
    with pytest.raises(ValueError, match='task'):
        model_names('ratings')
    with pytest.raises(ValueError, match=r"unknown model 'svd'.*biased_mf"):
        get_model('svd', num_users=1, num_items=1)
    with pytest.raises(ValueError, match='taken'):
        register_model('mf', MatrixFactorization)


@pytest.mark.parametrize('name', model_names())
def test_output_shape_and_hybrid_equals_imperative(name):
    net = _net(name)
    user, item = _ids()
    out = net(user, item)
    assert out.shape == (11,)
    net.hybridize(static_alloc=True)  # a no-op for the models that run imperatively
    np.testing.assert_allclose(net(user, item).asnumpy(), out.asnumpy(), rtol=1e-5, atol=1e-6)
    assert net._active == net.hybridizable


@pytest.mark.parametrize('name', model_names())
def test_factors_config_and_save_load(name, tmp_path):
    net = _net(name)
    user, item = _ids()
    before = net(user, item).asnumpy()
    assert net.item_factors().shape[0] == NI and net.user_factors().shape[0] == NU
    config = json.loads(json.dumps(net.config))  # JSON-serialisable
    assert model_name_of(net) == name
    net.save_parameters(str(tmp_path / 'p.params'))
    clone = get_model(name, **config)
    clone.load_parameters(str(tmp_path / 'p.params'))
    from gluonrec.data import MinMaxScaler
    clone.attach_ratings(_ratings(), MinMaxScaler.from_scale((1, 5), net.feature_range))
    np.testing.assert_allclose(clone(user, item).asnumpy(), before, rtol=1e-6)


@pytest.mark.parametrize('name', model_names())
def test_score_matrix_matches_forward(name):
    net = _net(name)
    full = net.score_matrix(np.arange(NU))
    user = np.repeat(np.arange(NU), NI)
    item = np.tile(np.arange(NI), NU)
    out = net(mx.nd.array(user, dtype='int32'), mx.nd.array(item, dtype='int32')).asnumpy()
    np.testing.assert_allclose(full.ravel(), out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name', model_names())
def test_sparse_and_dense_gradients_give_the_same_sgd_step(name):
    user, item = _ids(5)
    label = mx.nd.array(np.linspace(-1, 1, 5))
    results = []
    for sparse in (False, True):
        mx.random.seed(3)
        net = _net(name, sparse_grad=sparse)
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
        with autograd.record():
            loss = mx.nd.square(net(user, item) - label)
        loss.backward()
        trainer.step(5)
        results.append([net.item_factors(), net.user_factors()])
    for dense, sparse in zip(*results):
        np.testing.assert_allclose(dense, sparse, rtol=1e-5, atol=1e-7)


def test_biased_mf_equation():
    net = _net('biased_mf')
    net.global_bias.set_data(mx.nd.array([0.5]))
    net.user_bias.weight.set_data(mx.nd.arange(NU).reshape((NU, 1)) / 10)
    user, item = _ids()
    mu, bu, bi = net.biases()
    p, q = net.user_factors(), net.item_factors()
    u, i = user.asnumpy().astype(int), item.asnumpy().astype(int)
    expected = mu + bu[u] + bi[i] + (p[u] * q[i]).sum(1)
    np.testing.assert_allclose(net(user, item).asnumpy(), expected, rtol=1e-5)
    assert isinstance(net, MatrixFactorization) and isinstance(net, BiasedMF)


def test_nnmf_constrain_clips_and_predictions_non_negative():
    net = _net('nnmf')
    assert net.feature_range == (0.0, 1.0)
    net.item_embedding.weight.set_data(-mx.nd.ones((NI, 4)))
    net.constrain()
    assert net.item_factors().min() == 0
    assert (net(*_ids()).asnumpy() >= 0).all()
    assert net.user_bias.weight.grad_req == 'null'  # no biases unless asked
    assert _net('nnmf', use_bias=True).user_bias.weight.grad_req == 'write'


def test_mlp_sizes_differ_and_arguments_checked():
    net = get_model('mlp', num_users=NU, num_items=NI, user_factors=5, item_factors=8,
                    hidden=(10, 4), dropout=0.2)
    net.initialize()
    assert net(*_ids()).shape == (11,)
    assert net.user_factors().shape == (NU, 5) and net.item_factors().shape == (NI, 8)
    with pytest.raises(ValueError, match='activation'):
        get_model('mlp', num_users=2, num_items=2, activation='swishy')
    with pytest.raises(ValueError, match='num_factors'):
        get_model('mf', num_users=2, num_items=2, num_factors=0)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_svdpp_equation_and_penalty():
    net = _net('svdpp')
    ratings = _ratings()
    user, item = _ids()
    u, i = user.asnumpy().astype(int), item.asnumpy().astype(int)
    mu = float(net.global_bias.data().asnumpy()[0])
    p, q = net.user_embedding.weight.data().asnumpy(), net.item_embedding.weight.data().asnumpy()
    y = net.implicit.data().asnumpy()
    bu = net.user_bias.weight.data().asnumpy()[:, 0]
    bi = net.item_bias.weight.data().asnumpy()[:, 0]
    want, pen = [], 0.0
    for a, b in zip(u, i):
        rated = ratings.item[ratings.user == a]
        implicit = y[rated].sum(axis=0) / np.sqrt(len(rated))
        want.append(mu + bu[a] + bi[b] + q[b] @ (p[a] + implicit))
        pen += np.sum(y[rated] ** 2) / len(rated)
        pen += p[a] @ p[a] + q[b] @ q[b] + bu[a] ** 2 + bi[b] ** 2
    np.testing.assert_allclose(net(user, item).asnumpy(), want, rtol=1e-5, atol=1e-6)
    got = net.penalty(mx.nd, user, item).asnumpy()
    assert got.shape == (11,) and got.sum() == pytest.approx(pen, rel=1e-5)
    loose = get_model('svdpp', num_users=NU, num_items=NI, num_factors=4)
    loose.initialize()
    with pytest.raises(RuntimeError, match='attach_ratings'):
        loose(user, item)


@pytest.mark.parametrize('dense', [True, False], ids=['dense', 'sparse'])
@pytest.mark.parametrize('user_based', [False, True])
def test_autorec_equation(user_based, dense):
    from gluonrec.data import MinMaxScaler
    net = _net('autorec', user_based=user_based, dense=dense)
    ratings = _ratings()
    scaled = MinMaxScaler.from_scale((1, 5), (0.2, 1.0)).transform(ratings.rating)
    user, item = _ids()
    user = mx.nd.concat(user, mx.nd.array(ratings.user[:5], dtype='int32'), dim=0)
    item = mx.nd.concat(item, mx.nd.array(ratings.item[:5], dtype='int32'), dim=0)
    v, w = net.encoder.data().asnumpy(), net.decoder.data().asnumpy()
    mu = net.encoder_bias.data().asnumpy()
    b, c = net.user_embedding.weight.data().asnumpy()[:, 0], \
        net.item_embedding.weight.data().asnumpy()[:, 0]
    want, pen = [], 0.0
    for a, d in zip(user.asnumpy().astype(int), item.asnumpy().astype(int)):
        if user_based:  # encode user a's ratings (item-indexed), decode item d
            mine = ratings.user == a
            code = _sigmoid(scaled[mine] @ v[ratings.item[mine]] + mu)
            want.append(w[d] @ code + b[a] + c[d])
        else:  # encode item d's ratings (user-indexed), decode user a
            mine = ratings.item == d
            code = _sigmoid(scaled[mine] @ v[ratings.user[mine]] + mu)
            want.append(w[a] @ code + b[a] + c[d])
        # a rating's penalty: the decoded side's decoder and encoder rows, both biases
        row = d if user_based else a
        pen += w[row] @ w[row] + v[row] @ v[row] + b[a] ** 2 + c[d] ** 2
    np.testing.assert_allclose(net(user, item).asnumpy(), want, rtol=1e-5, atol=1e-6)
    got = net.penalty(mx.nd, user, item).asnumpy()
    assert got.shape == (16,) and got.sum() == pytest.approx(pen, rel=1e-5)
    factors = net.item_factors() if not user_based else net.user_factors()
    assert factors.shape == ((NI if not user_based else NU), 4)
    assert ((factors > 0) & (factors < 1)).all()  # codes: sigmoid outputs


@pytest.mark.parametrize('name', model_names())
def test_seeded_training_is_reproducible(name):
    from gluonrec.data import make_synthetic
    from gluonrec.recipe import train_model
    r = make_synthetic(40, 15, 500, rank=2, seed=0)
    engine = None if model_class(name).closed_form else 'generic'
    runs = [train_model(r, model=name, num_factors=3, epochs=2, batch_size=64,
                        optimizer='adam', lr=0.01, reg=0.01, patience=0, ctx='cpu', seed=7,
                        engine=engine, val_fraction=0.2) for _ in range(2)]
    a, b = (run.net.score_matrix(np.arange(r.num_users)) for run in runs)
    np.testing.assert_array_equal(a, b)
    other = train_model(r, model=name, num_factors=3, epochs=2, batch_size=64,
                        optimizer='adam', lr=0.01, reg=0.01, patience=0, ctx='cpu', seed=8,
                        engine=engine, val_fraction=0.2)
    # (EASE has no random start: another seed changes its validation split.)
    assert not np.array_equal(a, other.net.score_matrix(np.arange(r.num_users)))


def _whole_rows(user_based, rows):
    """Every training rating of the given rows (users for U-AutoRec), as a RowIter
    batch holds them."""
    ratings = _ratings()
    keep = np.isin(ratings.user if user_based else ratings.item, rows)
    return (mx.nd.array(ratings.user[keep], dtype='int32'),
            mx.nd.array(ratings.item[keep], dtype='int32'))


@pytest.mark.parametrize('batch', ['whole rows', 'any ratings', 'over the dense limit'])
@pytest.mark.parametrize('user_based', [False, True])
def test_autorec_dense_and_sparse_paths_compute_the_same(user_based, batch, monkeypatch):
    """The same scores, penalty and gradients (row_sparse on the same rows), so the
    same updates: for whole-row batches (the penalty reads the gathered rows), for any
    ratings (it gathers its own), and past DENSE_LIMIT (the sparse path is taken)."""
    import gluonrec.models.autorec as autorec
    if batch == 'over the dense limit':
        monkeypatch.setattr(autorec, 'DENSE_LIMIT', 4)
    user, item = _whole_rows(user_based, [0, 2, 3]) if batch == 'whole rows' else _ids(15)
    nets = [_net('autorec', user_based=user_based, dense=dense, sparse_grad=True)
            for dense in (True, False)]
    rng = np.random.RandomState(3)
    for params in zip(*(n.collect_params().values() for n in nets)):
        value = mx.nd.array(rng.normal(0, 0.3, params[0].shape))
        for p in params:
            p.set_data(value)
    got = []
    for net in nets:
        with autograd.record():
            score = net(user, item)
            loss = (score ** 2).sum() + net.penalty(mx.nd, user, item).sum()
        loss.backward()
        got.append((score.asnumpy(), loss.asscalar(),
                    {k.split('_', 1)[1]: p.grad() for k, p in net.collect_params().items()}))
    (dense_score, dense_loss, dense_grad), (score, loss, grad) = got
    np.testing.assert_allclose(dense_score, score, rtol=1e-5, atol=1e-6)
    assert dense_loss == pytest.approx(loss, rel=1e-5)
    for key, g in grad.items():
        assert dense_grad[key].stype == g.stype, key
        if g.stype == 'row_sparse':  # the optimizer updates the same rows
            np.testing.assert_array_equal(np.sort(dense_grad[key].indices.asnumpy()),
                                          np.sort(g.indices.asnumpy()))
        np.testing.assert_allclose(dense_grad[key].tostype('default').asnumpy(),
                                   g.tostype('default').asnumpy(), rtol=1e-4, atol=1e-6)


def test_autorec_dense_and_sparse_training_follow_the_same_path():
    from gluonrec.data import make_synthetic
    from gluonrec.recipe import train_model
    r = make_synthetic(60, 20, 700, rank=2, scale=(1, 5), seed=0)
    runs = [train_model(r, model='autorec', num_factors=8, epochs=3, batch_size=8,
                        patience=0, ctx='cpu', seed=0, refit=False,
                        model_kwargs={'dense': dense, 'dropout': 0.5}) for dense in (True, False)]
    scores = [[e['val_rmse'] for e in run.history] for run in runs]
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-5)
    assert runs[0].net.dense and not runs[1].net.dense


def test_autorec_dropout_acts_in_training_only():
    net = _net('autorec', dropout=0.5)
    user, item = _ids()
    plain = net(user, item).asnumpy()
    np.testing.assert_array_equal(net(user, item).asnumpy(), plain)  # inference: no dropout
    with autograd.record(train_mode=True):
        dropped = net(user, item).asnumpy()
    assert not np.allclose(dropped, plain)
    with pytest.raises(ValueError, match='dropout must lie in'):
        get_model('autorec', num_users=2, num_items=2, dropout=1.0)


@pytest.mark.parametrize('name', ['mf', 'biased_mf', 'nnmf', 'mlp', 'svdpp', 'autorec'])
def test_tables_keep_their_kind_when_there_are_as_many_users_as_items(name):
    """The bias tables' kinds used to be guessed from their row counts: with as many
    users as items the item biases became a user table (fold-in would extend them)."""
    net = get_model(name, num_users=6, num_items=6, num_factors=2)
    kinds = {id(block): kind for block, kind in net.embedding_tables()}
    assert kinds[id(net.user_embedding)] == 'user' and kinds[id(net.item_embedding)] == 'item'
    if hasattr(net, 'item_bias'):
        assert all(block is not net.item_bias for block in net.user_tables())
        assert net.user_bias in net.user_tables()
