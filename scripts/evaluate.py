#!/usr/bin/env python
"""Evaluate a saved model on the held-out split saved with it.

Prints RMSE, MAE and rounded MAE on the original rating scale, and precision, recall,
MAP and NDCG at k of top-k lists drawn from the items each user did not rate in
training. Relevant items: held-out ratings >= --threshold, or else each user's top
--top-quantile share of held-out ratings.
"""
import argparse
import sys

from gluonrec.cli import ScriptError, print_json, run_main
from gluonrec.evaluation import evaluate_recommender
from gluonrec.persist import load_model


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model-dir', required=True, help='model folder')
    parser.add_argument('-k', type=int, default=10, help='list length (default: %(default)s)')
    parser.add_argument('--threshold', type=float,
                        help='relevant: held-out rating >= this value')
    parser.add_argument('--top-quantile', type=float, default=0.15,
                        help="relevant: the user's top share of held-out ratings, used when "
                             'no --threshold is given (default: %(default)s)')
    parser.add_argument('--json', action='store_true', help='print JSON instead of text')
    return parser


def body(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error(f'-k must be >= 1, got {args.k}')
    if args.threshold is None and not 0 < args.top_quantile <= 1:
        parser.error(f'--top-quantile must lie in (0, 1], got {args.top_quantile}')
    rec = load_model(args.model_dir)
    if rec.test is None:
        raise ScriptError(f'{args.model_dir}: no held-out split (test.npz) saved with it')
    rule = {'threshold': args.threshold} if args.threshold is not None else \
        {'top_quantile': args.top_quantile}
    results = evaluate_recommender(rec, rec.test, k=args.k, **rule)
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
