#!/usr/bin/env python
"""Train a recommender on MovieLens ratings and save it (default models/movielens)."""
import argparse
import os
import sys

from gluonrec.cli import (ScriptError, add_training_args, configure_logging,
                          default_data_dir, run_main, train_and_save)
from gluonrec.data import fetch, load_movielens


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__ + ' Reads ml-100k (u.data + u.item), ml-1m/10m (ratings.dat + '
        'movies.dat) or ml-latest/20m/25m (ratings.csv + movies.csv); the layout is '
        'detected.', formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
    path = args.data
    if path is None:
        path = default_data_dir('ml-100k')
        if not os.path.isfile(os.path.join(path, 'u.data')):
            if args.no_download:
                raise ScriptError(f'no ml-100k in {path}; pass --data PATH or set '
                                  'GLUONREC_DATA')
            path = fetch('ml-100k', os.path.dirname(path))
    ratings = load_movielens(path)
    train_and_save(ratings, args, extra={'data': ratings.name})


def main(argv=None):
    return run_main(body, argv, 'train_movielens.py')


if __name__ == '__main__':
    sys.exit(main())
