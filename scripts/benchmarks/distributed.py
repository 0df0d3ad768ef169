#!/usr/bin/env python
"""Parameter-server training speed on one machine: 1, 2 and 4 workers against one process.

Trains biased MF (k=16, sparse gradients, Adam) on the 1.7M synthetic Jester-scale ratings
for a fixed number of batches per worker at a fixed global batch size, and reports
ratings per second for the whole job, the overhead share (per-batch time beyond a worker's
share of the same row_sparse model's time in one process: communication, plus contention
when workers outnumber cores), and the bytes a batch moves: row_sparse
(rows the batch touches, both ways) against the dense alternative (whole tables).

Each job is started with gluonrec.launch on 127.0.0.1. This machine has 2 cores, so
local scaling is flat or worse by construction: what the numbers show is the overhead
of the parameter server and that traffic follows the rows touched.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from _results import update_results

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(args):
    import gluonrec as gr
    import mxnet as mx
    from gluonrec.distributed import connect
    data = gr.load_dataset('synthetic-large', num_ratings=args.ratings)
    kv, rank, workers = connect(args.kvstore)

    class Stop:
        def __init__(self):
            self.start = None

        def on_batch_end(self, epoch, batch):
            if batch == 9:  # time from the 10th batch on: start-up and first pulls excluded
                mx.nd.waitall()
                self.start = time.perf_counter()
            return batch + 1 >= args.batches

        def __call__(self, record):
            return False

    stop = Stop()
    it = gr.train_model(data, model='biased_mf', val_fraction=0, num_factors=16, epochs=1,
                        batch_size=args.batch_size, optimizer='adam', lr=0.01, reg=0.0,
                        wd=0.0, patience=0, sparse_grad=True,
                        row_sparse_weights=args.row_sparse, ctx='cpu', kvstore=kv,
                        callbacks=[stop]).train_iter
    mx.nd.waitall()
    seconds = time.perf_counter() - stop.start
    timed = (args.batches - 10) * (args.batch_size // workers)
    # traffic of the batches this worker saw: distinct rows per table, per batch
    order = it.epoch_indices()[:args.batches * it.batch_size].reshape(args.batches, -1)
    users = np.mean([len(np.unique(it._user[b])) for b in order])
    items = np.mean([len(np.unique(it._item[b])) for b in order])
    with open(os.path.join(args.out, f'rank-{rank}.json'), 'w') as out:
        json.dump({'rank': rank, 'workers': workers, 'seconds': seconds, 'ratings': timed,
                   'rows_user': float(users), 'rows_item': float(items),
                   'num_users': data.num_users, 'num_items': data.num_items}, out)
    return 0


def run(workers, servers, args, kvstore, row_sparse):
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, os.path.abspath(__file__), '--role-worker', '--out', out,
               '--kvstore', kvstore, '--batches', str(args.batches), '--batch-size',
               str(args.batch_size), '--ratings', str(args.ratings)] + \
            (['--row-sparse'] if row_sparse else [])
        if kvstore.startswith('dist'):
            cmd = [sys.executable, '-m', 'gluonrec.launch', '-n', str(workers), '-s',
                   str(servers), '--timeout', '900', '--'] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f'job failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}')
        ranks = [json.load(open(os.path.join(out, name))) for name in sorted(os.listdir(out))]
    seconds = max(r['seconds'] for r in ranks)
    return {'rate': sum(r['ratings'] for r in ranks) / seconds, 'ranks': ranks,
            'per_batch': seconds / (args.batches - 10)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--ratings', type=int, default=1_700_000)
    parser.add_argument('--batch-size', type=int, default=4096, help='global batch size')
    parser.add_argument('--batches', type=int, default=110, help='batches per worker')
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'),
                        help='Markdown file to update (default: %(default)s); "-" for none')
    parser.add_argument('--role-worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    parser.add_argument('--kvstore', default='device', help=argparse.SUPPRESS)
    parser.add_argument('--row-sparse', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role_worker:
        return worker(args)
    dense = run(1, 0, args, 'device', False)
    local_rs = run(1, 0, args, 'device', True)
    lines = [f'{"setting":<44}{"ratings/s":>12}{"vs 1 process":>14}{"overhead":>10}']
    lines.append(f'{"one process, hybridized (sparse gradients)":<44}{dense["rate"]:>12,.0f}'
                 f'{1:>13.2f}x')
    lines.append(f'{"one process, row_sparse tables (imperative)":<44}'
                 f'{local_rs["rate"]:>12,.0f}{local_rs["rate"] / dense["rate"]:>13.2f}x')
    traffic = None
    for workers in args.workers:
        job = run(workers, 1, args, 'dist_sync', True)
        # per-batch compute of one worker's share, from the one-process row_sparse run
        compute = local_rs['per_batch'] / workers
        share = max(0.0, 1 - compute / job['per_batch'])
        lines.append(f'{f"dist_sync, {workers} worker(s), 1 server":<44}{job["rate"]:>12,.0f}'
                     f'{job["rate"] / dense["rate"]:>13.2f}x{share:>10.0%}')
        traffic = job['ranks'][0]
    k, floats = 16, 4
    rows = traffic['rows_user'] + traffic['rows_item']
    sparse_bytes = 2 * rows * ((k + 1) * floats + 8)  # factors + bias + row id, push and pull
    dense_bytes = 2 * (traffic['num_users'] + traffic['num_items']) * (k + 1) * floats
    summary = (f'Bytes per batch per worker ({traffic["workers"]} workers): row_sparse '
               f'{sparse_bytes:,.0f} ({traffic["rows_user"]:.0f} user + '
               f'{traffic["rows_item"]:.0f} item rows touched, pushed and pulled) against '
               f'{dense_bytes:,.0f} for whole tables (all {traffic["num_users"]:,} + '
               f'{traffic["num_items"]} rows): {dense_bytes / sparse_bytes:,.0f}x less.')
    head = (f'biased_mf k=16, global batch {args.batch_size}, {args.batches} batches per '
            f'worker (first 10 untimed), {args.ratings:,} synthetic ratings, one machine with '
            f'{os.cpu_count()} cores')
    section = '\n'.join(['## Parameter-server training on one machine', '',
                          '`python scripts/benchmarks/distributed.py`: ' + head, '', '```',
                          *lines, '```', '', summary])
    print(section)
    if args.results != '-':
        update_results(args.results, 'distributed', section)
    return 0


if __name__ == '__main__':
    sys.exit(main())
