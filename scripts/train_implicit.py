#!/usr/bin/env python
"""Train a ranking model on implicit feedback and save it (default models/implicit).

Positives are the ratings >= --threshold (default: every rating) of a MovieLens folder,
Jester or a ratings file (--data), or the pairs of an implicit log such as a play log
(--log, one line per interaction). A test part is held
out first (--split: each user's positives at random, each user's latest, or a global cut
in time) and saved with the model for evaluate.py; the model validates, stops early and
is chosen on NDCG@k of a validation part of the rest, and is then refit on all of it
(--no-refit keeps the selection run's). Models: bpr_mf (BPR), gmf and neumf (NCF), ials
(implicit ALS) and ease (EASE).
"""
import argparse
import os
import sys

from gluonrec.cli import (HelpFormatter, ScriptError, add_ranking_args, add_training_args,
                          configure_logging, run_main, train_and_save)
from gluonrec.data import (k_core, leave_one_out, load_dataset, load_interactions, positives,
                           split_per_user, temporal_split)
from gluonrec.models import model_names

SPLITS = ('random', 'leave-one-out', 'temporal')


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument('--data', metavar='PATH', default='ml-100k',
                        help="'ml-100k', 'jester', or a data folder or ratings file "
                             '(default: %(default)s, from $GLUONREC_DATA or data/, downloaded '
                             'when absent)')
    parser.add_argument('--log', metavar='FILE',
                        help='an implicit log instead of --data: one line per interaction, '
                             'comma-separated fields named by --columns')
    parser.add_argument('--columns', default='user,item',
                        help="the --log fields in order: user, item, and optionally count "
                             "and timestamp (default: %(default)s)")
    parser.add_argument('--no-download', action='store_true',
                        help='fail instead of downloading missing data')
    parser.add_argument('--min-count', type=int, default=0,
                        help='drop users and items with fewer positives, repeatedly (a '
                             'k-core; RecBole\'s tables use 10; default: %(default)s, off)')
    parser.add_argument('--split', choices=SPLITS, default='random',
                        help="the test part: 'random' (a --test-fraction of each user's "
                             "positives), 'leave-one-out' (each user's latest, and the one "
                             "before it for validation), 'temporal' (the latest "
                             '--test-fraction of all, by time) (default: %(default)s)')
    parser.add_argument('--test-fraction', type=float, default=0.1,
                        help='share held out for test (default: %(default)s)')
    add_training_args(parser, 'movielens', out=os.path.join('models', 'implicit'))
    add_ranking_args(parser)
    parser.set_defaults(model='bpr_mf', val_fraction=1 / 9)
    for action in parser._actions:
        if action.dest == 'model':
            action.choices = model_names('ranking')
            action.help = 'ranking model (default: %(default)s)'
        if action.dest == 'val_fraction':
            action.help = ('share of the non-test positives of each user held out for '
                           'validation (default: 1/9, so 80/10/10 with the test part)')
    return parser


def _load(args):
    if args.log:
        return load_interactions(args.log, columns=args.columns.split(','))
    if args.data in ('ml-100k', 'jester'):
        try:
            return load_dataset(args.data, download=not args.no_download)
        except FileNotFoundError as exc:
            raise ScriptError(f'{exc}; or pass --data PATH') from None
    return load_dataset(args.data)


def body(argv):
    args = build_parser().parse_args(argv)
    configure_logging()
    if not 0 < args.test_fraction < 1:
        raise ScriptError(f'--test-fraction must lie strictly between 0 and 1, got '
                          f'{args.test_fraction}')
    if args.min_count < 0:
        raise ScriptError(f'--min-count must be >= 0, got {args.min_count}')
    ratings = _load(args)
    data = positives(ratings, args.threshold)
    args.threshold = None  # applied: what trains below are positives
    if args.min_count > 1:
        data = k_core(data, args.min_count, args.min_count)
    val = None
    if args.split == 'random':
        rest, test = split_per_user(data, (1 - args.test_fraction, args.test_fraction),
                                    seed=args.seed)
    elif args.split == 'temporal':
        rest, test = temporal_split(data, fraction=args.test_fraction)
    else:
        rest, val, test = leave_one_out(data)
    train_and_save(rest, args, extra={'data': ratings.name, 'split': args.split},
                   test=test, val=val)


def main(argv=None):
    return run_main(body, argv, 'train_implicit.py')


if __name__ == '__main__':
    sys.exit(main())
