#!/usr/bin/env python
"""Matrix factorisation in PyTorch the way tutorials write it; results as JSON.

nn.Embedding dot product, MSELoss on the raw ratings, Adam, DataLoader with batch 128.
Run by compare.py, possibly with another interpreter (where torch lives).
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
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--k', type=int, default=16)
    parser.add_argument('--lr', type=float, default=0.01)
    parser.add_argument('--max-seconds', type=float, default=600.0,
                        help='stop after the epoch that passes this much training time')
    args = parser.parse_args(argv)
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    torch.manual_seed(0)
    train, test, meta = read_split(args.split)
    scale = tuple(meta['scale'])

    class MF(nn.Module):
        def __init__(self, n_users, n_items, k):
            super().__init__()
            self.user = nn.Embedding(n_users, k)
            self.item = nn.Embedding(n_items, k)
            nn.init.normal_(self.user.weight, std=0.1)
            nn.init.normal_(self.item.weight, std=0.1)

        def forward(self, u, i):
            return (self.user(u) * self.item(i)).sum(1)

    model = MF(meta['num_users'], meta['num_items'], args.k)
    loader = DataLoader(TensorDataset(torch.from_numpy(train['user'].astype(np.int64)),
                                      torch.from_numpy(train['item'].astype(np.int64)),
                                      torch.from_numpy(train['rating'].astype(np.float32))),
                        batch_size=128, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()
    tu = torch.from_numpy(test['user'].astype(np.int64))
    ti = torch.from_numpy(test['item'].astype(np.int64))
    curve, trained, epochs = [], 0.0, 0
    for epoch in range(args.epochs):
        tic = time.perf_counter()
        for u, i, r in loader:
            opt.zero_grad()
            loss = loss_fn(model(u, i), r)
            loss.backward()
            opt.step()
        trained += time.perf_counter() - tic
        epochs += 1
        with torch.no_grad():
            rmse, mae = scores(test['rating'], model(tu, ti).numpy(), scale)
        curve.append((trained, rmse))
        print(f'torch epoch {epoch + 1}: RMSE {rmse:.4f} ({trained:.1f} s)', file=sys.stderr,
              flush=True)
        if trained > args.max_seconds:
            break
    result = {'system': f'PyTorch tutorial MF (k={args.k}, Adam, batch 128)', 'rmse': rmse,
              'mae': mae, 'fit_seconds': trained, 'epochs': epochs,
              'ratings_per_sec': len(train['rating']) * epochs / trained, 'curve': curve,
              'best_rmse': min(c[1] for c in curve)}
    with open(args.out, 'w') as out:
        json.dump({'versions': {'torch': torch.__version__, 'numpy': np.__version__},
                   'results': [result]}, out, indent=1)


if __name__ == '__main__':
    sys.exit(main())
