#!/usr/bin/env python
"""Evaluate a saved model on the held-out split saved with it.

Prints RMSE, MAE and rounded MAE on the original rating scale, and precision, recall,
MAP and NDCG at k of top-k lists drawn from the items each user did not rate in
training. Relevant items: held-out ratings >= --threshold, or else each user's top
--top-quantile share of held-out ratings.
"""
import argparse
import sys

from gluonrec.cli import (ScriptError, add_model_dir_args, positive_int, print_json, run_main,
                          share)
from gluonrec.evaluation import evaluate_recommender
from gluonrec import load_model


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_dir_args(parser)
    parser.add_argument('-k', type=positive_int, default=10,
                        help='list length (default: %(default)s)')
    parser.add_argument('--threshold', type=float,
                        help='relevant: held-out rating >= this value')
    parser.add_argument('--top-quantile', type=share, default=0.15,
                        help="relevant: the user's top share of held-out ratings, used when "
                             'no --threshold is given (default: %(default)s)')
    return parser


def body(argv):
    args = build_parser().parse_args(argv)
    rec = load_model(args.model_dir)
    if rec.test is None:
        raise ScriptError(f'{args.model_dir}: no held-out split (test.npz) saved with it')
    lo, hi = rec.scale
    if args.threshold is not None and not lo <= args.threshold <= hi:
        raise ScriptError(f'--threshold {args.threshold:g} lies outside the rating scale '
                          f'{lo:g}..{hi:g}: no held-out rating could be relevant')
    rule = {'threshold': args.threshold} if args.threshold is not None else \
        {'top_quantile': args.top_quantile}
    results = evaluate_recommender(rec, rec.test, k=args.k, **rule)
    refit = rec.config.get('extra', {}).get('settings', {}).get('refit')
    if refit:
        print(f'note: {args.model_dir} was refit on all its ratings, these held-out ones '
              'included (train_jester.py/train_movielens.py --no-refit keep them out): the '
              'scores below are optimistic', file=sys.stderr)
    if args.json:
        print_json(results)
        return 0
    for key, value in results.items():
        print(f'{key:>14}: {value:.4f}' if isinstance(value, float) else f'{key:>14}: {value}')
    return 0


def main(argv=None):
    return run_main(body, argv, 'evaluate.py')


if __name__ == '__main__':
    sys.exit(main())
