#!/usr/bin/env python
"""What refitting after early stopping changes: the default recipe with and without it.

On compare.py's seeded 80/20 split of each data set, ``train_model`` trains on the 80%
with its defaults (a 20% validation part held out of it, early stopping on it), once
returning the selection run's model (``refit=False``, the recipe before refit), then
refit on all of the 80% for the chosen number of epochs, and for that number times the
data's growth (the default now). All are scored on the 20% test part, which none saw.
Each runs with several seeds (the validation split, the order and the initialisation
change; the test split does not), so the spread says how much is noise. The refits run
as ``train_model(train, test, epochs=E, patience=0)``, which trains as the recipe's own
refit does (tests/test_recipe.py), sharing one selection run. Writes a section of RESULTS.md.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gluonrec as gr  # noqa: E402  (before mxnet: numpy aliases)
from gluonrec.recipe import refit_epochs  # noqa: E402
from _report import machine  # noqa: E402
from _results import publish  # noqa: E402


def measure(ratings, model, seed):
    """Test RMSE and seconds of the selection run's model (no refit) and of the refit for
    the chosen epochs and for them times the data's growth (the default), the epochs."""
    train, test = gr.random_split(ratings, 0.2, seed=0)
    selected = gr.train_model(train, model=model, ctx='cpu', seed=seed, refit=False)
    chosen = selected.history.params_epoch
    out = {'none': (gr.evaluate(selected.net, test, selected.scaler)['rmse'],
                    selected.seconds), 'chosen': chosen}
    for scaled in (False, True):
        epochs = refit_epochs(chosen, len(train), len(selected.train), scaled)
        # The refit as train_model runs it (tests/test_recipe.py: the same parameters);
        # the test part given as val is only scored, after the last epoch.
        tic = time.perf_counter()
        refit = gr.train_model(train, test, model=model, ctx='cpu', seed=seed, epochs=epochs,
                               patience=0)
        out[scaled] = (refit.history[-1]['val_rmse'], selected.seconds +
                       time.perf_counter() - tic)
        out[f'epochs_{scaled}'] = epochs
    return out


def _cell(values):
    return f'{np.mean(values):.4f} ± {np.std(values):.4f}'


def section(rows, seeds, header):
    lines = ['## Refit after early stopping (refit.py)', '', header, '',
             f'Test RMSE on the 20% part, mean and standard deviation over seeds {seeds}: the '
             "selection run's model (no refit, the recipe before), the refit on all of the "
             "80% for the chosen epochs, and for them times the data's growth (1.25: the "
             'default). Differences are per seed (default minus no refit; default minus the '
             'unscaled refit), negative is better.', '',
             '| data | model | no refit | refit, chosen epochs | refit, scaled (default) | '
             'default - no refit (per seed) | default - unscaled (per seed) | epochs chosen '
             '-> scaled | seconds (no refit / default) |',
             '| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- |']
    for data, model, runs in rows:
        plain, same, scaled = (np.array([r[key][0] for r in runs])
                               for key in ('none', False, True))
        lines.append(f'| {data} | {model} | {_cell(plain)} | {_cell(same)} | {_cell(scaled)} | '
                     + ' | '.join(f'{d.mean():+.4f} ({", ".join(f"{x:+.4f}" for x in d)})'
                                  for d in (scaled - plain, scaled - same))
                     + ' | ' + ', '.join(f"{r['chosen']} -> {r['epochs_True']}" for r in runs)
                     + f' | {np.mean([r["none"][1] for r in runs]):.1f} / '
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
            print(data, model, [tuple(round(r[key][0], 4) for key in ('none', False, True))
                                for r in runs], flush=True)
    import mxnet as mx
    header = (f'`python scripts/benchmarks/refit.py --data {" ".join(args.data)} --models '
              f'{" ".join(args.models)} --seeds {" ".join(map(str, args.seeds))}`; machine: '
              f'{machine({"gluonrec": gr.__version__, "mxnet": mx.__version__})}')
    publish(section(rows, args.seeds, header), args.results, 'refit',
            write=not args.no_write)
    return 0


if __name__ == '__main__':
    sys.exit(main())
