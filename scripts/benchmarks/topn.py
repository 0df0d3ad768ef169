#!/usr/bin/env python
"""Top-N for every user: ``recommend_all`` against its previous implementation and a
plain numpy loop, in one run, each method in a process of its own (for its peak RSS).

A biased MF with random factors (``--users`` x ``--items``, k = ``--factors``) and
``--rated`` rated items per user; top 10 for every user with the rated items masked.
"before" is the code ``recommend_all`` and ``top_n`` had until this benchmark was written
(float64 predicted ratings for the whole chunk, an argpartition of every row);
"numpy loop" is a plain float64 matmul plus ``argpartition`` per chunk; "now" is
``recommend_all`` (float32 network scores, masking through the CSR rows, the cut-off
from block maxima so that only about 10 candidates per user are sorted, only the top
10 converted to ratings). All methods must return the same items (checked on a sample).
Writes a section of RESULTS.md (``--no-write``: print only).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

METHODS = ('before', 'numpy loop', 'now')


def build(users, items, factors, rated, seed=0):
    import gluonrec as gr
    from gluonrec.data import MinMaxScaler, Ratings
    rng = np.random.RandomState(seed)
    user = np.repeat(np.arange(users), rated)
    item = (rng.randint(0, items, users * rated) + np.tile(np.arange(rated), users)) % items
    keys = np.unique(user.astype(np.int64) * items + item)
    train = Ratings(keys // items, keys % items, rng.uniform(1, 5, len(keys)),
                    np.arange(users), np.arange(items), (1, 5), name='synthetic top-N')
    net = gr.get_model('biased_mf', num_users=users, num_items=items, num_factors=factors)
    net.initialize(gr._compat.mx.init.Normal(0.1))  # scores inside the scale: no ties
    return gr.Recommender.from_training(net, train, MinMaxScaler.from_scale((1, 5)))


def _top_n_before(scores, n):
    """``gluonrec.ranking.top_n`` as it was: a float64 argpartition of every row."""
    scores = np.asarray(scores, dtype=np.float64)
    top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind='stable')
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order,
                                                                       axis=1)


def before(rec, n=10, chunk_size=2048):
    """``recommend_all`` as it was: float64 predicted ratings, a mask per chunk, an
    argpartition of every row (its code and ``top_n``'s until this benchmark)."""
    users = np.arange(len(rec.user_map))
    rated = rec.rated_matrix()
    items = np.empty((len(users), n), dtype=np.int64)
    for start in range(0, len(users), chunk_size):
        chunk = users[start:start + chunk_size]
        block = rec.score_users(chunk)  # float64 after the conversion to ratings
        block[:, rec.item_counts == 0] = -np.inf
        rows, cols = rated[chunk].nonzero()
        block[rows, cols] = -np.inf
        items[start:start + len(chunk)] = _top_n_before(block, n)[0]
    return items


def numpy_loop(rec, n=10, chunk_size=2048):
    """A plain float64 matmul and argpartition per chunk, the rated items masked."""
    p = rec.net.user_factors().astype(np.float64)
    q = rec.net.item_factors().astype(np.float64)
    mu, bu, bi = rec.net.biases()
    rated = rec.rated_matrix()
    items = np.empty((len(p), n), dtype=np.int64)
    for start in range(0, len(p), chunk_size):
        block = p[start:start + chunk_size] @ q.T + bu[start:start + chunk_size, None] + \
            bi[None, :] + mu
        sub = rated[start:start + chunk_size]
        block[np.repeat(np.arange(len(block)), np.diff(sub.indptr)), sub.indices] = -np.inf
        top = np.argpartition(-block, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1)
        items[start:start + len(block)] = np.take_along_axis(top, order, axis=1)
    return items


def run_one(method, args):
    """Time ``method`` in this process; print JSON with its seconds and peak RSS."""
    from gluonrec.recommend import recommend_all
    rec = build(args.users, args.items, args.factors, args.rated)
    rec.rated_matrix()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tic = time.perf_counter()
    if method == 'before':
        items = before(rec)
    elif method == 'numpy loop':
        items = numpy_loop(rec)
    else:
        items = recommend_all(rec, n=10)[1]
    seconds = time.perf_counter() - tic
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sample = np.random.RandomState(1).choice(args.users, 200, replace=False)
    print(json.dumps({'method': method, 'seconds': seconds, 'peak_mib': peak / 1024,
                      'model_mib': base / 1024, 'sample': items[sample].tolist()}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--users', type=int, default=100_000)
    parser.add_argument('--items', type=int, default=20_000)
    parser.add_argument('--factors', type=int, default=64)
    parser.add_argument('--rated', type=int, default=20)
    parser.add_argument('--method', choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'))
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    if args.method:
        run_one(args.method, args)
        return 0
    sizes = ['--users', args.users, '--items', args.items, '--factors', args.factors,
             '--rated', args.rated]
    rows = []
    for method in METHODS:
        out = subprocess.run([sys.executable, __file__, '--method', method,
                              *map(str, sizes)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(method, f"{rows[-1]['seconds']:.2f} s", flush=True)
    same = all(r['sample'] == rows[0]['sample'] for r in rows)
    import gluonrec as gr
    from _report import machine
    from _results import publish
    lines = ['## Top-N for every user (topn.py)', '',
             f'`python scripts/benchmarks/topn.py --users {args.users} --items {args.items} '
             f'--factors {args.factors} --rated {args.rated}`; machine: '
             f'{machine({"gluonrec": gr.__version__})}', '',
             f'biased_mf, {args.users:,} users x {args.items:,} items, k={args.factors}, '
             f'{args.rated} rated items per user masked, top 10 for every user. Peak RSS of '
             'each method\'s process, and what the model and data alone held before it '
             f'ran. Same items from every method on a 200-user sample: '
             f'{"yes" if same else "NO"}.', '',
             '| method | seconds | x before | peak RSS MiB | before the call MiB |',
             '| --- | ---: | ---: | ---: | ---: |']
    for r in rows:
        lines.append(f"| {r['method']} | {r['seconds']:.2f} | "
                     f"{rows[0]['seconds'] / r['seconds']:.1f} | {r['peak_mib']:,.0f} | "
                     f"{r['model_mib']:,.0f} |")
    publish('\n'.join(lines), args.results, 'topn', write=not args.no_write)
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
