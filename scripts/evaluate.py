#!/usr/bin/env python
"""Evaluate a saved model on the held-out split saved with it.

Prints RMSE, MAE and rounded MAE on the original rating scale, and precision, recall,
MAP and NDCG at k of top-k lists drawn from the items each user did not rate in
training. Relevant items: held-out ratings >= --threshold, or else each user's top
--top-quantile share of held-out ratings.

A ranking model (train_implicit.py) is scored by the full ranking of every item, its
training positives masked: precision, recall, MAP, NDCG, HR and MRR at k over its
held-out positives (--per-user CSV writes a row per user; --sampled N adds NCF's
sampled HR and NDCG among N negatives, for comparison with older papers only).
"""
import argparse
import sys

from gluonrec.cli import (ScriptError, add_model_dir_args, positive_int, print_json, run_main,
                          share)
from gluonrec.evaluation import evaluate_recommender
from gluonrec.ranking_eval import evaluate_ranking, sampled_metrics
from gluonrec import load_model
from gluonrec._io import write_text


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
    parser.add_argument('--per-user', metavar='CSV',
                        help='ranking models: also write each user\'s metrics to this file')
    parser.add_argument('--sampled', metavar='N', type=positive_int,
                        help="ranking models: also NCF's sampled HR@k and NDCG@k, each "
                             'held-out positive among N sampled negatives (misleading for '
                             'choosing models: Krichene and Rendle 2020)')
    return parser


def _ranking(rec, args):
    if args.threshold is not None:
        raise ScriptError('--threshold is for rating models; a ranking model\'s held-out '
                          'rows are all positives')
    scores, per_user = evaluate_ranking(rec, rec.train, rec.test, k=args.k, per_user=True)
    if args.sampled:
        scores.update({f'sampled_{key}': value for key, value in
                       sampled_metrics(rec, rec.train, rec.test, num_negatives=args.sampled,
                                       k=args.k).items()})
    if args.per_user:
        write_text(args.per_user, per_user.to_csv(index=False))
    return scores


def body(argv):
    args = build_parser().parse_args(argv)
    rec = load_model(args.model_dir)
    if rec.test is None:
        raise ScriptError(f'{args.model_dir}: no held-out split (test.npz) saved with it')
    extra = rec.config.get('extra', {})
    if extra.get('settings', {}).get('refit') and extra.get('held_out') != 'test':
        print(f'note: {args.model_dir} was refit on all its ratings, these held-out ones '
              'included (train_jester.py/train_movielens.py --no-refit keep them out): the '
              'scores below are optimistic', file=sys.stderr)
    if rec.net.task == 'ranking':
        return _report(_ranking(rec, args), args)
    if args.per_user or args.sampled:
        raise ScriptError('--per-user and --sampled are for ranking models')
    lo, hi = rec.scale
    if args.threshold is not None and not lo <= args.threshold <= hi:
        raise ScriptError(f'--threshold {args.threshold:g} lies outside the rating scale '
                          f'{lo:g}..{hi:g}: no held-out rating could be relevant')
    rule = {'threshold': args.threshold} if args.threshold is not None else \
        {'top_quantile': args.top_quantile}
    return _report(evaluate_recommender(rec, rec.test, k=args.k, **rule), args)


def _report(results, args):
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
