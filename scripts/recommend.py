#!/usr/bin/env python
"""Top-N recommendations for a user, next to the titles the user rated highest.

USER_ID is the raw user id as in the rating files. Items the user rated in training
are never recommended.
"""
import argparse
import os
import sys

from gluonrec.cli import (ScriptError, add_model_dir_args, positive_int, print_json,
                          run_main)
from gluonrec import load_model
from gluonrec.recommend import recommend


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('user_id', help='raw user id, as in the ratings file')
    add_model_dir_args(parser, os.path.join('models', 'movielens'))
    parser.add_argument('-n', type=positive_int, default=10,
                        help='how many recommendations (default: %(default)s)')
    parser.add_argument('--fallback', choices=['popular', 'bias'],
                        help='for an unknown user, list popular or top-bias items '
                             'instead of failing')
    return parser


def body(argv):
    args = build_parser().parse_args(argv)
    rec = load_model(args.model_dir)
    user = rec.user_map.canonical(args.user_id)
    known = user is not None
    if not known:
        user = args.user_id
    if not known and args.fallback is None:
        raise ScriptError(f'unknown user {args.user_id!r}: not in the training data '
                          '(use --fallback popular for a default list)')
    recs = recommend(rec, user, n=args.n, fallback=args.fallback)
    liked = rec.top_rated(user, n=args.n) if known else []
    if args.json:
        print_json({'user': user, 'top_rated': [{'item': i, 'rating': r,
                                                 'title': rec.item_name(i)} for i, r in liked],
                    'recommended': [{'item': i, 'predicted': p, 'title': rec.item_name(i)}
                                    for i, p in recs]})
        return 0
    if liked:
        print(f'User {user} rated highest:')
        for item, rating in liked:
            print(f'  {rating:5.1f}  {rec.item_name(item) or item}')
        print()
    if not recs:
        print(f'User {user} has rated every item the model knows '
              f'({rec.train.num_items}); nothing is left to recommend.')
        return 0
    print(f'Recommended for user {user}' + ('' if known else ' (unknown user: fallback)') + ':')
    for item, predicted in recs:
        print(f'  {predicted:5.2f}  {rec.item_name(item) or item}')
    return 0


def main(argv=None):
    return run_main(body, argv, 'recommend.py')


if __name__ == '__main__':
    sys.exit(main())
