#!/usr/bin/env python
"""What refitting after early stopping changes: the default recipe with and without it.

On compare.py's seeded 80/20 split of each data set, ``train_model`` trains on the 80%
with its defaults (a 20% validation part held out of it, early stopping on it), once
returning the selection run's model (``refit=False``, the recipe before refit) and once
refit on all of the 80% for the chosen number of epochs (the default now). Both are
scored on the 20% test part, which neither saw. Each pair runs with several seeds (the
validation split, the order and the initialisation change; the test split does not), so
the spread says how much is noise. Writes a section of RESULTS.md.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gluonrec as gr  # noqa: E402  (before mxnet: numpy aliases)
from _report import machine  # noqa: E402
from _results import publish  # noqa: E402


def measure(ratings, model, seed):
    """Test RMSE without and with the refit, and the refit's chosen epochs and seconds."""
    train, test = gr.random_split(ratings, 0.2, seed=0)
    out = {}
    for refit in (False, True):
        tic = time.perf_counter()
        result = gr.train_model(train, model=model, ctx='cpu', seed=seed, refit=refit)
        out[refit] = (gr.evaluate(result.net, test, result.scaler)['rmse'],
                      time.perf_counter() - tic)
        if refit:
            out['epochs'] = result.settings['refit_epochs']
    return out


def section(rows, seeds, header):
    lines = ['## Refit after early stopping (refit.py)', '', header, '',
             f'Test RMSE on the 20% part, mean and standard deviation over seeds {seeds}; '
             'the difference is per seed (refit minus no refit), negative is better.', '',
             '| data | model | no refit | refit | difference (per seed) | refit epochs | '
             'seconds (no refit / refit) |', '| --- | --- | ---: | ---: | --- | --- | --- |']
    for data, model, runs in rows:
        plain = np.array([r[False][0] for r in runs])
        refit = np.array([r[True][0] for r in runs])
        diff = refit - plain
        lines.append(f'| {data} | {model} | {plain.mean():.4f} ± {plain.std():.4f} | '
                     f'{refit.mean():.4f} ± {refit.std():.4f} | {diff.mean():+.4f} '
                     f'({", ".join(f"{d:+.4f}" for d in diff)}) | '
                     f'{", ".join(str(r["epochs"]) for r in runs)} | '
                     f'{np.mean([r[False][1] for r in runs]):.1f} / '
                     f'{np.mean([r[True][1] for r in runs]):.1f} |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', nargs='+', default=['ml-100k', 'jester'])
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA', '../shared/data'))
    parser.add_argument('--models', nargs='+', default=['biased_mf', 'mf', 'nnmf', 'svdpp',
                                                        'mlp'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'))
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    rows = []
    for data in args.data:
        ratings = gr.load_dataset(data, root=args.root)
        for model in args.models:
            runs = [measure(ratings, model, seed) for seed in args.seeds]
            rows.append((data, model, runs))
            print(data, model, [(round(r[False][0], 4), round(r[True][0], 4)) for r in runs],
                  flush=True)
    import mxnet as mx
    header = (f'`python scripts/benchmarks/refit.py --data {" ".join(args.data)} --models '
              f'{" ".join(args.models)} --seeds {" ".join(map(str, args.seeds))}`; machine: '
              f'{machine({"gluonrec": gr.__version__, "mxnet": mx.__version__})}')
    publish(section(rows, args.seeds, header), args.results, 'refit',
            write=not args.no_write)
    return 0


if __name__ == '__main__':
    sys.exit(main())
