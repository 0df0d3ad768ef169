#!/usr/bin/env python
"""Top-N recommendations for a user, next to the titles the user rated highest.

USER_ID is the raw user id as in the rating files. Items the user rated in training
are never recommended.

A new user needs no retraining: --ratings 50:5,181:4,288:1 (or a file of item,rating
lines) folds them into the model (its item side fixed, only the user's factors fitted)
and recommends at once; --save-as ID keeps them in the model folder under that id.
"""
import argparse
import os
import sys

from gluonrec.cli import (ScriptError, add_model_dir_args, check_new_user_id, positive_int,
                          print_json, read_ratings_arg, run_main, save_new_user)
from gluonrec import load_model
from gluonrec.foldin import preferred_reg
from gluonrec.recommend import recommend
from gluonrec.recommender import UNKNOWN


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('user_id', nargs='?',
                        help='raw user id, as in the ratings file (not with --ratings)')
    add_model_dir_args(parser, os.path.join('models', 'movielens'))
    parser.add_argument('-n', type=positive_int, default=10,
                        help='how many recommendations (default: %(default)s)')
    parser.add_argument('--unknown', choices=UNKNOWN, default='error',
                        help="for a user the model never saw: fail ('error'), or list "
                             "the items best for an average user ('baseline') or the most "
                             "rated ones ('popular') (default: %(default)s)")
    parser.add_argument('--fallback', choices=['popular', 'bias'], dest='unknown',
                        help=argparse.SUPPRESS)  # the older name of --unknown
    parser.add_argument('--ratings', metavar='LIST_OR_FILE',
                        help="a new user's ratings, item:rating,... or a file of item,rating "
                             'lines: recommend for them without retraining')
    parser.add_argument('--save-as', metavar='USER_ID',
                        help='with --ratings: add the new user to the model folder under '
                             'this id')
    return parser


def _new_user(rec, args):
    """Fold the --ratings user in (and save them with --save-as): (view, raw id)."""
    if args.user_id is not None:
        raise ScriptError('give a USER_ID or --ratings, not both')
    check_new_user_id(rec, args.save_as, args.model_dir)
    ratings = read_ratings_arg(args.ratings, rec)
    if args.save_as is not None:
        return save_new_user(rec, args.model_dir, ratings, args.save_as)
    view = rec.fold_in(ratings, reg=preferred_reg(rec))
    return view, view.user_map.to_raw(len(view.user_map) - 1)


def body(argv):
    args = build_parser().parse_args(argv)
    rec = load_model(args.model_dir)
    if args.ratings is not None:
        rec, args.user_id = _new_user(rec, args)
    elif args.user_id is None:
        raise ScriptError('give a USER_ID, or a new user\'s --ratings')
    elif args.save_as is not None:
        raise ScriptError('--save-as goes with --ratings')
    user = rec.user_map.canonical(args.user_id)
    known = user is not None
    if not known:
        user = args.user_id
    if not known and args.unknown == 'error':
        raise ScriptError(f'unknown user {args.user_id!r}: not in the training data '
                          '(use --unknown popular or --unknown baseline for a default list)')
    recs = recommend(rec, user, n=args.n, unknown=args.unknown)
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
    whose = '' if known else f' (unknown user: {args.unknown} fallback)'
    print(f'Recommended for user {user}{whose}:')
    for item, predicted in recs:
        print(f'  {predicted:5.2f}  {rec.item_name(item) or item}')
    return 0


def main(argv=None):
    return run_main(body, argv, 'recommend.py')


if __name__ == '__main__':
    sys.exit(main())
