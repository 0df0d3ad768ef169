#!/usr/bin/env python
"""AutoRec's two ways of computing a batch, in one run: the sparse path (a sparse
product for the codes, one decoder row gathered per rating) against the dense path
(gathered blocks and two dense products; the default), per epoch, for I- and U-AutoRec
with each family's preset, on compare.py's seeded 80/20 split.

Both paths have the same objective, gradients and updated rows, so their validation
RMSE after the same epochs must agree (checked). ``--full`` also trains the family's
AutoRec preset to its end both ways and reports test RMSE. Writes a section of
RESULTS.md (``--no-write``: print only).
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
from gluonrec.presets import preset  # noqa: E402
from _report import machine  # noqa: E402
from _results import publish  # noqa: E402

FAMILY = {'ml-100k': 'movielens', 'jester': 'jester'}


def train(train_part, test, family, user_based, dense, epochs):
    result = gr.train_model(train_part, test, model='autorec', family=family, epochs=epochs,
                            patience=0, refit=False, ctx='cpu', seed=0,
                            model_kwargs={'user_based': user_based, 'dense': dense})
    seconds = [r['seconds'] for r in result.history]
    return {'seconds': float(np.mean(seconds[1:] if len(seconds) > 1 else seconds)),
            'val': result.history[-1]['val_rmse'],
            'test': gr.evaluate(result.net, test, result.scaler)['rmse']}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA', '../shared/data'))
    parser.add_argument('--data', nargs='+', default=['ml-100k', 'jester'],
                        choices=sorted(FAMILY))
    parser.add_argument('--epochs', type=int, default=4,
                        help='epochs per timing run (the first is left out of the mean)')
    parser.add_argument('--full', action='store_true',
                        help="also train each family's AutoRec preset to its end both ways")
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    start = time.time()
    rows, full = [], []
    for name in args.data:
        ratings = gr.load_dataset(name, root=args.root, download=False)
        train_part, test = gr.random_split(ratings, 0.2, seed=0)
        family = FAMILY[name]
        for user_based in (False, True):
            runs = {dense: train(train_part, test, family, user_based, dense, args.epochs)
                    for dense in (False, True)}
            agree = abs(runs[True]['val'] - runs[False]['val']) <= 1e-4 * runs[False]['val']
            rows.append((name, 'U' if user_based else 'I', runs, agree))
            print(rows[-1], flush=True)
        if args.full:
            settings = preset(family, 'autorec')
            user_based = settings['model_kwargs'].get('user_based', False)
            runs = {dense: train(train_part, test, family, user_based, dense,
                                 settings['epochs']) for dense in (False, True)}
            full.append((name, 'U' if user_based else 'I', settings['epochs'], runs))
            print(full[-1], flush=True)
    lines = ['## AutoRec: the dense path against the sparse one (autorec.py)', '',
             f'Command: `python scripts/benchmarks/autorec.py{" --full" if args.full else ""}`'
             f' ({time.time() - start:.0f} s). ' +
             machine({'mxnet': mx.__version__, 'numpy': np.__version__}), '',
             f"Each family's AutoRec preset (hidden 500, Adam, batches of whole rows) for "
             f'{args.epochs} epochs on the 80% of the seeded 80/20 split; seconds per '
             'epoch are the mean of the epochs after the first; validation RMSE on the 20%.',
             '', '| data | AutoRec | sparse s/epoch | dense s/epoch | speed-up | val RMSE '
             'sparse | val RMSE dense | same |', '| --- | --- | ---: | ---: | ---: | ---: | '
             '---: | --- |']
    for name, side, runs, agree in rows:
        lines.append(f'| {name} | {side}-AutoRec | {runs[False]["seconds"]:.3f} | '
                     f'{runs[True]["seconds"]:.3f} | '
                     f'{runs[False]["seconds"] / runs[True]["seconds"]:.1f}x | '
                     f'{runs[False]["val"]:.4f} | {runs[True]["val"]:.4f} | '
                     f'{"yes" if agree else "NO"} |')
    if full:
        lines += ['', "The family's preset trained to its end (test RMSE on the 20%):", '',
                  '| data | AutoRec | epochs | sparse test RMSE | dense test RMSE | '
                  'difference | sparse s/epoch | dense s/epoch |',
                  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |']
        for name, side, epochs, runs in full:
            diff = runs[True]['test'] / runs[False]['test'] - 1
            lines.append(f'| {name} | {side}-AutoRec | {epochs} | {runs[False]["test"]:.4f} | '
                         f'{runs[True]["test"]:.4f} | {diff:+.3%} | '
                         f'{runs[False]["seconds"]:.3f} | {runs[True]["seconds"]:.3f} |')
    publish('\n'.join(lines), os.path.join(HERE, 'RESULTS.md'), 'autorec',
            write=not args.no_write)
    return 0 if all(agree for *_, agree in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
