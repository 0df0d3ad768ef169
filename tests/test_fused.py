"""The fused engine: the C++ operator against a float64 numpy loop, the engine inside fit,
the choice between engines and their fallbacks, and the build cache."""
import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, InterruptAt
from gluonrec import get_model, train_model
from gluonrec._compat import mx
from gluonrec.data import RatingIter, make_synthetic, random_split
from gluonrec.train import fit
from gluonrec.train import native
from gluonrec.train.engine import FusedEngine, GenericEngine, engine_choice, make_engine
from gluonrec.train.fused import why_not

try:
    native.load()
    NO_BUILD = None
except native.BuildError as exc:  # no compiler here: the fallback tests still run
    NO_BUILD = str(exc)
needs_build = pytest.mark.skipif(NO_BUILD is not None, reason=f'no fused engine: {NO_BUILD}')


def _blocks(user, item, threads):
    """The operator's schedule: rating positions in the order their updates happen,
    round by round, thread by thread (threads of one round touch disjoint rows)."""
    block = (user // 16 % threads) * threads + item // 16 % threads
    rounds = []
    for r in range(threads):
        rounds.append([np.flatnonzero(block == t * threads + (t + r) % threads)
                       for t in range(threads)])
    return rounds


def _step(w, h, g, adagrad, lr, eps):
    """One SGD or Adagrad (MXNet's dense form) update of ``w`` in place."""
    if adagrad:
        h += g * g
        w -= lr * g / np.sqrt(h + eps)
    else:
        w -= lr * g


def reference(user, item, label, tables, hist, *, biased, nonneg, adagrad, lr, reg,
              eps=1e-7, threads=1):
    """The updates of ``fused_mf.cc`` in float64 numpy; tables/hist are changed in place.
    The global bias is trained on a copy per thread and the changes summed per round."""
    P, Q, bu, bi, mu = tables
    hP, hQ, hbu, hbi, hmu = hist

    def step(w, h, g):
        _step(w, h, g, adagrad, lr, eps)

    loss = 0.0
    for blocks in _blocks(user, item, threads):
        mu0, hmu0 = mu.copy(), hmu.copy()
        changes = []
        for positions in blocks:
            m, hm = mu0.copy(), hmu0.copy()
            for n in positions:
                u, i = user[n], item[n]
                p, q = P[u], Q[i]
                pred = p @ q + (m[0] + bu[u, 0] + bi[i, 0] if biased else 0.0)
                e = pred - label[n]
                loss += e * e
                gp, gq = 2 * (e * q + reg * p), 2 * (e * p + reg * q)
                step(P[u], hP[u], gp)
                step(Q[i], hQ[i], gq)
                if nonneg:
                    np.maximum(P[u], 0, out=P[u])
                    np.maximum(Q[i], 0, out=Q[i])
                if biased:
                    gbu, gbi = 2 * (e + reg * bu[u]), 2 * (e + reg * bi[i])
                    step(bu[u], hbu[u], gbu)
                    step(bi[i], hbi[i], gbi)
                    step(m, hm, np.array([2 * e]))
            changes.append((m - mu0, hm - hmu0))
        mu[:] = mu0 + sum(c[0] for c in changes)
        hmu[:] = hmu0 + sum(c[1] for c in changes)
    return loss


def _problem(seed, users=40, items=37, k=4, n=600, nonneg=False):
    rs = np.random.RandomState(seed)
    user = rs.randint(0, users, n).astype(np.int32)
    item = rs.randint(0, items, n).astype(np.int32)
    label = rs.uniform(-1, 1, n).astype(np.float32)
    low = 0.0 if nonneg else -0.3
    tables = [rs.uniform(low, 0.3, (users, k)), rs.uniform(low, 0.3, (items, k)),
              rs.uniform(-0.1, 0.1, (users, 1)), rs.uniform(-0.1, 0.1, (items, 1)),
              np.array([0.05])]
    hist = [rs.uniform(0, 0.5, t.shape) for t in tables]
    return user, item, label, tables, hist


@needs_build
@pytest.mark.parametrize('threads', [1, 2, 3])
@pytest.mark.parametrize('k', [1, 4, 16])
@pytest.mark.parametrize('kind', ['mf', 'biased', 'nonneg', 'nonneg_biased'])
@pytest.mark.parametrize('adagrad', [0, 1])
def test_operator_equals_numpy_reference(threads, k, kind, adagrad):
    biased, nonneg = 'biased' in kind, kind.startswith('nonneg')
    user, item, label, tables, hist = _problem(k * 7 + threads, k=k, nonneg=nonneg)
    settings = dict(biased=int(biased), nonneg=int(nonneg), adagrad=adagrad,
                    lr=0.05 if adagrad else 0.02, reg=0.03)
    arrays = [mx.nd.array(a, dtype=np.float32) for a in tables + hist]
    out = mx.nd.gluonrec_mf_update(mx.nd.array(user, dtype=np.int32),
                                   mx.nd.array(item, dtype=np.int32), mx.nd.array(label),
                                   *arrays, eps=1e-7, threads=threads, **settings)
    expected_loss = reference(user, item, label.astype(np.float64), tables, hist,
                              threads=threads, **settings)
    assert out.asscalar() == pytest.approx(expected_loss, rel=1e-4)
    for got, want in zip(arrays, tables + hist):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=2e-4, atol=2e-5)
    moved = np.abs(arrays[0].asnumpy() - _problem(k * 7 + threads, k=k,
                                                  nonneg=nonneg)[3][0]).max()
    assert moved > 1e-3  # the op really trained the table it was given


@needs_build
def test_operator_refuses_ids_outside_the_tables():
    user, item, label, tables, hist = _problem(0)
    user[5] = 40  # one past the last row
    arrays = [mx.nd.array(a, dtype=np.float32) for a in tables + hist]
    with pytest.raises(mx.base.MXNetError, match='user 40'):
        mx.nd.gluonrec_mf_update(mx.nd.array(user, dtype=np.int32),
                                 mx.nd.array(item, dtype=np.int32), mx.nd.array(label),
                                 *arrays, biased=1, nonneg=0, adagrad=1, lr=0.1, reg=0.0,
                                 eps=1e-7, threads=1).wait_to_read()


def bpr_reference(user, item, negative, weight, tables, hist, *, adagrad, lr, reg,
                  eps=1e-7, threads=1, round=None):
    """The updates of ``gluonrec_bpr_update`` in float64 numpy, in place: every part of a
    positive's gradient from the values before its update, then p_u, q_i, b_i and each
    negative's q_j, b_j in order. With threads: each thread's users (blocks of 16 ids) in
    rounds of ``round`` positives, every thread from the round's item tables (thread 0
    in place, the others on copies whose changes are added after the round)."""
    P, Q, bi = tables
    hP, hQ, hbi = hist

    def step(w, h, g):
        _step(w, h, g, adagrad, lr, eps)

    m = negative.shape[1]

    def train(positions, Q, bi, hQ, hbi):
        loss = 0.0
        for r in positions:
            u, i, js, w = user[r], item[r], negative[r], weight[r]
            p, q = P[u].copy(), Q[i].copy()
            x_ui = p @ q + bi[i, 0]
            d = np.array([p @ Q[j] + bi[j, 0] - x_ui for j in js])
            loss += w * np.mean(np.logaddexp(0, d))
            coef = w / m / (1 + np.exp(-d))  # d objective / d x_uj
            coef_i = -coef.sum()
            gp = coef_i * q + sum(c * Q[j] for c, j in zip(coef, js)) + 2 * reg * p
            gq = coef_i * p + 2 * reg * q
            gneg = [(c * p + 2 * reg / m * Q[j], c + 2 * reg / m * bi[j])
                    for c, j in zip(coef, js)]
            gbi = coef_i + 2 * reg * bi[i]
            step(P[u], hP[u], gp)
            step(Q[i], hQ[i], gq)
            step(bi[i], hbi[i], gbi)
            for j, (gqj, gbj) in zip(js, gneg):
                step(Q[j], hQ[j], gqj)
                step(bi[j], hbi[j], gbj)
        return loss

    groups = [np.flatnonzero(user // 16 % threads == t) for t in range(threads)]
    if threads == 1:
        return train(groups[0], Q, bi, hQ, hbi)
    size = round or max(8192, 16 * Q.shape[0])
    loss = 0.0
    for start in range(0, max(len(g) for g in groups), size):
        before = [a.copy() for a in (Q, bi, hQ, hbi)]
        copies = [[a.copy() for a in before] for _ in range(threads - 1)]
        loss += train(groups[0][start:start + size], Q, bi, hQ, hbi)
        for t in range(1, threads):
            loss += train(groups[t][start:start + size], *copies[t - 1])
        for shared, was, *mine in zip((Q, bi, hQ, hbi), before, *copies):
            shared += sum(c - was for c in mine)
    return loss


def _bpr_problem(seed, users=30, items=25, k=4, n=300, m=2):
    rs = np.random.RandomState(seed)
    user = rs.randint(0, users, n).astype(np.int32)
    item = rs.randint(0, items, n).astype(np.int32)
    negative = rs.randint(0, items, (n, m)).astype(np.int32)
    weight = rs.uniform(0.5, 2, n).astype(np.float32)
    tables = [rs.uniform(-0.3, 0.3, (users, k)), rs.uniform(-0.3, 0.3, (items, k)),
              rs.uniform(-0.1, 0.1, (items, 1))]
    hist = [rs.uniform(0, 0.5, t.shape) for t in tables]
    return user, item, negative, weight, tables, hist


@needs_build
@pytest.mark.parametrize('threads, round', [(1, None), (2, None), (2, 37), (3, 20)])
@pytest.mark.parametrize('k', [1, 4, 16])
@pytest.mark.parametrize('m', [1, 3])
@pytest.mark.parametrize('adagrad', [0, 1])
def test_bpr_operator_equals_numpy_reference(threads, round, k, m, adagrad):
    user, item, negative, weight, tables, hist = _bpr_problem(k + m, users=70, k=k, m=m)
    settings = dict(adagrad=adagrad, lr=0.1 if adagrad else 0.05, reg=0.02)
    start = tables[0].copy()
    arrays = [mx.nd.array(a, dtype=np.float32) for a in tables + hist]
    extra = {'round': round} if round else {}
    out = mx.nd.gluonrec_bpr_update(mx.nd.array(user, dtype=np.int32),
                                    mx.nd.array(item, dtype=np.int32),
                                    mx.nd.array(negative, dtype=np.int32),
                                    mx.nd.array(weight), *arrays, eps=1e-7, threads=threads,
                                    **extra, **settings)
    want = bpr_reference(user, item, negative, weight.astype(np.float64), tables, hist,
                         threads=threads, round=round, **settings)
    assert out.asscalar() == pytest.approx(want, rel=1e-4)
    for got, expected in zip(arrays, tables + hist):
        np.testing.assert_allclose(got.asnumpy(), expected, rtol=2e-4, atol=2e-5)
    assert np.abs(arrays[0].asnumpy() - start).max() > 1e-3  # it trained


@needs_build
def test_bpr_operator_is_deterministic_with_threads():
    user, item, negative, weight, tables, hist = _bpr_problem(5, users=200, k=8, n=3000)
    runs = []
    for _ in range(3):
        arrays = [mx.nd.array(a, dtype=np.float32) for a in tables + hist]
        mx.nd.gluonrec_bpr_update(mx.nd.array(user, dtype=np.int32),
                                  mx.nd.array(item, dtype=np.int32),
                                  mx.nd.array(negative, dtype=np.int32), mx.nd.array(weight),
                                  *arrays, adagrad=1, lr=0.1, reg=0.01, eps=1e-7, threads=2,
                                  round=100).wait_to_read()
        runs.append([a.asnumpy() for a in arrays])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


@needs_build
def test_bpr_operator_refuses_ids_outside_the_tables():
    user, item, negative, weight, tables, hist = _bpr_problem(0)
    negative[7, 1] = 25  # one past the last item
    arrays = [mx.nd.array(a, dtype=np.float32) for a in tables + hist]
    with pytest.raises(mx.base.MXNetError, match='positive 7 has a user or item outside'):
        mx.nd.gluonrec_bpr_update(mx.nd.array(user, dtype=np.int32),
                                  mx.nd.array(item, dtype=np.int32),
                                  mx.nd.array(negative, dtype=np.int32), mx.nd.array(weight),
                                  *arrays, adagrad=1, lr=0.1, reg=0.0, eps=1e-7,
                                  threads=1).wait_to_read()


def _planted(seed=0):
    ratings = make_synthetic(300, 60, 12000, scale=(1, 5), seed=seed, name='planted')
    return random_split(ratings, 0.2, seed=seed)


def _fit(engine, model='biased_mf', seed=0, epochs=8, **kwargs):
    train, val = _planted()
    net = get_model(model, num_users=train.num_users, num_items=train.num_items,
                    num_factors=8)
    it = RatingIter.from_ratings(train, batch_size=4096, seed=seed)
    kwargs.setdefault('learning_rate', 0.05)
    history = fit(net, it, val, epochs=epochs, optimizer='adagrad', ctx='cpu', seed=seed,
                  log_interval=None, engine=engine, **kwargs)
    return net, history


@needs_build
@pytest.mark.parametrize('model', ['mf', 'biased_mf', 'nnmf'])
def test_fused_and_generic_reach_the_same_rmse_on_a_planted_problem(model):
    train, val = _planted()
    rmse = {}
    for engine, lr in (('fused', 0.1), ('generic', 0.1)):
        result = train_model(train, val, model=model, num_factors=8, epochs=60,
                             patience=3, lr=lr, reg=0.02, optimizer='adagrad', engine=engine,
                             seed=0, ctx='cpu')
        assert result.settings['engine'] == engine
        rmse[engine] = result.summary()['val_rmse']
    baseline = result.summary()['baseline_rmse']
    assert rmse['fused'] < 0.9 * baseline
    assert rmse['fused'] == pytest.approx(rmse['generic'], rel=0.03)


@needs_build
def test_fused_fit_is_seeded_and_hybridized_nets_see_the_updates():
    net_a, hist_a = _fit('fused', hybridize=True)
    net_b, hist_b = _fit('fused', hybridize=True)
    for (_, a), (_, b) in zip(net_a.collect_params().items(), net_b.collect_params().items()):
        np.testing.assert_array_equal(a.data().asnumpy(), b.data().asnumpy())
    assert [r['val_rmse'] for r in hist_a] == [r['val_rmse'] for r in hist_b]
    assert hist_a[-1]['val_rmse'] < hist_a[0]['val_rmse']  # validation ran the trained net


@needs_build
def test_nnmf_factors_stay_non_negative():
    net, _ = _fit('fused', model='nnmf')
    assert net.user_factors().min() >= 0 and net.item_factors().min() >= 0
    assert net.user_factors().max() > 0


@needs_build
def test_each_rating_is_trained_once_per_epoch_despite_padding():
    """The iterator pads its last batch; the engine trains the real ratings only."""
    train, _ = _planted()
    it = RatingIter.from_ratings(train, batch_size=4096, seed=0)  # pads the last batch
    net = get_model('mf', num_users=train.num_users, num_items=train.num_items)
    net.initialize(ctx=mx.cpu())
    engine = FusedEngine(net, [mx.cpu()], 'sgd', {'learning_rate': 0.0}, 0.0, 'l2',
                         'device', it, False)
    seen = sum(engine.step(batch)[1] for batch in it)
    assert seen == len(train) and len(it) * 4096 > len(train)


@needs_build
def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path):
    full_net, full = _fit('fused', epochs=6)

    class StopAfter:
        def __call__(self, record):
            return record['epoch'] == 3

    _fit('fused', epochs=6, checkpoint_dir=str(tmp_path), callbacks=[StopAfter()])
    state = json.loads((tmp_path / 'checkpoint.json').read_text())
    assert state['optimizer']['engine'] == 'fused' and state['epoch'] == 3
    net, resumed = _fit('fused', epochs=6, checkpoint_dir=str(tmp_path), resume=True)
    assert [r['val_rmse'] for r in resumed] == pytest.approx([r['val_rmse'] for r in full],
                                                            rel=1e-6)
    np.testing.assert_allclose(net.user_factors(), full_net.user_factors(), rtol=1e-6)
    with pytest.raises(ValueError, match="trained with engine 'fused', this run has 'generic'"):
        _fit('generic', epochs=6, checkpoint_dir=str(tmp_path), resume=True)


@needs_build
def test_divergence_is_caught():
    with pytest.raises(FloatingPointError, match='lower the learning rate'):
        _fit('fused', epochs=3, learning_rate=1e30)


def test_engine_choice_and_environment(monkeypatch):
    monkeypatch.delenv('GLUONREC_ENGINE', raising=False)
    assert engine_choice(None) == 'generic' and engine_choice(None, 'auto') == 'auto'
    monkeypatch.setenv('GLUONREC_ENGINE', 'fused')
    assert engine_choice(None) == 'fused' and engine_choice('generic') == 'generic'
    monkeypatch.setenv('GLUONREC_ENGINE', 'fast')
    with pytest.raises(ValueError, match="GLUONREC_ENGINE must be one of .*'fast'"):
        engine_choice(None)
    with pytest.raises(ValueError, match="engine must be one of .*'turbo'"):
        engine_choice('turbo')


@pytest.mark.parametrize('setup, reason', [
    (dict(model='mlp'), 'MLPRecommender is not one of'),
    (dict(optimizer='adam'), "optimizer 'adam'"),
    (dict(ctxs=[mx.gpu(0)]), 'runs on CPU'),
    (dict(row_sparse_weights=True), 'row_sparse'),
    (dict(loss='l1'), "loss 'l1'"),
    (dict(optimizer_params={'momentum': 0.9}), 'momentum=0.9'),
])
def test_why_not_names_the_reason(setup, reason):
    from gluonrec.models import model_class
    setup = dict(setup)
    cls = model_class(setup.pop('model', 'biased_mf'))
    assert reason in why_not(cls, build=False, **setup)
    assert why_not(model_class('nnmf'), [mx.cpu()], 'sgd', {'wd': 0.0}, build=False) is None


def _net_and_iter():
    train, _ = _planted()
    net = get_model('biased_mf', num_users=train.num_users, num_items=train.num_items)
    net.initialize(ctx=mx.cpu())
    return net, RatingIter.from_ratings(train, batch_size=4096)


def _kwargs(net, it, **over):
    kwargs = dict(net=net, ctxs=[mx.cpu()], optimizer='adagrad',
                  optimizer_params={'learning_rate': 0.1}, reg=0.0, loss='l2',
                  kvstore='device', train_iter=it, hybridize=False)
    kwargs.update(over)
    return kwargs


def test_auto_falls_back_with_the_reason_and_fused_refuses(caplog):
    net, it = _net_and_iter()
    with caplog.at_level(logging.INFO, logger='gluonrec.train.engine'):
        engine = make_engine('auto', **_kwargs(net, it, optimizer='adam'))
    assert isinstance(engine, GenericEngine)
    assert "optimizer 'adam'" in caplog.text
    with pytest.raises(ValueError, match="engine='fused' cannot train here: optimizer 'adam'"):
        make_engine('fused', **_kwargs(net, it, optimizer='adam'))


def test_a_gpu_context_falls_back_before_anything_touches_the_gpu(caplog):
    net, it = _net_and_iter()
    with caplog.at_level(logging.INFO):
        with pytest.raises(ValueError, match='runs on CPU'):
            make_engine('fused', **_kwargs(net, it, ctxs=[mx.gpu(0)]))


def _train_in_a_fresh_process(env, epochs=2):
    """train_model on synthetic data in a new process (this one may have the library
    loaded already) with ``env``; prints "ENGINE <the engine used> <val RMSE>"."""
    code = ('import logging; logging.basicConfig(level=logging.INFO)\n'
            'import gluonrec as gr\n'
            'r = gr.load_dataset("synthetic")\n'
            f'res = gr.train_model(r, model="biased_mf", epochs={epochs}, ctx="cpu")\n'
            'print("ENGINE", res.settings["engine"], res.summary()["val_rmse"])\n')
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=dict(os.environ, **env), cwd=REPO, timeout=300)


def test_no_compiler_falls_back_and_trains(tmp_path):
    """Simulated: no g++ on PATH and an empty cache."""
    env = dict(CXX='no-such-compiler-here', GLUONREC_CACHE=str(tmp_path),
               GLUONREC_ENGINE='auto')
    done = _train_in_a_fresh_process(env)
    assert done.returncode == 0, done.stderr
    assert 'ENGINE generic' in done.stdout
    assert "no C++ compiler: 'no-such-compiler-here' not found" in done.stderr
    done = _train_in_a_fresh_process(dict(env, GLUONREC_ENGINE='fused'))
    assert done.returncode != 0 and 'no C++ compiler' in done.stderr


@needs_build
@pytest.mark.slow
def test_cache_rebuilds_on_a_source_change_and_survives_concurrent_builds(tmp_path):
    """Two processes build into one empty cache at once: one library, both load it. A
    changed source gets a new library name."""
    source = tmp_path / 'fused_mf.cc'
    source.write_text(open(native.SOURCE).read())
    code = ('import sys; import gluonrec; from gluonrec.train import native\n'
            f'native.SOURCE = {str(source)!r}\n'
            'native.load(sys.argv[1]); import mxnet as mx\n'
            'print(native.library_path(sys.argv[1]))\n')
    cache = tmp_path / 'cache'
    procs = [subprocess.Popen([sys.executable, '-c', code, str(cache)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1
    libraries = sorted(f.name for f in cache.iterdir() if f.suffix == '.so')
    assert len(libraries) == 1 and not [f for f in cache.iterdir() if f.suffix == '.tmp']
    source.write_text(source.read_text() + '\n// changed\n')
    done = subprocess.run([sys.executable, '-c', code, str(cache)], capture_output=True,
                          text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() not in paths
    assert len([f for f in cache.iterdir() if f.suffix == '.so']) == 2


@needs_build
def test_ctrl_c_stops_after_the_current_chunk_and_resume_matches(tmp_path):
    full_net, _ = _fit('fused', epochs=3)
    _, history = _fit('fused', epochs=3, checkpoint_dir=str(tmp_path),
                      callbacks=[InterruptAt(1, 0)])
    assert len(history) == 1
    state = json.loads((tmp_path / 'checkpoint.json').read_text())
    assert (state['epoch'], state['batch']) == (1, 1)
    net, _ = _fit('fused', epochs=3, checkpoint_dir=str(tmp_path), resume=True)
    np.testing.assert_allclose(net.user_factors(), full_net.user_factors(), rtol=1e-6)
    np.testing.assert_allclose(net.biases()[2], full_net.biases()[2], rtol=1e-6)


@needs_build
def test_early_stopping_restores_the_best_parameters():
    from gluonrec import evaluate
    net, history = _fit('fused', epochs=80, patience=2, learning_rate=0.5)
    best = history.best()
    assert len(history) < 80 and best['epoch'] <= len(history) - 2
    assert evaluate(net, _planted()[1])['rmse'] == pytest.approx(best['val_rmse'], rel=1e-5)


def test_row_sparse_tables_fall_back_to_the_generic_engine_and_train(caplog):
    train, val = _planted()
    net = get_model('biased_mf', num_users=train.num_users, num_items=train.num_items,
                    num_factors=8, row_sparse_weights=True)
    it = RatingIter.from_ratings(train, batch_size=1024)
    with caplog.at_level(logging.INFO, logger='gluonrec.train.engine'):
        history = fit(net, it, val, epochs=2, optimizer='adagrad', learning_rate=0.1,
                      ctx='cpu', log_interval=None, engine='auto')
    assert 'the tables are row_sparse' in caplog.text
    assert history[-1]['val_rmse'] < history[0]['val_rmse']


def test_the_recipe_picks_an_engine_and_its_presets(monkeypatch, small_ratings):
    from gluonrec.presets import FUSED_PRESETS, PRESETS
    monkeypatch.setenv('GLUONREC_ENGINE', 'generic')
    result = train_model(small_ratings, model='biased_mf', epochs=1, ctx='cpu')
    assert result.settings['engine'] == 'generic'
    assert result.settings['lr'] == PRESETS['jester']['biased_mf']['lr']
    monkeypatch.delenv('GLUONREC_ENGINE')
    result = train_model(small_ratings, model='mlp', epochs=1, ctx='cpu')
    assert result.settings['engine'] == 'generic'  # auto: no fused mlp
    if NO_BUILD is None:
        result = train_model(small_ratings, model='biased_mf', epochs=1, ctx='cpu')
        assert result.settings['engine'] == 'fused'
        assert result.settings['lr'] == FUSED_PRESETS['jester']['biased_mf']['lr']
    with pytest.raises(ValueError, match="engine='fused' cannot train here: optimizer 'adam'"):
        train_model(small_ratings, model='mf', optimizer='adam', epochs=1, ctx='cpu',
                    engine='fused')


@needs_build
@pytest.mark.slow
def test_a_truncated_cached_library_is_rebuilt_not_loaded(tmp_path):
    """It used to be loaded: a bus error (exit 135), nothing printed, never rebuilt. A
    build killed mid-way (kill -9) left its *.tmp file behind for good, too."""
    cache = tmp_path / 'cache'
    cache.mkdir()
    good = native.build()  # this process's library and its record, copied
    path = native.library_path(str(cache))
    with open(good, 'rb') as handle:
        data = handle.read()
    with open(path, 'wb') as out:
        out.write(data[:len(data) // 3])
    shutil.copy(good + '.sha256', path + '.sha256')
    stale = cache / (os.path.basename(path) + '.4242.tmp')
    stale.write_text('half a library')
    code = ('import logging; logging.basicConfig(level=logging.INFO)\n'
            'import sys; from gluonrec.train import native; native.load(sys.argv[1])\n'
            'import mxnet as mx; print("LOADED", hasattr(mx.nd, native.OP_NAME))\n')
    done = subprocess.run([sys.executable, '-c', code, str(cache)], capture_output=True,
                          text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr
    assert 'LOADED True' in done.stdout
    assert 'not the library its build wrote (truncated or changed); rebuilding' in done.stderr
    assert os.path.getsize(path) == len(data) and not stale.exists()


def test_an_unwritable_engine_cache_falls_back_to_the_generic_engine(tmp_path):
    """engine='auto' used to exit 2 when the cache folder could not be created."""
    blocker = tmp_path / 'a-file'
    blocker.write_text('x')
    cache = blocker / 'cache'  # cannot be created, even by root
    with pytest.raises(native.BuildError, match=f'cannot use the engine cache {cache}'):
        native.build(str(cache))
    done = _train_in_a_fresh_process(dict(GLUONREC_CACHE=str(cache), GLUONREC_ENGINE='auto'),
                                     epochs=1)
    assert done.returncode == 0, done.stderr
    assert 'ENGINE generic' in done.stdout
    assert f'the fused one cannot (cannot use the engine cache {cache}' in done.stderr


@needs_build
def test_bpr_mf_trains_on_the_fused_engine_by_default_as_the_numpy_loop_does():
    """bpr_mf on 'auto': the fused engine with its own defaults (Adagrad, one step per
    positive); the engine's epoch equals the float64 loop over the iterator's batches."""
    from gluonrec.data import NegativeSampleIter, make_implicit
    data = make_implicit(40, 30, per_user=4, groups=3, seed=1)
    result = train_model(data, model='bpr_mf', num_factors=4, epochs=1, val_fraction=0,
                         patience=0, ctx='cpu', seed=3)
    assert (result.settings['engine'], result.settings['optimizer'],
            result.settings['lr']) == ('fused', 'adagrad', 0.1)
    net = get_model('bpr_mf', num_users=data.num_users, num_items=data.num_items,
                    num_factors=4)
    net.initialize(ctx=mx.cpu())
    it = NegativeSampleIter.from_ratings(data, batch_size=50, num_negatives=2, seed=0)
    engine = FusedEngine(net, [mx.cpu()], 'adagrad', {'learning_rate': 0.1}, 0.01, 'bpr',
                         'device', it, False, threads=2)
    tables = [net.user_embedding.weight.data().asnumpy().astype(np.float64),
              net.item_embedding.weight.data().asnumpy().astype(np.float64),
              net.item_bias.weight.data().asnumpy().astype(np.float64)]
    hist = [np.zeros_like(t) for t in tables]
    want = 0.0
    for batch in list(it):
        size = batch.data[0].shape[0] - (batch.pad or 0)
        user, item, negative = (a[:size].asnumpy().astype(np.int64) for a in batch.data)
        want += bpr_reference(user, item, negative, batch.label[0][:size].asnumpy(),
                              tables, hist, adagrad=1, lr=0.1, reg=0.01, threads=2)
        engine.step(batch)
    trained = [net.user_embedding.weight.data(), net.item_embedding.weight.data(),
               net.item_bias.weight.data()]
    for got, expected in zip(trained, tables):
        np.testing.assert_allclose(got.asnumpy(), expected, rtol=1e-3, atol=1e-5)
    assert engine.threads == 2 and want > 0


@pytest.mark.parametrize('setup, reason', [
    (dict(loss='bce'), "loss 'bce'; the fused engine implements 'bpr' for BPRMF"),
    (dict(optimizer='adam'), "optimizer 'adam'"),
])
def test_why_not_for_bpr_mf(setup, reason):
    from gluonrec.models import BPRMF
    assert reason in why_not(BPRMF, build=False, **dict(dict(loss='bpr'), **setup))
    assert why_not(BPRMF, [mx.cpu()], 'adagrad', None, 'bpr', build=False) is None
    from gluonrec.models import GMF
    assert 'GMF is not one of' in why_not(GMF, loss='bce', build=False)


def test_bpr_mf_with_adam_falls_back_to_the_generic_engine_saying_why(caplog):
    from gluonrec.data import make_implicit
    data = make_implicit(30, 20, per_user=3, groups=4, seed=0)
    with caplog.at_level(logging.INFO, logger='gluonrec.train.engine'):
        result = train_model(data, model='bpr_mf', num_factors=4, epochs=1, val_fraction=0,
                             patience=0, ctx='cpu', optimizer='adam', lr=0.01)
    assert result.settings['engine'] == 'generic'
    assert "the fused one cannot (optimizer 'adam'" in caplog.text
