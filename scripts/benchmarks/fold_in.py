#!/usr/bin/env python
"""Fold-in against retraining: how well new users are served without retraining.

Protocol: 20% of the users are held out whole (``new_user_split``, seed 0); each model
trains on the others as ``train_model`` trains it by default (its preset, the epochs
chosen by early stopping on 20% of those ratings, then a refit on all of them;
``--no-refit`` keeps the selection runs' models). Of every held-out user, k ratings are revealed
(Jester: the gauge jokes, the 10 most rated in training; MovieLens: k random ratings,
for each k of --reveal) and the rest are hidden. In one run, on the hidden ratings:

- fold-in: the held-out users folded into the trained model from their revealed ratings;
- retraining: the same model and settings trained again with the revealed ratings
  included (the gold standard fold-in approximates);
- item baseline: global plus item bias (item mean for models without biases);
- constant mean: the training mean.

Reports RMSE and, for the ranked lists (top 10 of the items the user did not reveal),
precision@10 and NDCG@10 against the hidden ratings at or above --threshold. Timing:
single-user fold-in latency (median and 99th percentile over the held-out users, the
solve alone and the whole ``fold_in`` that returns a model), batched fold-in of all
held-out users at once (median of 3 runs), and one training epoch (mean). Writes a section of
RESULTS.md.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gluonrec as gr  # noqa: E402  (before mxnet: numpy aliases)
import mxnet as mx  # noqa: E402
from gluonrec import metrics  # noqa: E402
from gluonrec.data import Ratings, new_user_split, random_rank_within  # noqa: E402
from gluonrec.foldin import choose_reg, fold_in, gauge_items, solve_users  # noqa: E402
from gluonrec.ranking import top_n  # noqa: E402
from gluonrec.recipe import train_model  # noqa: E402
from gluonrec.recommend import recommend_all  # noqa: E402
from _report import machine  # noqa: E402
from _results import publish  # noqa: E402

FAMILY = {'jester': 'jester', 'ml-100k': 'movielens'}
THRESHOLD = {'jester': 5.0, 'ml-100k': 4.0}
LABELS = {'jester': 'Jester 5k sample', 'ml-100k': 'MovieLens 100k'}


def reveal(held, gauge, k, seed):
    """(revealed, hidden) masks over the held-out ratings: the gauge items, or k random
    ratings of each user; users left with nothing hidden drop out of both."""
    rng = np.random.RandomState(seed)
    if gauge is not None:
        shown = np.isin(held.item_map.to_raw(held.item), gauge)
    else:
        shown = random_rank_within(held.user, rng) < k
    users_shown = np.bincount(held.user[shown], minlength=held.num_users)
    users_hidden = np.bincount(held.user[~shown], minlength=held.num_users)
    usable = (users_shown > 0) & (users_hidden > 0)
    keep = usable[held.user]
    return shown & keep, ~shown & keep


def frame_of(ratings, mask):
    part = ratings.subset(mask)
    return (part.user_map.to_raw(part.user), part.item_map.to_raw(part.item),
            part.rating.astype(np.float64))


def ranking(rec, users, items, truth, shown_items_by_user, threshold, scores=None):
    """precision@10 and NDCG@10 of ``rec``'s top 10 (or of fixed ``scores``) for the raw
    ``users``, against their hidden (items, truth) at or above ``threshold``."""
    inner_users = rec.user_map.to_inner(users)
    known = rec.item_map.contains(items)
    relevant = metrics.relevance_matrix(inner_users[known],
                                        rec.item_map.to_inner(items[known]), truth[known],
                                        len(rec.user_map), len(rec.item_map),
                                        threshold=threshold)
    order = np.unique(inner_users)
    if scores is None:
        _, top, _ = recommend_all(rec, n=10, users=order)
    else:
        block = np.tile(scores, (len(order), 1))
        block[:, rec.item_counts == 0] = -np.inf
        for row, user in enumerate(order):
            block[row, shown_items_by_user.get(int(user), [])] = -np.inf
        top, _ = top_n(block, 10)
    out = metrics.ranking_metrics(top, relevant[order], 10)
    return out['precision@10'], out['ndcg@10']


def settings_of(model):
    s = model.settings
    return {key: s[key] for key in ('model', 'num_factors', 'epochs', 'batch_size',
                                    'optimizer', 'lr', 'wd', 'reg', 'engine')}


def run(ratings, data, model_name, reveals, seed, latency_users, refit=True):
    family = FAMILY[data]
    train, held = new_user_split(ratings, 0.2, seed=seed)
    # train_model's recipe: epochs chosen on 20% of the training users' ratings, then
    # (refit) a fresh run on all of them.
    base = train_model(train, model=model_name, family=family, seed=seed, refit=refit)
    rec = base.recommender()
    epoch_seconds = base.summary()['seconds'] / max(1, len(base.history))
    rows = []
    for k in reveals:
        started = time.perf_counter()
        shown_count = 10 if k == 'gauge' else k
        # As the scripts do: a refit model's weights were recorded before its refit.
        chosen = rec.fold_in_reg(shown_count) if rec.recorded_fold_in_regs() else \
            choose_reg(rec, reveal=shown_count, seed=seed)[0]
        choose_s = time.perf_counter() - started
        gauge = gauge_items(rec) if k == 'gauge' else None
        shown, hidden = reveal(held, gauge, None if gauge else k, seed)
        su, si, sr = frame_of(held, shown)
        hu, hi, hr = frame_of(held, hidden)
        runs = []
        for _ in range(3):  # median of 3: the machine is shared
            started = time.perf_counter()
            folded = fold_in(rec, (su, si, sr), skip_unknown=True)
            runs.append(time.perf_counter() - started)
        batched = float(np.median(runs))
        fold_pred = folded.predict(hu, hi, unknown='baseline')
        auto = fold_in(rec, (su, si, sr), skip_unknown=True, reg=chosen)
        auto_pred = auto.predict(hu, hi, unknown='baseline')
        # Retraining: the same settings, with the revealed ratings in the training data.
        both = Ratings.from_raw(np.concatenate([train.user_map.to_raw(train.user), su]),
                                np.concatenate([train.item_map.to_raw(train.item), si]),
                                np.concatenate([train.rating, sr]), ratings.scale,
                                item_names=ratings.item_names)
        again = train_model(both, seed=seed, family=family, refit=refit,
                            **{k2: v for k2, v in settings_of(base).items()})
        retrained = again.recommender()
        retrain_pred = retrained.predict(hu, hi, unknown='baseline')
        baseline = rec.item_baseline()
        known = rec.item_map.contains(hi)
        item_base = np.full(len(hi), rec.global_mean)
        item_base[known] = baseline[rec.item_map.to_inner(hi[known])]
        item_base = np.where(np.isfinite(item_base), item_base, rec.global_mean)
        mean = np.full(len(hr), float(np.mean(train.rating)))
        threshold = THRESHOLD[data]
        shown_by_user = {}
        for user, item in zip(folded.user_map.to_inner(su), folded.item_map.to_inner(si)):
            shown_by_user.setdefault(int(user), []).append(int(item))
        fold_rank = ranking(folded, hu, hi, hr, shown_by_user, threshold)
        retrain_rank = ranking(retrained, hu, hi, hr, None, threshold)
        base_scores = np.where(np.isfinite(baseline), baseline, -np.inf)
        base_rank = ranking(folded, hu, hi, hr, shown_by_user, threshold, scores=base_scores)
        label = f'gauge ({len(gauge)} jokes)' if gauge else f'k = {k}'
        users = len(np.unique(su))
        rows.append({'reveal': label, 'users': users, 'hidden': len(hr),
                     'fold_in': metrics.rmse(hr, fold_pred),
                     'fold_auto': metrics.rmse(hr, auto_pred),
                     'auto_rank': ranking(auto, hu, hi, hr, shown_by_user, threshold),
                     'retrain': metrics.rmse(hr, retrain_pred),
                     'item_baseline': metrics.rmse(hr, item_base),
                     'mean': metrics.rmse(hr, mean),
                     'fold_rank': fold_rank, 'retrain_rank': retrain_rank,
                     'base_rank': base_rank, 'batched_s': batched,
                     'retrain_s': again.summary()['seconds'], 'chosen': chosen,
                     'choose_s': choose_s})
        # The autograd path takes ~1 s a call: time fewer users there.
        closed = model_name in ('mf', 'biased_mf', 'nnmf', 'svdpp', 'autorec')
        rows[-1].update(latency(rec, su, si, sr, latency_users if closed else 10))
    return {'model': model_name, 'settings': settings_of(base), 'epoch_s': epoch_seconds,

            'rows': rows, 'train_users': train.num_users, 'held_users': held.num_users}


def latency(rec, users, items, values, count):
    """Single-user fold-in times over up to ``count`` held-out users (ms)."""
    solve, whole = [], []
    for user in np.unique(users)[:count]:
        mine = users == user
        one = dict(zip(items[mine].tolist(), values[mine].tolist()))
        started = time.perf_counter()
        solve_users(rec, one, skip_unknown=True)
        solve.append(time.perf_counter() - started)
        started = time.perf_counter()
        fold_in(rec, one, skip_unknown=True)
        whole.append(time.perf_counter() - started)
    ms = lambda xs, q: 1e3 * float(np.percentile(xs, q))  # noqa: E731
    return {'timed': len(solve), 'solve_p50': ms(solve, 50), 'solve_p99': ms(solve, 99),
            'whole_p50': ms(whole, 50), 'whole_p99': ms(whole, 99)}


def section(data, results, seconds, refit=True):
    flag = '' if refit else ' --no-refit'
    lines = [f'## Fold-in: {LABELS[data]}' + ('' if refit else
                                                ', the selection runs\' models (no refit)'),
             '',
             f'Command: `python scripts/benchmarks/fold_in.py --data {data}{flag}` '
             f'({seconds:.0f} s). ' + machine({'mxnet': mx.__version__,
                                               'numpy': np.__version__}), '',
             f"{results[0]['train_users']} users train the models; "
             f"{results[0]['held_users']} held out whole arrive as new users. RMSE on their "
             'hidden ratings (original scale); P@10 / NDCG@10 of the top 10 among the items '
             f'they did not reveal, relevant = hidden rating >= {THRESHOLD[data]:g}.', '',
             '| model | revealed | users | hidden | fold-in, training reg | fold-in, chosen reg | '
             'retraining | chosen / retraining | item baseline | constant mean | '
             'P@10 fold-in (chosen) / retraining / item | NDCG@10 same |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for res in results:
        for r in res['rows']:
            lines.append(
                f"| {res['model']} | {r['reveal']} | {r['users']} | {r['hidden']} | "
                f"{r['fold_in']:.4f} | {r['fold_auto']:.4f} | {r['retrain']:.4f} | "
                f"{r['fold_auto'] / r['retrain']:.3f} | {r['item_baseline']:.4f} | "
                f"{r['mean']:.4f} | {r['auto_rank'][0]:.3f} / {r['retrain_rank'][0]:.3f} / "
                f"{r['base_rank'][0]:.3f} | {r['auto_rank'][1]:.3f} / "
                f"{r['retrain_rank'][1]:.3f} / {r['base_rank'][1]:.3f} |")
    lines += ['', 'Chosen reg (`choose_reg`: training users folded in afresh from as many '
              'ratings as revealed, their validation ratings predicted): ' + '; '.join(
                  f"{res['model']} {r['reveal']}: {r['chosen']:g} (training "
                  f"{res['settings']['reg']:g}; {r['choose_s']:.2f} s)"
                  for res in results for r in res['rows'])]
    lines += ['', '| model | revealed | single user: solve p50 / p99 ms | '
              'whole fold_in p50 / p99 ms | all held-out users at once s | one epoch s | '
              'retraining s | users timed |',
              '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for res in results:
        for r in res['rows']:
            lines.append(
                f"| {res['model']} | {r['reveal']} | {r['solve_p50']:.2f} / {r['solve_p99']:.2f} "
                f"| {r['whole_p50']:.2f} / {r['whole_p99']:.2f} | {r['batched_s']:.3f} | "
                f"{res['epoch_s']:.3f} | {r['retrain_s']:.2f} | {r['timed']} |")
    lines += ['', 'Settings (each model\'s preset; retraining used the same): ' + '; '.join(
        f"{res['model']}: " + ', '.join(f'{k}={v}' for k, v in res['settings'].items()
                                        if k != 'model') for res in results)]
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', choices=sorted(FAMILY), default='ml-100k')
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA',
                                                         os.path.join('..', 'shared', 'data')))
    parser.add_argument('--models', default='biased_mf,mf,nnmf',
                        help='comma-separated registered models (default: %(default)s)')
    parser.add_argument('--reveal', default='5,10,20',
                        help='MovieLens: ratings revealed per user (default: %(default)s)')
    parser.add_argument('--latency-users', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-refit', dest='refit', action='store_false',
                        help="keep train_model's selection runs, trained on 80%% of the "
                             'training ratings (default: refit on all of them, as '
                             'train_model does)')
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'))
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ratings = gr.load_dataset(args.data, root=args.root)
    reveals = ['gauge'] if args.data == 'jester' else [int(k) for k in args.reveal.split(',')]
    results = [run(ratings, args.data, name, reveals, args.seed, args.latency_users,
                   args.refit) for name in args.models.split(',')]
    text = section(args.data, results, time.perf_counter() - started, args.refit)
    publish(text, args.results, f'fold_in:{args.data}' + ('' if args.refit else ':no-refit'),
            write=not args.no_write)
    return 0


if __name__ == '__main__':
    sys.exit(main())
