#!/usr/bin/env python
"""Print the jokes that make the same people laugh as a given joke.

Ranks jokes by the cosine similarity of their item factors in a model saved by
train_jester.py. JOKE_ID is the raw joke id as in the Jester files (1..150). The
original MXNet blog passed a 0-based position instead: its example "9" is joke 10 here
(the cannibals-and-clown joke).
"""
import argparse
import os
import sys

from gluonrec.cli import (ScriptError, add_model_dir_args, positive_int, print_json,
                          run_main)
from gluonrec.data import load_jester_jokes
from gluonrec import load_model
from gluonrec.similarity import similar_items


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('joke_id', help='raw joke id, as in jester_ratings.dat')
    add_model_dir_args(parser, os.path.join('models', 'jester'))
    parser.add_argument('--jokes', metavar='PATH',
                        help='jester_items.dat (default: the texts saved with the model)')
    parser.add_argument('-k', type=positive_int, default=3,
                        help='how many similar jokes to show (default: %(default)s)')
    return parser


def body(argv):
    args = build_parser().parse_args(argv)
    rec = load_model(args.model_dir)
    if args.jokes:
        rec.item_names = load_jester_jokes(args.jokes)
    query = _parse_id(args.joke_id, rec)
    neighbours = similar_items(rec, query, k=args.k)
    if args.json:
        print_json({'joke': query, 'text': rec.item_name(query),
                    'similar': [{'joke': j, 'score': s, 'text': rec.item_name(j)}
                                for j, s in neighbours]})
        return 0
    print('Jokes making same people laugh compared to:')
    print(f'[{query}] {rec.item_name(query) or "(no text)"}\n')
    for rank, (joke, score) in enumerate(neighbours, start=1):
        print(f'{rank}. joke {joke} (cosine {score:.3f})')
        print(f'{rec.item_name(joke) or "(no text)"}\n')
    return 0


def _parse_id(text, rec):
    value = rec.item_map.canonical(text)
    if value is None:
        raise ScriptError(f'unknown joke id {text!r}: the model knows ids '
                          f'{rec.item_map.raw_ids.min()}..{rec.item_map.raw_ids.max()} '
                          f'({len(rec.item_map)} jokes)')
    return value


def main(argv=None):
    return run_main(body, argv, 'similar_items.py')


if __name__ == '__main__':
    sys.exit(main())
