#!/usr/bin/env python
"""Train a recommender on the Jester joke ratings and save it (default models/jester)."""
import argparse
import logging
import os
import sys

from gluonrec.cli import (ScriptError, add_training_args, configure_logging,
                          default_data_dir, run_main, train_and_save)
from gluonrec.data import fetch, load_jester, load_jester_jokes, make_synthetic

logger = logging.getLogger('train_jester')

# Looked for, in order, in DATA/jester (DATA: $GLUONREC_DATA or the checkout's data/).
RATING_FILES = ('jester_ratings.dat', 'jester_ratings.dat.gz', 'ratings.dat.gz',
                'ratings.dat', 'jester_ratings.csv')


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__ + ' Ratings are min-max scaled for training (to (-1, 1), or '
        '(0, 1) for non-negative models) and reported on the -10..10 scale.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = parser.add_argument_group('data')
    data.add_argument('--ratings', metavar='PATH',
                      help='Jester dataset-2 jester_ratings.dat or its CSV form, plain or '
                           'gzip (default: the first of %s in $GLUONREC_DATA/jester or '
                           "data/jester, downloaded when absent)" % ', '.join(RATING_FILES))
    data.add_argument('--jokes', metavar='PATH',
                      help='jester_items.dat with the joke texts (default: beside the '
                           'ratings in the data folder, if there)')
    data.add_argument('--synthetic', action='store_true',
                      help='train on generated Jester-like ratings (offline demo)')
    data.add_argument('--no-download', action='store_true',
                      help='fail instead of downloading missing data')
    add_training_args(parser, 'jester', out=os.path.join('models', 'jester'))
    return parser


def find_ratings(args):
    """The ratings (and jokes) file to use, downloading dataset 2 when nothing is there."""
    if args.ratings:
        return args.ratings, args.jokes
    folder = default_data_dir('jester')
    for name in RATING_FILES:
        if os.path.isfile(os.path.join(folder, name)):
            break
    else:
        if args.no_download:
            raise ScriptError(f'no Jester ratings in {folder}; pass --ratings PATH, set '
                              'GLUONREC_DATA, or use --synthetic')
        folder = fetch('jester', os.path.dirname(folder))
        name = 'jester_ratings.dat'
    jokes = args.jokes or os.path.join(folder, 'jester_items.dat')
    return os.path.join(folder, name), jokes if os.path.isfile(jokes) else None


def body(argv):
    args = build_parser().parse_args(argv)
    configure_logging()
    if args.synthetic:
        ratings = make_synthetic(num_users=2000, num_items=150, num_ratings=60000,
                                 seed=args.seed, name='synthetic-jester')
        ratings.item_names = {i: f'(synthetic joke {i})' for i in range(1, 151)}
        source = {'data': 'synthetic'}
    else:
        path, jokes = find_ratings(args)
        ratings = load_jester(path)
        if jokes:
            ratings.item_names = load_jester_jokes(jokes)
        source = {'data': os.path.basename(path)}
    train_and_save(ratings, args, extra=source)


def main(argv=None):
    return run_main(body, argv, 'train_jester.py')


if __name__ == '__main__':
    sys.exit(main())
