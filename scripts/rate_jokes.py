#!/usr/bin/env python
"""Rate a few jokes, get the jokes you will like: fold-in without retraining.

Shows the gauge jokes (the ones nearly every Jester user rated, found in the model's
training data; or --items), reads your rating of each from -10 (not funny) to 10
(very funny), folds you into the model saved by train_jester.py (its item side fixed,
only your factors fitted) and prints the jokes it predicts you will like best. Then it
offers those for rating too, and refines.

Type a number for each joke, s to skip it, q to stop rating. With --ratings nothing is
asked: 7:3.5,8:-2.1 (or a file of joke,rating lines) goes straight to the list.
--save-as ID keeps you in the model folder, so recommend.py and similar tools know ID.
"""
import argparse
import os
import sys

from gluonrec.cli import (HelpFormatter, ScriptError, add_model_dir_args, check_new_user_id,
                          positive_int, print_json, read_ratings_arg, run_main, save_new_user)
from gluonrec import load_model
from gluonrec.foldin import gauge_items, preferred_reg
from gluonrec.recommend import recommend

PROMPT = 'Your rating (-10..10, s to skip, q to stop): '


class _Done(Exception):
    """The user typed q or closed the input."""


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_model_dir_args(parser, os.path.join('models', 'jester'))
    parser.add_argument('--items', metavar='IDS',
                        help='comma-separated joke ids to rate first (default: the 10 '
                             'most rated jokes of the training data, the gauge set)')
    parser.add_argument('--ratings', metavar='LIST_OR_FILE',
                        help='do not ask: ratings as 7:3.5,8:-2.1 or a file of joke,rating '
                             'lines')
    parser.add_argument('-n', type=positive_int, default=5,
                        help='how many jokes to recommend')
    parser.add_argument('--save-as', metavar='USER_ID',
                        help='add yourself to the model folder under this user id')
    return parser


def _ask(rec, joke, low, high, stream, out):
    """One rating from the terminal: a number in range, None to skip; re-asks on bad
    input; ``_Done`` on q or end of input."""
    print(f'\nJoke {joke}:\n{rec.item_name(joke) or "(no text)"}', file=out)
    while True:
        print(PROMPT, end='', flush=True, file=out)
        line = stream.readline()
        if not line:
            print(file=out)
            raise _Done
        if not stream.isatty():  # piped answers: show them, so the transcript reads well
            print(line.rstrip('\n'), file=out)
        answer = line.strip().lower()
        if answer in ('q', 'quit'):
            raise _Done
        if answer in ('s', 'skip', ''):
            return None
        try:
            value = float(answer)
        except ValueError:
            value = None
        if value is not None and low <= value <= high:
            return value
        print(f'  Please type a number from {low:g} to {high:g}, s to skip or q to stop.',
              file=out)


def _rate(rec, jokes, ratings, stream, out):
    """Ask about each joke not yet rated; True while the user wants to go on."""
    low, high = rec.scale
    for joke in jokes:
        if joke in ratings:
            continue
        try:
            value = _ask(rec, joke, low, high, stream, out)
        except _Done:
            return False
        if value is not None:
            ratings[joke] = value
    return True


def _recommend(rec, ratings, n):
    """The top ``n`` jokes for a new user with these ratings (folded in, not saved)."""
    view = rec.fold_in(ratings, reg=preferred_reg(rec))
    return recommend(view, view.user_map.to_raw(len(view.user_map) - 1), n=n)


def _show(rec, picks, out):
    print('\nJokes for you, best first:', file=out)
    for rank, (joke, predicted) in enumerate(picks, start=1):
        print(f'\n{rank}. joke {joke} (predicted {predicted:+.1f})', file=out)
        print(rec.item_name(joke) or '(no text)', file=out)


def _jokes(text, rec):
    jokes = []
    for part in text.split(','):
        joke = rec.item_map.canonical(part.strip())
        if joke is None:
            raise ScriptError(f'--items: unknown joke {part.strip()!r}')
        jokes.append(joke)
    return jokes


def body(argv):
    args = build_parser().parse_args(argv)
    rec = load_model(args.model_dir)
    check_new_user_id(rec, args.save_as, args.model_dir)
    # With --json, stdout carries the JSON alone; the dialogue goes to stderr.
    out = sys.stderr if args.json else sys.stdout
    if args.ratings is not None:
        ratings = read_ratings_arg(args.ratings, rec)
        picks = _recommend(rec, ratings, args.n)
    else:
        jokes = _jokes(args.items, rec) if args.items else gauge_items(rec)
        print(f'Rate {len(jokes)} jokes from -10 (not funny) to 10 (very funny).', file=out)
        ratings = {}
        going = _rate(rec, jokes, ratings, sys.stdin, out)
        if not ratings:
            raise ScriptError('no ratings given, so there is nothing to recommend from')
        picks = _recommend(rec, ratings, args.n)
        _show(rec, picks, out)
        while going and picks:
            print('\nRate these too, to refine? [y/N] ', end='', flush=True, file=out)
            answer = sys.stdin.readline()
            if not sys.stdin.isatty():
                print(answer.rstrip('\n'), file=out)
            if answer.strip().lower() not in ('y', 'yes'):
                break
            going = _rate(rec, [joke for joke, _ in picks], ratings, sys.stdin, out)
            picks = _recommend(rec, ratings, args.n)
            _show(rec, picks, out)
    saved = None
    if args.save_as is not None:
        _, saved = save_new_user(rec, args.model_dir, ratings, args.save_as)
    if args.json:
        print_json({'ratings': [{'joke': j, 'rating': r} for j, r in ratings.items()],
                    'recommended': [{'joke': j, 'predicted': p, 'text': rec.item_name(j)}
                                    for j, p in picks],
                    'saved_as': saved})
        return 0
    if args.ratings is not None:
        _show(rec, picks, out)
    if saved is not None:
        print(f'\nSaved as user {saved} in {args.model_dir}.')
    return 0


def main(argv=None):
    return run_main(body, argv, 'rate_jokes.py')


if __name__ == '__main__':
    sys.exit(main())
