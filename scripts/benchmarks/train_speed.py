#!/usr/bin/env python
"""Ratings per second for one epoch on 1.7M synthetic Jester-scale ratings, in one run.

Rows: the blog's way (one NDArray per rating, batch 64, dense gradients, not hybridized;
time-capped and extrapolated), Surprise's SVD(n_factors=16) when scikit-surprise is
installed, LIBMF itself (the libmf bindings, when installed) at k=16 and k=64 on one and
two threads, gluonrec's default training (what ``train_jester.py`` runs: the Jester preset
of biased_mf with engine 'auto'), the fused engine at k=16, and the generic engine's
preset and fastest settings. Then the fused kernel alone (the same chunks, gathered
before the clock starts) against the epoch through ``RatingIter``, and against a
memory-bandwidth estimate of its limit. Ratios are within this run; the machine is shared.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gluonrec import load_dataset, train_model  # noqa: E402
from gluonrec._compat import mx  # noqa: E402
from gluonrec.data import MinMaxScaler  # noqa: E402
from _blog import blog_train  # noqa: E402


def gluonrec_rate(data, **settings):
    """(ratings/s of the epoch, TrainedModel) for one epoch of ``train_model``."""
    result = train_model(data, val_fraction=0, epochs=1, patience=0, ctx='cpu',
                         family='jester', **settings)
    return result.history[0]['ratings_per_sec'], result


def surprise_rate(data):
    """Surprise SVD(n_factors=16), one epoch, or None without scikit-surprise."""
    try:
        import pandas as pd
        import surprise
    except ImportError:
        return None
    frame = pd.DataFrame({'u': data.user, 'i': data.item, 'r': data.rating})
    trainset = surprise.Dataset.load_from_df(
        frame, surprise.Reader(rating_scale=data.scale)).build_full_trainset()
    algo = surprise.SVD(n_factors=16, n_epochs=1, random_state=0)
    tic = time.perf_counter()
    algo.fit(trainset)
    return len(data) / (time.perf_counter() - tic)


def libmf_rate(data, k, threads, iters=5):
    """LIBMF's ratings per second and iteration (the libmf 0.9.2 bindings: squared loss,
    its per-coordinate adaptive learning rate, ``k`` factors, ``threads`` threads), from
    the difference of a 1- and a (1 + ``iters``)-iteration fit, so that its set-up
    (copying and shuffling the data, building the grid) is left out; None without libmf."""
    try:
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):  # it prints where it was found
            from libmf import mf
    except ImportError:
        return None
    triples = np.column_stack([data.user, data.item, data.rating]).astype(np.float32)
    seconds = []
    for iterations in (1, 1 + iters):
        engine = mf.MF(fun=0, k=k, nr_threads=threads, nr_iters=iterations, quiet=True)
        tic = time.perf_counter()
        engine.fit(triples)
        seconds.append(time.perf_counter() - tic)
    return len(data) * iters / (seconds[1] - seconds[0])


def kernel_rate(result, repeats=3):
    """The fused engine's step on pre-gathered chunks: (kernel ratings/s, epoch through
    the iterator ratings/s), best of ``repeats`` each."""
    from gluonrec.train.fused import FusedEngine
    it = result.train_iter
    engine = FusedEngine(result.net, [mx.cpu()], result.settings['optimizer'],
                         {'learning_rate': 1e-6}, result.settings['reg'], 'l2', 'device', it,
                         False)
    best_kernel = best_epoch = 0.0
    for _ in range(repeats):
        it.reset()
        chunks = list(it)
        mx.nd.waitall()
        tic = time.perf_counter()
        seen = sum(engine.step(batch)[1] for batch in chunks)
        mx.nd.waitall()
        best_kernel = max(best_kernel, seen / (time.perf_counter() - tic))
        tic = time.perf_counter()
        it.reset()
        seen = sum(engine.step(batch)[1] for batch in it)
        mx.nd.waitall()
        best_epoch = max(best_epoch, seen / (time.perf_counter() - tic))
    return best_kernel, best_epoch


def bandwidth():
    """Bytes per second numpy's copy moves (read + write) on a 256 MB array."""
    a = np.ones(1 << 26, dtype=np.float32)
    b = np.empty_like(a)
    best = 0.0
    for _ in range(3):
        tic = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - tic))
    return best


def bytes_per_rating(k, adagrad=True, biased=True):
    """Memory traffic of one update when the user rows come from memory (the item tables
    of 150 jokes stay in cache): each 64-byte line of P and its Adagrad state, and the
    line holding b_u and its state, read and written back; plus the streamed chunk
    (user, item, label, block order: 20 bytes)."""
    lines = -(-k * 4 // 64) * (2 if adagrad else 1) + (2 if biased and adagrad else
                                                       1 if biased else 0)
    return lines * 64 * 2 + 20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--ratings', type=int, default=1_700_000)
    parser.add_argument('--cap', type=float, default=20.0,
                        help='seconds for the blog-style run (default: %(default)s)')
    args = parser.parse_args(argv)
    data = load_dataset('synthetic-large', num_ratings=args.ratings)
    scaler = MinMaxScaler.from_scale(data.scale)
    _, blog, _ = blog_train(data.user, data.item, scaler.transform(data.rating),
                            data.num_users, data.num_items, seconds=args.cap)
    svd = surprise_rate(data)
    libmf = {(k, t): libmf_rate(data, k, t) for k in (16, 64) for t in (1, 2)}
    default, result = gluonrec_rate(data)
    s = result.settings
    fused16, fused_result = gluonrec_rate(data, model='biased_mf', num_factors=16,
                                          engine='fused')
    fused_sgd, _ = gluonrec_rate(data, model='mf', num_factors=16, optimizer='sgd',
                                 lr=0.001, engine='fused')
    generic, _ = gluonrec_rate(data, model='mf', engine='generic')
    fastest, _ = gluonrec_rate(data, model='mf', batch_size=8192, optimizer='sgd', lr=1.0,
                               reg=0.0, engine='generic')
    kernel, through_iter = kernel_rate(fused_result)
    copy = bandwidth()
    limit = copy / bytes_per_rating(16)

    print(f'data: {len(data):,} synthetic ratings ({data.num_users:,} users x '
          f'{data.num_items} items), one epoch; blog way capped at {args.cap:g} s')
    base = svd or blog
    print(f'{"way":<66}{"ratings/s":>12}{"x blog":>9}' + ('' if svd is None else
                                                         f'{"x Surprise":>12}'))
    rows = [('blog: NDArray per rating, batch 64, dense, imperative', blog),
            ('Surprise SVD(n_factors=16), one epoch', svd),
            (f'gluonrec default ({s["model"]} k={s["num_factors"]}, {s["optimizer"]}, '
             f'{s["engine"]} engine)', default),
            *[(f'LIBMF k={k}, {t} thread{"s" if t > 1 else ""} (per iteration)', rate)
              for (k, t), rate in libmf.items()],
            ('gluonrec biased_mf k=16, adagrad, fused engine', fused16),
            ('gluonrec mf k=16, sgd, fused engine', fused_sgd),
            ('gluonrec mf k=16 generic preset (adagrad, batch 1024, sparse)', generic),
            ('gluonrec mf k=16 generic fastest (sgd, batch 8192, sparse)', fastest)]
    for name, rate in rows:
        if rate is None:
            missing = 'libmf' if name.startswith('LIBMF') else 'scikit-surprise'
            print(f'{name:<66}{f"({missing} not installed)":>33}')
            continue
        print(f'{name:<66}{rate:>12,.0f}{rate / blog:>8,.0f}x' +
              ('' if svd is None else f'{rate / svd:>11,.1f}x'))
    print(f'\nfused kernel alone (biased_mf k=16, adagrad, chunks gathered beforehand): '
          f'{kernel:,.0f}/s; the same epoch through RatingIter: {through_iter:,.0f}/s '
          f'(the iterator costs {100 * (1 - through_iter / kernel):.0f}%)')
    print(f'memory-bandwidth limit for k=16 (copy {copy / 1e9:.1f} GB/s, '
          f'{bytes_per_rating(16)} B per rating): {limit:,.0f}/s; the kernel reaches '
          f'{100 * kernel / limit:.0f}% of it')
    if svd:
        print(f'targets: default >= 10x Surprise SVD k=16: {default / base:.1f}x')
    if libmf[16, 2]:
        print(f'fused k=16 against LIBMF k=16 on two threads: {fused16 / libmf[16, 2]:.2f}x '
              f'(target 1.5x); the default (k={s["num_factors"]}) against LIBMF at that '
              f'width on two threads: {default / libmf[64, 2]:.2f}x')
    return 0


if __name__ == '__main__':
    sys.exit(main())
