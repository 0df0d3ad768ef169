#!/usr/bin/env python
"""Hyperparameter search with scikit-learn, across the data sets of a family.

Protocol, per data set: the seeded (seed 0) 80/20 split of compare.py; a
``GridSearchCV`` (or ``RandomizedSearchCV`` with --n-iter) of ``RatingRegressor`` on the
80% with ``UserKFold`` (every user's ratings spread over the folds), scored by RMSE;
the 20% is never looked at while searching. Each fit is ``train_model``'s recipe, as
``RatingRegressor`` runs it by default: the number of epochs chosen by early stopping
on 20% of the fold's training pairs, then a refit on all of them (the preset's
``epochs``, doubled, only caps the selection run), so a setting is judged as the
default recipe would train it. The setting kept is the robust one: the
lowest worst-case ratio to each data set's best cross-validated RMSE (so a setting that
is best on one data set and poor on another loses to one that is close everywhere);
ratios within --tie of that one count as a tie, won by the fewest factors.
Then, on each data set's 80/20 split, the kept setting and the current preset are
trained on the 80% and scored on the 20%, in the same run.

    python scripts/benchmarks/tune.py --family movielens --model biased_mf \\
        --grid num_factors=64,128 reg=0.03,0.05,0.08 lr=0.02,0.05

Writes a section of RESULTS.md (--no-write to skip).
"""
import argparse
import itertools
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gluonrec as gr  # noqa: E402  (before mxnet: numpy aliases)
import mxnet as mx  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402
from gluonrec import metrics  # noqa: E402
from gluonrec.sklearn import RatingRegressor, UserKFold  # noqa: E402
from _report import machine  # noqa: E402
from _results import publish  # noqa: E402

DATA = {'jester': ['jester', os.path.join('jester', 'ds2-sample', 'jester_ratings.dat')],
        'movielens': ['ml-100k']}
_CASTS = {'num_factors': int, 'epochs': int, 'batch_size': int, 'patience': int}


def parse_grid(items):
    """['reg=0.03,0.05', 'optimizer=adagrad'] -> {'reg': [0.03, 0.05], ...}; a model
    constructor argument as 'model_kwargs.dropout=0.5,0.7' (numbers) ->
    {'model_kwargs': [{'dropout': 0.5}, {'dropout': 0.7}]}, several such entries crossed."""
    grid, model_args = {}, []
    for item in items:
        name, sep, values = item.partition('=')
        if not sep or not values:
            raise SystemExit(f'tune.py: error: --grid entry {item!r} is not name=v1,v2,...')
        if name.startswith('model_kwargs.') and name != 'model_kwargs.':
            try:
                model_args.append([(name[len('model_kwargs.'):], float(v))
                                   for v in values.split(',')])
            except ValueError:
                raise SystemExit(f'tune.py: error: --grid {name}: bad value in {values!r}') \
                    from None
            continue
        if name not in RatingRegressor._get_param_names():
            raise SystemExit(f'tune.py: error: --grid: {name!r} is not a RatingRegressor '
                             f'parameter ({", ".join(RatingRegressor._get_param_names())})')
        cast = _CASTS.get(name, float)
        try:
            grid[name] = [v if name in ('optimizer', 'engine', 'model') else cast(v)
                          for v in values.split(',')]
        except ValueError:
            raise SystemExit(f'tune.py: error: --grid {name}: bad value in {values!r}') \
                from None
    if model_args:
        grid['model_kwargs'] = [dict(combo) for combo in itertools.product(*model_args)]
    return grid


def pairs(ratings):
    frame = ratings.to_dataframe()
    return frame[['user', 'item']], frame['rating'].to_numpy()


def search_one(name, root, args, grid):
    path = name if name in ('jester', 'ml-100k') else os.path.join(root, name)
    ratings = gr.load_dataset(path, root=root)
    train, test = gr.random_split(ratings, 0.2, seed=0)
    X, y = pairs(train)
    base = RatingRegressor(args.model, family=args.family, engine=args.engine,
                           scale=ratings.scale, random_state=0)
    cv = UserKFold(args.cv, random_state=0)
    if args.n_iter:
        search = RandomizedSearchCV(base, grid, n_iter=args.n_iter, cv=cv, random_state=0,
                                    scoring='neg_root_mean_squared_error', refit=False)
    else:
        search = GridSearchCV(base, grid, cv=cv, scoring='neg_root_mean_squared_error',
                              refit=False)
    started = time.perf_counter()
    search.fit(X, y)
    seconds = time.perf_counter() - started
    results = search.cv_results_
    table = {json.dumps(p, sort_keys=True): -score
             for p, score in zip(results['params'], results['mean_test_score'])}
    print(f'{name}: {len(ratings)} ratings; {len(results["params"])} settings x {args.cv} '
          f'folds in {seconds:.1f} s', flush=True)
    return {'name': name, 'ratings': ratings, 'train': train, 'test': test,
            'cv': table, 'seconds': seconds}


def test_rmse(params, part, args):
    est = RatingRegressor(args.model, family=args.family, engine=args.engine,
                          scale=part['ratings'].scale, random_state=0, **params)
    started = time.perf_counter()
    X, y = pairs(part['train'])
    est.fit(X, y)
    seconds = time.perf_counter() - started
    Xt, yt = pairs(part['test'])
    return metrics.rmse(yt, est.predict(Xt)), seconds, est.settings_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--family', choices=sorted(DATA), default='movielens')
    parser.add_argument('--data', nargs='+',
                        help='data set names or paths under --root (default: the '
                             "family's: " + '; '.join(f'{k}: {" ".join(v)}'
                                                      for k, v in DATA.items()) + ')')
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA',
                                                         os.path.join('..', 'shared', 'data')))
    parser.add_argument('--model', default='biased_mf')
    parser.add_argument('--engine', default='auto', choices=['auto', 'fused', 'generic'])
    parser.add_argument('--grid', nargs='+', default=['num_factors=64,128',
                                                      'reg=0.03,0.05,0.08',
                                                      'lr=0.02,0.05'])
    parser.add_argument('--cv', type=int, default=3)
    parser.add_argument('--tie', type=float, default=0.0005,
                        help='worst ratios within this of the lowest are a tie, kept for '
                             'the fewest factors (default: %(default)s)')
    parser.add_argument('--n-iter', type=int, help='RandomizedSearchCV with this many draws')
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'))
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    grid = parse_grid(args.grid)
    started = time.perf_counter()
    parts = [search_one(name, args.root, args, grid) for name in args.data or DATA[args.family]]
    keys = list(parts[0]['cv'])
    worst = {k: max(p['cv'][k] / min(p['cv'].values()) for p in parts) for k in keys}
    robust = min(keys, key=lambda k: (worst[k], np.mean([p['cv'][k] for p in parts])))
    # Within --tie of it, the smallest model (fewest factors) is kept: differences that
    # small are below what the folds resolve, and the smaller model trains faster.
    tied = [k for k in keys if worst[k] <= worst[robust] + args.tie]
    robust = min(tied, key=lambda k: (json.loads(k).get('num_factors', 0), worst[k]))
    lines = [f'## Search: {args.model} on {", ".join(p["name"] for p in parts)} (tune.py)', '',
             f'Command: `python scripts/benchmarks/tune.py --family {args.family} --model '
             f'{args.model} --engine {args.engine} --grid {" ".join(args.grid)} --cv {args.cv}'
             + (f' --n-iter {args.n_iter}' if args.n_iter else '')
             + (f' --tie {args.tie:g}' if args.tie != 0.0005 else '') + '`. '
             + machine({'mxnet': mx.__version__, 'numpy': np.__version__}), '',
             'Cross-validated RMSE (`UserKFold`, on the 80% of the seeded split), the '
             'worst ratio to each data set\'s best, and the search time:', '',
             '| setting | ' + ' | '.join(p['name'] for p in parts) + ' | worst ratio |',
             '| --- | ' + ' | '.join('---:' for _ in parts) + ' | ---: |']
    for key in sorted(keys, key=lambda k: worst[k]):
        mark = ' (kept)' if key == robust else ''
        lines.append(f'| {key}{mark} | ' + ' | '.join(f"{p['cv'][key]:.4f}" for p in parts)
                     + f' | {worst[key]:.4f} |')
    lines.append('| search seconds | ' + ' | '.join(f"{p['seconds']:.0f}" for p in parts)
                 + ' | |')
    lines += ['', 'Test RMSE on the 20% (trained on the whole 80%):', '',
              '| data | kept setting | its best CV setting | current preset | '
              'preset settings |', '| --- | ---: | ---: | ---: | --- |']
    for p in parts:
        kept, _, _ = test_rmse(json.loads(robust), p, args)
        own_key = min(p['cv'], key=p['cv'].get)
        own, _, _ = test_rmse(json.loads(own_key), p, args)
        preset, _, used = test_rmse({}, p, args)
        shown = {k: used[k] for k in ('num_factors', 'lr', 'reg', 'epochs', 'engine')}
        lines.append(f"| {p['name']} | {kept:.4f} | {own:.4f} ({own_key}) | {preset:.4f} | "
                     f'{shown} |')
    lines += ['', f'Whole run: {time.perf_counter() - started:.0f} s.']
    text = '\n'.join(lines)
    publish(text, args.results, f'tune:{args.family}:{args.model}', write=not args.no_write)
    return 0


if __name__ == '__main__':
    sys.exit(main())
