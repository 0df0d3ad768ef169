#!/usr/bin/env python
"""Train a recommender on the Jester joke ratings and save it (default models/jester)."""
import argparse
import os
import sys

from gluonrec.cli import (HelpFormatter, ScriptError, add_training_args, configure_logging,
                          run_main, train_and_save)
from gluonrec.data import load_dataset, load_jester, load_jester_jokes
from gluonrec.data.sets import JESTER_RATING_FILES


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__ + ' Ratings are min-max scaled for training (to (-1, 1), or '
        '(0, 1) for non-negative models) and reported on the -10..10 scale.',
        formatter_class=HelpFormatter)
    data = parser.add_argument_group('data')
    data.add_argument('--ratings', metavar='PATH',
                      help='Jester dataset-2 jester_ratings.dat or its CSV form, plain or '
                           'gzip (default: the first of %s in $GLUONREC_DATA/jester or '
                           "data/jester, downloaded when absent)" % ', '.join(JESTER_RATING_FILES))
    data.add_argument('--jokes', metavar='PATH',
                      help='jester_items.dat with the joke texts (default: beside the '
                           'ratings in the data folder, if there)')
    data.add_argument('--synthetic', action='store_true',
                      help='train on generated Jester-like ratings (offline demo)')
    data.add_argument('--no-download', action='store_true',
                      help='fail instead of downloading missing data')
    add_training_args(parser, 'jester', out=os.path.join('models', 'jester'))
    return parser


def body(argv):
    args = build_parser().parse_args(argv)
    configure_logging()
    if args.synthetic:
        ratings = load_dataset('synthetic', seed=args.seed)
    elif args.ratings:
        ratings = load_jester(args.ratings, jokes=args.jokes)
    else:
        try:
            ratings = load_dataset('jester', download=not args.no_download)
        except FileNotFoundError as exc:
            raise ScriptError(f'{exc}; or pass --ratings PATH, or use --synthetic') from None
    if args.jokes and not (args.ratings or args.synthetic):
        ratings.item_names = load_jester_jokes(args.jokes)
    train_and_save(ratings, args, extra={'data': ratings.name})


def main(argv=None):
    return run_main(body, argv, 'train_jester.py')


if __name__ == '__main__':
    sys.exit(main())
