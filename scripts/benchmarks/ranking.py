#!/usr/bin/env python
"""Ranking from implicit feedback: gluonrec's ranking models against implicit 0.7.3's
ALS and BPR, EASE and popularity, on the protocol of RecBole's published tables.

Protocol (``gluonrec.data.ranking_protocol``): ratings >= 3 are positives; users and
items with fewer than 10 positives removed until none is left; each user's positives
split at random 80/10/10 (train / validation / test, seed 0). Every system trains on
the 80%; each small grid (below) is searched on the validation part (NDCG@10; the
iteration count of the iterative ones by early stopping on it, implicit's by a grid)
and the chosen setting is scored once on the test part: full ranking over every item,
the user's training positives masked, NDCG@10, Recall@10 and HR@10 as RecBole defines
them. Speeds are from the same run; compare them as ratios. Writes a section of
RESULTS.md (``--no-write``: print only). Needs ``pip install -e '.[cpu,bench]'``
(implicit); without implicit its rows are left out, saying so.
"""
import argparse
import itertools
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gluonrec as gr  # noqa: E402  (before mxnet: numpy aliases)
from gluonrec.data import ranking_protocol  # noqa: E402
from gluonrec.ranking_eval import Popularity, compare_per_user, evaluate_ranking  # noqa: E402
from _report import machine  # noqa: E402
from _results import publish  # noqa: E402

K = 10

#: The grids searched on the validation part, by system: a model's name, then the
#: engine when it is not the one 'auto' picks (bpr_mf trains on the fused engine).
GRIDS = {
    'ease': {'reg': [100.0, 200.0, 300.0, 500.0, 1000.0]},
    'ials': {'num_factors': [64, 128], 'reg': [10.0, 20.0, 30.0], 'alpha': [1.0, 2.0]},
    'bpr_mf': {'lr': [0.05, 0.1, 0.2], 'reg': [0.003, 0.01, 0.03]},
    'bpr_mf generic': {'lr': [0.001, 0.003], 'reg': [0.003, 0.01, 0.03]},
    'gmf': {'lr': [0.001], 'reg': [0.0, 0.01]},
    'neumf': {'lr': [0.001], 'reg': [0.0, 0.01]},
}
IMPLICIT_GRIDS = {
    'implicit ALS': {'factors': [64, 128], 'regularization': [1.0, 5.0, 20.0, 50.0, 100.0,
                                                              200.0],
                     'alpha': [1.0, 5.0, 20.0], 'iterations': [15]},
    'implicit BPR': {'factors': [64, 128], 'learning_rate': [0.01, 0.05],
                     'regularization': [0.01, 0.1], 'iterations': [25, 50, 100]},
}
#: Arguments of the models' constructors (the rest are training settings).
MODEL_KWARGS = ('alpha',)


def combos(grid):
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*grid.values())]


class Scores:
    """Scores from user and item factor matrices (implicit's models)."""

    def __init__(self, users, items):
        self.users, self.items = users, items

    def score_matrix(self, users, items=None):
        return self.users[np.asarray(users)] @ self.items.T


def fit_gluonrec(system, setting, train, val, seed):
    model, _, engine = system.partition(' ')
    kwargs = {k: v for k, v in setting.items() if k not in MODEL_KWARGS}
    kwargs['engine'] = engine or None
    model_kwargs = {k: v for k, v in setting.items() if k in MODEL_KWARGS}
    tic = time.perf_counter()
    result = gr.train_model(train, val=val, model=model, seed=seed, ctx='cpu',
                            model_kwargs=model_kwargs, log_interval=None, **kwargs)
    seconds = time.perf_counter() - tic
    best = result.history.best()
    per_epoch = float(np.mean([r['seconds'] for r in result.history]))
    return result.net, best[f'val_ndcg@{K}'], seconds, per_epoch, best['epoch']


def fit_implicit(name, setting, train, val, seed):
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits
    import implicit
    x = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (train.user, train.item)),
                      shape=(train.num_users, train.num_items))
    cls = implicit.cpu.als.AlternatingLeastSquares if name == 'implicit ALS' else \
        implicit.cpu.bpr.BayesianPersonalizedRanking
    model = cls(random_state=seed, **setting)
    tic = time.perf_counter()
    with threadpool_limits(1, 'blas'):  # as implicit recommends for its own threads
        model.fit(x, show_progress=False)
    seconds = time.perf_counter() - tic
    net = Scores(np.asarray(model.user_factors), np.asarray(model.item_factors))
    score = evaluate_ranking(net, train, val, k=K)[f'ndcg@{K}']
    return net, score, seconds, seconds / setting['iterations'], setting['iterations']


def search(name, grid, fit, train, val, test, seed):
    """The grid on val; the best setting's test scores and per-user table."""
    best = None
    for setting in combos(grid):
        net, score, seconds, per_epoch, epochs = fit(name, setting, train, val, seed)
        print(f'{name} {setting}: val NDCG@{K} {score:.4f} ({seconds:.1f} s, '
              f'{epochs} epochs)', flush=True)
        if best is None or score > best[1]:
            best = (setting, score, net, seconds, per_epoch, epochs)
    setting, score, net, seconds, per_epoch, epochs = best
    scores, per_user = evaluate_ranking(net, train, test, k=K, exclude=(val,),
                                        per_user=True)
    return {'system': name, 'setting': setting, 'val': score, 'test': scores,
            'seconds': seconds, 'per_epoch': per_epoch, 'epochs': epochs,
            'per_user': per_user}


def section(rows, header, data, counts, pairs):
    lines = [f'## Ranking: {data} (ranking.py)', '', header, '', counts, '',
             f'| system | test NDCG@{K} | Recall@{K} | HR@{K} | val NDCG@{K} | fit s | '
             's per epoch | epochs | chosen setting |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    for r in sorted(rows, key=lambda r: -r['test'][f'ndcg@{K}']):
        t = r['test']
        lines.append(f"| {r['system']} | {t[f'ndcg@{K}']:.4f} | {t[f'recall@{K}']:.4f} | "
                     f"{t[f'hit@{K}']:.4f} | {r['val']:.4f} | {r['seconds']:.2f} | "
                     f"{r['per_epoch']:.3f} | {r['epochs']} | "
                     f"{', '.join(f'{k}={v:g}' for k, v in r['setting'].items())} |")
    if pairs:
        lines += ['', f'Paired per-user comparison on the test users (NDCG@{K}; difference '
                  'b - a, 95% bootstrap interval over users, paired t-test and Wilcoxon '
                  'signed-rank p-values; `compare_per_user`):', '',
                  '| a | b | users | difference | 95% interval | t-test p | Wilcoxon p |',
                  '| --- | --- | ---: | ---: | --- | ---: | ---: |']
        for a, b, c in pairs:
            lines.append(f"| {a} | {b} | {c['users']} | {c['difference']:+.4f} | "
                         f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] | "
                         f"{c['t_pvalue']:.2g} | {c['wilcoxon_pvalue']:.2g} |")
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default='ml-100k',
                        help="'ml-100k' or a MovieLens folder (default: %(default)s)")
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA', '../shared/data'))
    parser.add_argument('--models', nargs='+', default=list(GRIDS) + list(IMPLICIT_GRIDS)
                        + ['popularity'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quick', action='store_true',
                        help="each grid's first setting only (a smoke run)")
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'))
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    ratings = gr.load_dataset(args.data, root=args.root)
    train, val, test = ranking_protocol(ratings, seed=args.seed)
    counts = (f'{train.num_users:,} users x {train.num_items:,} items after the 10-core '
              f'filter; {len(train):,} / {len(val):,} / {len(test):,} train / validation / '
              'test positives.')
    print(counts, flush=True)
    rows = []
    for name in args.models:
        if name == 'popularity':
            net = Popularity(train)
            tic = time.perf_counter()
            score = evaluate_ranking(net, train, val, k=K)[f'ndcg@{K}']
            scores, per_user = evaluate_ranking(net, train, test, k=K, exclude=(val,),
                                                per_user=True)
            rows.append({'system': 'popularity', 'setting': {}, 'val': score,
                         'test': scores, 'seconds': time.perf_counter() - tic,
                         'per_epoch': 0.0, 'epochs': 0, 'per_user': per_user})
            continue
        if name in IMPLICIT_GRIDS:
            try:
                import implicit  # noqa: F401
            except ImportError:
                print(f'{name}: implicit is not installed (pip install implicit==0.7.3); '
                      'left out', flush=True)
                continue
            grid, fit = IMPLICIT_GRIDS[name], fit_implicit
        else:
            grid, fit = GRIDS[name], fit_gluonrec
        if args.quick:
            grid = {k: v[:1] for k, v in grid.items()}
        rows.append(search(name, grid, fit, train, val, test, args.seed))
    by_name = {r['system']: r for r in rows}
    wanted = [('implicit ALS', 'ials'), ('implicit BPR', 'bpr_mf'), ('ease', 'ials')]
    pairs = [(a, b, compare_per_user(by_name[a]['per_user'], by_name[b]['per_user'],
                                     f'ndcg@{K}', seed=args.seed))
             for a, b in wanted if a in by_name and b in by_name]
    import mxnet as mx
    versions = {'gluonrec': gr.__version__, 'mxnet': mx.__version__}
    try:
        import implicit
        versions['implicit'] = implicit.__version__
    except ImportError:
        pass
    header = (f'`python scripts/benchmarks/ranking.py --data {args.data}'
              f'{" --quick" if args.quick else ""}`; machine: {machine(versions)}')
    key = 'ranking:' + os.path.basename(os.path.normpath(args.data))
    publish(section(rows, header, args.data, counts, pairs), args.results, key,
            write=not args.no_write)
    return 0


if __name__ == '__main__':
    sys.exit(main())
