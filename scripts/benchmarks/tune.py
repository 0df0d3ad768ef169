#!/usr/bin/env python
"""Grid search of training settings on a validation slice of the training data.

Protocol: a seeded 80/20 split of the data set into train and test; 10% of train is
carved out as the validation slice; every setting trains on the rest of train and is
ranked by its best validation RMSE (early stopping on that slice). The test part is
never looked at here. The winners become gluonrec.presets.
"""
import argparse
import itertools
import os
import sys
import time

from gluonrec import load_dataset, random_split, train_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--data', choices=['jester', 'ml-100k'], default='jester')
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA', '../shared/data'))
    parser.add_argument('--model', default='biased_mf')
    parser.add_argument('--optimizer', default='adagrad')
    parser.add_argument('--batch-size', type=int, nargs='+', default=[1024, 4096])
    parser.add_argument('--lr', type=float, nargs='+', default=[0.05, 0.1, 0.2])
    parser.add_argument('--reg', type=float, nargs='+', default=[0.01, 0.02, 0.04])
    parser.add_argument('--num-factors', type=int, nargs='+', default=[16])
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--engine', choices=['generic', 'fused'], default='generic',
                        help='presets are per engine: the fused one updates per rating')
    args = parser.parse_args(argv)
    ratings = load_dataset(args.data, root=args.root)
    train, _test = random_split(ratings, 0.2, seed=0)
    fit_part, val = random_split(train, 0.1, seed=1)
    print(f'{args.data}: tuning {args.model}/{args.optimizer} ({args.engine} engine) on {len(fit_part)} ratings, '
          f'validating on {len(val)} (test part untouched)')
    print(f'{"batch":>6}{"lr":>7}{"reg":>7}{"k":>4}{"val_rmse":>10}{"epoch":>6}{"sec":>7}')
    results = []
    for bs, lr, reg, k in itertools.product(args.batch_size, args.lr, args.reg,
                                            args.num_factors):
        tic = time.time()
        result = train_model(fit_part, val, model=args.model, num_factors=k, batch_size=bs,
                             optimizer=args.optimizer, lr=lr, reg=reg, wd=0.0,
                             epochs=args.epochs, patience=3, sparse_grad=True, ctx='cpu',
                             engine=args.engine)
        best = result.history.best()
        results.append((best['val_rmse'], bs, lr, reg, k))
        print(f'{bs:>6}{lr:>7g}{reg:>7g}{k:>4}{best["val_rmse"]:>10.4f}{best["epoch"]:>6}'
              f'{time.time() - tic:>7.1f}', flush=True)
    best = min(results)
    print(f'best: batch {best[1]}, lr {best[2]:g}, reg {best[3]:g}, k {best[4]}: '
          f'val RMSE {best[0]:.4f}')


if __name__ == '__main__':
    sys.exit(main())
