#!/usr/bin/env python
"""bpr_mf's epoch on its default (fused) engine against the generic engine and implicit
0.7.3's BPR (its default threads), at k=64 on the same positives, in one run: ml-100k's
training positives on ranking.py's protocol, and a synthetic set the size of ml-1m
(6,040 users x 3,706 items, 575,000 positives, ``make_implicit``).

Seconds per epoch: gluonrec's from the training history (the epoch through
``NegativeSampleIter``, one negative per positive), the fused kernel alone on an epoch
drawn beforehand, implicit's from the difference of a 1- and a (1 + ``--iterations``)-
iteration fit (its set-up left out). Writes a section of RESULTS.md (``--no-write``:
print only); the accuracy of each engine is ranking.py's table.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gluonrec as gr  # noqa: E402
from gluonrec._compat import mx  # noqa: E402
from gluonrec.data import make_implicit, ranking_protocol  # noqa: E402
from _report import machine  # noqa: E402
from _results import publish  # noqa: E402


def gluonrec_epoch(train, engine, epochs, threads=None):
    if threads:
        os.environ['GLUONREC_THREADS'] = str(threads)
    result = gr.train_model(train, model='bpr_mf', engine=engine, epochs=epochs,
                            val_fraction=0, patience=0, ctx='cpu', seed=0, num_factors=64,
                            log_interval=None)
    os.environ.pop('GLUONREC_THREADS', None)
    seconds = [r['seconds'] for r in result.history]
    return float(np.mean(seconds[1:] if len(seconds) > 1 else seconds)), result


def kernel_epoch(result, threads, repeats=3):
    """The fused engine's step alone on an epoch of batches drawn beforehand."""
    from gluonrec.train.fused import FusedEngine
    s = result.settings
    it = result.train_iter
    engine = FusedEngine(result.net, [mx.cpu()], s['optimizer'], {'learning_rate': 1e-6},
                         s['reg'], 'bpr', 'device', it, False, threads=threads)
    best = np.inf
    for _ in range(repeats):
        it.reset()
        batches = list(it)
        mx.nd.waitall()
        tic = time.perf_counter()
        for batch in batches:
            engine.step(batch)
        mx.nd.waitall()
        best = min(best, time.perf_counter() - tic)
    return best


def implicit_epoch(train, iterations):
    """implicit's BPR (k=64, its default threads), seconds per iteration, or None."""
    try:
        import implicit
        import scipy.sparse as sp
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    x = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (train.user, train.item)),
                      shape=(train.num_users, train.num_items))
    seconds = []
    for n in (1, 1 + iterations):
        model = implicit.cpu.bpr.BayesianPersonalizedRanking(factors=64, iterations=n,
                                                             random_state=0)
        tic = time.perf_counter()
        with threadpool_limits(1, 'blas'):
            model.fit(x, show_progress=False)
        seconds.append(time.perf_counter() - tic)
    return (seconds[1] - seconds[0]) / iterations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA', '../shared/data'))
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--iterations', type=int, default=10)
    parser.add_argument('--positives', type=int, default=575_000,
                        help='size of the ml-1m-like synthetic set')
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    start = time.time()
    sets = []
    if os.path.isfile(os.path.join(args.root, 'ml-100k', 'u.data')):
        ratings = gr.load_dataset('ml-100k', root=args.root, download=False)
        sets.append(('ml-100k (ranking.py protocol, training positives)',
                     ranking_protocol(ratings, seed=0)[0]))
    users, items = 6040, 3706
    sets.append((f'synthetic ml-1m size ({users:,} x {items:,})',
                 make_implicit(users, items, per_user=max(1, args.positives // users),
                               groups=17, seed=0)))
    rows = []
    for name, train in sets:
        generic, _ = gluonrec_epoch(train, 'generic', 2)
        peer = implicit_epoch(train, args.iterations)
        for threads in (1, 2):
            fused, result = gluonrec_epoch(train, 'fused', args.epochs, threads)
            kernel = kernel_epoch(result, threads)
            rows.append((name, len(train), threads, fused, kernel, generic, peer))
            print(rows[-1], flush=True)
    lines = ["## bpr_mf's epoch: fused, generic, implicit (bpr_speed.py)", '',
             f'Command: `python scripts/benchmarks/bpr_speed.py` ({time.time() - start:.0f} s). '
             + machine({'mxnet': mx.__version__, 'numpy': np.__version__}), '',
             'k=64, one negative per positive; seconds per epoch (gluonrec: through '
             'NegativeSampleIter, the mean after the first epoch; implicit: per iteration, '
             'its set-up left out).', '',
             '| positives | n | fused threads | fused epoch | fused kernel alone | '
             'generic epoch | implicit BPR | fused vs generic | fused vs implicit |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for name, n, threads, fused, kernel, generic, peer in rows:
        versus = f'{peer / fused:.2f}x' if peer else '(implicit not installed)'
        lines.append(f'| {name} | {n:,} | {threads} | {fused:.4f} s | {kernel:.4f} s | '
                     f'{generic:.3f} s | ' + (f'{peer:.4f} s' if peer else '-') +
                     f' | {generic / fused:.1f}x | {versus} |')
    lines += ['', 'A ratio above 1 means the fused epoch is that many times faster. The '
              "default thread count is the cores but one (1 here: the other core draws the "
              "next epoch's negatives); `GLUONREC_THREADS=2` gives the second row of each "
              'set.']
    publish('\n'.join(lines), os.path.join(HERE, 'RESULTS.md'), 'bpr_speed',
            write=not args.no_write)
    return 0


if __name__ == '__main__':
    sys.exit(main())
