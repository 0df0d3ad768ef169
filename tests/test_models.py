import json

import numpy as np
import pytest

from gluonrec._compat import mx
from mxnet import autograd, gluon
from gluonrec.models import (BiasedMF, MatrixFactorization, get_model, model_name_of,
                             model_names, register_model)

NU, NI = 13, 7


def _net(name, **kwargs):
    net = get_model(name, num_users=NU, num_items=NI, num_factors=4, **kwargs)
    net.initialize(ctx=mx.cpu())
    return net


def _ids(n=11, seed=0):
    rng = np.random.RandomState(seed)
    return (mx.nd.array(rng.randint(0, NU, n), dtype='int32'),
            mx.nd.array(rng.randint(0, NI, n), dtype='int32'))


def test_registry_names_and_errors():
    assert model_names() == ['biased_mf', 'mf', 'mlp', 'nnmf']
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
    net.hybridize(static_alloc=True)
    np.testing.assert_allclose(net(user, item).asnumpy(), out.asnumpy(), rtol=1e-5, atol=1e-6)


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
