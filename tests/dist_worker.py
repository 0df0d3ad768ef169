"""A training worker for the distributed tests (run by gluonrec.launch, not by pytest).

Trains on fixed synthetic data and writes its final parameters and validation RMSE to
OUT/rank-<rank>.npz and .json, so the test can compare workers and a single process.
"""
import argparse
import json
import os
import signal
import sys

import numpy as np

from gluonrec import train_model
from gluonrec.data import make_synthetic, random_split
from gluonrec.distributed import connect, dense_copy


class _DieAt:
    """Kill this process (SIGKILL, no clean-up) at the start of an epoch's 3rd batch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, epoch, batch):
        if epoch == self.epoch and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    def __call__(self, record):
        return False


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--kvstore', default='device')
    parser.add_argument('--model', default='biased_mf')
    parser.add_argument('--sparse', action='store_true')
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--batch-size', type=int, default=256, help='global batch size')
    parser.add_argument('--die-at-epoch', type=int, help='rank 1 kills itself then')
    args = parser.parse_args(argv)
    ratings = make_synthetic(400, 60, 12000, rank=3, noise=0.05, seed=0)
    train, val = random_split(ratings, 0.2, seed=0)
    kv, rank, workers = connect(args.kvstore)
    die = _DieAt(args.die_at_epoch) if args.die_at_epoch is not None and rank == 1 else None
    result = train_model(train, val, model=args.model, num_factors=8, epochs=args.epochs,
                         batch_size=args.batch_size, optimizer='adam', lr=0.02, reg=0.0,
                         wd=0.0, patience=0, sparse_grad=args.sparse, seed=0, ctx='cpu',
                         kvstore=kv, callbacks=[die] if die else ())
    history = result.history
    params = {name: p.data().asnumpy()
              for name, p in dense_copy(result.net)._collect_params_with_prefix().items()}
    np.savez(os.path.join(args.out, f'rank-{rank}.npz'), **params)
    with open(os.path.join(args.out, f'rank-{rank}.json'), 'w') as out:
        json.dump({'rank': rank, 'workers': workers, 'val_rmse': history[-1]['val_rmse'],
                   'epochs': len(history)}, out)
    print(f'rank {rank}: val RMSE {history[-1]["val_rmse"]:.4f}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
