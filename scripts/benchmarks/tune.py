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

from gluonrec.data import MinMaxScaler, RatingIter, load_jester, load_movielens, random_split
from gluonrec.models import get_model
from gluonrec.train import fit


def load(name, root):
    if name == 'jester':
        return load_jester(os.path.join(root, 'jester', 'ratings.dat.gz'))
    return load_movielens(os.path.join(root, 'ml-100k'))


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
    args = parser.parse_args(argv)
    ratings = load(args.data, args.root)
    train, _test = random_split(ratings, 0.2, seed=0)
    fit_part, val = random_split(train, 0.1, seed=1)
    print(f'{args.data}: tuning {args.model}/{args.optimizer} on {len(fit_part)} ratings, '
          f'validating on {len(val)} (test part untouched)')
    print(f'{"batch":>6}{"lr":>7}{"reg":>7}{"k":>4}{"val_rmse":>10}{"epoch":>6}{"sec":>7}')
    results = []
    for bs, lr, reg, k in itertools.product(args.batch_size, args.lr, args.reg,
                                            args.num_factors):
        net = get_model(args.model, num_users=ratings.num_users, num_items=ratings.num_items,
                        num_factors=k, sparse_grad=True)
        scaler = MinMaxScaler.from_scale(ratings.scale, net.feature_range)
        it = RatingIter.from_ratings(fit_part, scaler, batch_size=bs, seed=0)
        tic = time.time()
        history = fit(net, it, val, epochs=args.epochs, optimizer=args.optimizer,
                      learning_rate=lr, reg=reg, scaler=scaler, ctx='cpu', seed=0,
                      patience=3, log_interval=None, progress=False)
        best = history.best()
        results.append((best['val_rmse'], bs, lr, reg, k))
        print(f'{bs:>6}{lr:>7g}{reg:>7g}{k:>4}{best["val_rmse"]:>10.4f}{best["epoch"]:>6}'
              f'{time.time() - tic:>7.1f}', flush=True)
    best = min(results)
    print(f'best: batch {best[1]}, lr {best[2]:g}, reg {best[3]:g}, k {best[4]}: '
          f'val RMSE {best[0]:.4f}')


if __name__ == '__main__':
    sys.exit(main())
