#!/usr/bin/env python
"""Fit Surprise algorithms on a split folder; write their results as JSON.

Run by compare.py, possibly with another interpreter (where scikit-surprise lives).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _split_io import read_split, scores  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--split', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--algos', nargs='+',
                        default=['SVD', 'SVD16', 'BaselineOnly', 'NMF', 'SVDpp'])
    parser.add_argument('--curve', action='store_true',
                        help='also fit SVD with 1, 2, 5, 10 epochs for an RMSE-vs-time curve')
    parser.add_argument('--epochs', type=int, default=None,
                        help='override n_epochs (speed runs)')
    args = parser.parse_args(argv)
    import pandas as pd
    import surprise
    train, test, meta = read_split(args.split)
    scale = tuple(meta['scale'])
    frame = pd.DataFrame({'u': train['user'], 'i': train['item'], 'r': train['rating']})
    trainset = surprise.Dataset.load_from_df(
        frame, surprise.Reader(rating_scale=scale)).build_full_trainset()
    n_train = len(train['rating'])

    def build(name, epochs=None):
        extra = {} if epochs is None else {'n_epochs': epochs}
        if args.epochs is not None and name != 'BaselineOnly':
            extra['n_epochs'] = args.epochs
        if name == 'SVD':
            return surprise.SVD(random_state=0, **extra), extra.get('n_epochs', 20)
        if name == 'SVD16':
            return surprise.SVD(n_factors=16, random_state=0, **extra), extra.get('n_epochs', 20)
        if name == 'NMF':
            return surprise.NMF(random_state=0, **extra), extra.get('n_epochs', 50)
        if name == 'SVDpp':
            return surprise.SVDpp(random_state=0, **extra), extra.get('n_epochs', 20)
        if name == 'BaselineOnly':
            return surprise.BaselineOnly(verbose=False), 10  # ALS, 10 iterations
        raise ValueError(name)

    def run(name, epochs=None):
        algo, n_epochs = build(name, epochs)
        tic = time.perf_counter()
        algo.fit(trainset)
        seconds = time.perf_counter() - tic
        # predict through the inner ids (Surprise maps raw -> inner itself)
        pred = [algo.predict(u, i, clip=True).est for u, i in zip(test['user'], test['item'])]
        rmse, mae = scores(test['rating'], pred, scale)
        return {'rmse': rmse, 'mae': mae, 'fit_seconds': seconds, 'epochs': n_epochs,
                'ratings_per_sec': n_train * n_epochs / seconds}

    results = []
    for name in args.algos:
        label = {'SVD': 'Surprise SVD (defaults: k=100)', 'SVD16': 'Surprise SVD k=16',
                 'BaselineOnly': 'Surprise BaselineOnly', 'NMF': 'Surprise NMF',
                 'SVDpp': 'Surprise SVD++'}[name]
        result = run(name)
        result['system'] = label
        if name == 'SVD' and args.curve:
            curve = []
            for epochs in (1, 2, 5, 10):
                point = run(name, epochs)
                curve.append((point['fit_seconds'], point['rmse']))
            curve.append((result['fit_seconds'], result['rmse']))
            result['curve'] = curve
        results.append(result)
        print(f"{label}: RMSE {result['rmse']:.4f} in {result['fit_seconds']:.1f} s",
              file=sys.stderr, flush=True)
    with open(args.out, 'w') as out:
        json.dump({'versions': {'surprise': surprise.__version__, 'numpy': np.__version__},
                   'results': results}, out, indent=1)


if __name__ == '__main__':
    sys.exit(main())
