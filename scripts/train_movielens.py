#!/usr/bin/env python
"""Train a recommender on MovieLens ratings and save it (default models/movielens)."""
import argparse
import os
import sys

from gluonrec.cli import (HelpFormatter, ScriptError, add_training_args, configure_logging,
                          run_main, train_and_save)
from gluonrec.data import load_dataset


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__ + ' Reads ml-100k (u.data + u.item), ml-1m/10m (ratings.dat + '
        'movies.dat) or ml-latest/20m/25m (ratings.csv + movies.csv); the layout is '
        'detected.', formatter_class=HelpFormatter)
    parser.add_argument('--data', metavar='PATH',
                        help='MovieLens folder or ratings file (default: ml-100k in '
                             '$GLUONREC_DATA or data/, downloaded when absent)')
    parser.add_argument('--no-download', action='store_true',
                        help='fail instead of downloading missing data')
    add_training_args(parser, 'movielens', out=os.path.join('models', 'movielens'))
    return parser


def body(argv):
    args = build_parser().parse_args(argv)
    configure_logging()
    if args.data:
        ratings = load_dataset(args.data)
    else:
        try:
            ratings = load_dataset('ml-100k', download=not args.no_download)
        except FileNotFoundError as exc:
            raise ScriptError(f'{exc}; or pass --data PATH') from None
    train_and_save(ratings, args, extra={'data': ratings.name})


def main(argv=None):
    return run_main(body, argv, 'train_movielens.py')


if __name__ == '__main__':
    sys.exit(main())
