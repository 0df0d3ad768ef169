#!/usr/bin/env python
"""gluonrec against the tools a researcher would pick instead, on one split, in one run.

On a seeded 80/20 random split: gluonrec's models as ``train_model`` trains them by
default (the preset; the number of epochs chosen by early stopping on 20% of the
training part, then a refit on all of it: ``run_gluonrec``), the test part never read
while choosing; Surprise (SVD defaults, SVD k=16, BaselineOnly, NMF, SVD++ up to 400k ratings), a
PyTorch MF as tutorials write it, the blog's own way in MXNet (time-capped, its
throughput extrapolated), and the constant-mean and bias-only baselines. Reports test
RMSE / MAE on the original scale, fit time, ratings per second per epoch and the time
to first reach the best RMSE of Surprise SVD (defaults); writes a Markdown table into
RESULTS.md (section per data set) and a PNG of test RMSE against training seconds.

Surprise and PyTorch run as subprocesses reading the same split files, with the
interpreters given by --surprise-python / --torch-python (default: this one), so each
can live in its own virtual environment.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gluonrec as gr  # noqa: E402  (before mxnet: numpy aliases)
import mxnet as mx  # noqa: E402
from gluonrec.data import MinMaxScaler  # noqa: E402
from gluonrec.data.catalog import family_of  # noqa: E402
from gluonrec.presets import DEFAULT_MODEL, preset  # noqa: E402
from gluonrec.recipe import refit_epochs  # noqa: E402
from _blog import blog_train  # noqa: E402
from _report import machine, report  # noqa: E402
from _results import update_results  # noqa: E402
from _split_io import scores, write_split  # noqa: E402

MODELS = ('biased_mf', 'mf', 'nnmf', 'mlp', 'svdpp', 'autorec')


LABELS = {'jester': 'Jester 5k sample', 'ml-100k': 'MovieLens 100k',
          'synthetic-large': 'synthetic Jester-scale (1.7M ratings, 59,132 users x 150 items)'}


def load(name, root):
    """(Ratings, label) for a data set name or a path (see ``gluonrec.load_dataset``)."""
    name = 'synthetic-large' if name == 'synthetic' else name
    ratings = gr.load_dataset(name, root=root)
    return ratings, LABELS.get(name, ratings.name)


def bias_only(train, test, reg_u=15.0, reg_i=10.0, iterations=10):
    """Regularised user and item biases by alternating least squares (numpy)."""
    tic = time.perf_counter()
    mu = float(train.rating.mean())
    bu, bi = np.zeros(train.num_users), np.zeros(train.num_items)
    for _ in range(iterations):
        resid = train.rating - mu - bu[train.user]
        bi = np.bincount(train.item, resid, train.num_items) / \
            (np.bincount(train.item, minlength=train.num_items) + reg_i)
        resid = train.rating - mu - bi[train.item]
        bu = np.bincount(train.user, resid, train.num_users) / \
            (np.bincount(train.user, minlength=train.num_users) + reg_u)
    seconds = time.perf_counter() - tic
    rmse, mae = scores(test.rating, mu + bu[test.user] + bi[test.item], train.scale)
    return {'system': 'bias-only baseline (ALS, numpy)', 'rmse': rmse, 'mae': mae,
            'fit_seconds': seconds, 'epochs': iterations,
            'ratings_per_sec': len(train) * iterations / seconds}


def constant(train, test):
    tic = time.perf_counter()
    mean = float(train.rating.mean())
    seconds = time.perf_counter() - tic
    rmse, mae = scores(test.rating, np.full(len(test), mean), train.scale)
    return {'system': 'constant mean', 'rmse': rmse, 'mae': mae, 'fit_seconds': seconds}


def run_gluonrec(model, train, test, epochs=None, label=None, recipe=True, **override):
    """One gluonrec model on the split, test RMSE per epoch recorded for the curve.

    ``recipe`` (the default): the model ``train_model`` returns by default (``epochs``
    caps its selection run; default the preset's cap). Its selection run holds 20% of
    ``train`` out, stops early on it and so chooses the number of epochs; the model is
    then trained afresh on the whole of ``train`` for that many epochs times the data's
    growth. That second phase runs here as ``train_model(train, test, epochs=E,
    patience=0)``, which gives the same parameters as the recipe's own refit
    (``tests/test_recipe.py`` checks it) and lets the test part be scored after each
    epoch for the curve; nothing is chosen on it. Fit seconds count both phases.
    ``recipe=False`` (the speed run): ``epochs`` (default the preset's) on the whole of
    ``train``, nothing held out."""
    selected, chosen_in = None, 0.0
    if recipe:
        selected = gr.train_model(train, model=model, epochs=epochs, refit=False, ctx='cpu',
                                  seed=0, **override)
        chosen_in = selected.seconds
        chosen = selected.history.params_epoch
        epochs = refit_epochs(chosen, len(train), len(selected.train), True)
    result = gr.train_model(train, test, model=model, epochs=epochs, patience=0, ctx='cpu',
                            seed=0, **override)
    p, history = result.settings, result.history
    if model == 'autorec':
        model = 'U-AutoRec' if result.net.user_based else 'I-AutoRec'
        label = label or f'gluonrec autorec ({model}, hidden {p["num_factors"]}, dropout ' \
                         f'{result.net.dropout:g}, {p["optimizer"]}, batch ' \
                         f'{p["batch_size"]} rows)'

    refit_s = np.cumsum([r['seconds'] for r in history])
    trained = chosen_in + refit_s
    final = gr.evaluate(result.net, test, result.scaler)
    return {'system': label or f'gluonrec {model} (k={p["num_factors"]}, {p["optimizer"]}, '
                               f'batch {p["batch_size"]}, {p["engine"]} engine)',
            'rmse': final['rmse'], 'mae': final['mae'], 'fit_seconds': float(trained[-1]),
            'epochs': len(history),
            'ratings_per_sec': len(train) * len(history) / refit_s[-1],
            'curve': [(float(t), r['val_rmse']) for t, r in zip(trained, history)],
            'chosen': None if selected is None else
            {'name': model if model.endswith('AutoRec') else f'{model} ({p["engine"]})',
             'chosen': chosen, 'epochs': epochs,
             'val_rmse': selected.history.best()['val_rmse'],
             'seconds': chosen_in},
            'recommender': result.recommender()}


def run_blend(members, test):
    """The equal-weight ``Blend`` of the given runs' models, scored on the test part."""
    blend = gr.Blend([m['recommender'] for m in members])
    users, items = test.user_map.to_raw(test.user), test.item_map.to_raw(test.item)
    pred = blend.predict(users, items)
    names = ' + '.join(m['system'].split(' (')[0].replace('gluonrec ', '') + ' (' +
                       m['system'].split(' (', 1)[1].split(',')[0] + ')' for m in members)
    rmse, mae = scores(test.rating, pred, test.scale)
    # Not named "gluonrec ...": the summary lines below are about single models.
    return {'system': f'blend of gluonrec {names}: equal weights', 'rmse': rmse,
            'mae': mae, 'fit_seconds': sum(m['fit_seconds'] for m in members)}


def run_blog(train, test, cap):
    scaler = MinMaxScaler.from_scale(train.scale)
    curve = []

    def val(net):
        pred = net(mx.nd.array(test.user), mx.nd.array(test.item)).asnumpy()
        return scores(test.rating, scaler.inverse_transform(pred), train.scale)[0]

    net, rate, done = blog_train(train.user, train.item, scaler.transform(train.rating),
                                 train.num_users, train.num_items, seconds=cap, epochs=10,
                                 val=val, on_epoch=lambda e, t, r: curve.append((t, r)))
    pred = net(mx.nd.array(test.user), mx.nd.array(test.item)).asnumpy()
    rmse, mae = scores(test.rating, scaler.inverse_transform(pred), train.scale)
    epoch_seconds = len(train) / rate
    return {'system': 'blog way in MXNet (NDArray per rating, batch 64, SGD 0.05, k=16)',
            'rmse': rmse, 'mae': mae, 'fit_seconds': min(cap, epoch_seconds * 10),
            'epochs': done, 'ratings_per_sec': rate, 'curve': curve or [(cap, rmse)],
            'note': f'stopped at the {cap:g} s cap after {done} full epoch(s); one epoch '
                    f'would take {epoch_seconds:,.0f} s (extrapolated from its rate)'}


def _runner_versions(out, env):
    """A runner's package versions, its numpy named after its environment (each runner
    may live in a virtual environment of its own)."""
    return {(f'numpy ({env} env)' if name == 'numpy' else name): version
            for name, version in out['versions'].items()}


def run_runner(script, python, split, extra, timeout):
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as handle:
        out = handle.name
    cmd = [python, os.path.join(HERE, script), '--split', split, '--out', out, *extra]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ['?'])[-1]
            return None, f'{script} failed with {python}: {tail}'
        with open(out) as data:
            return json.load(data), None
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f'{script} did not run with {python}: {exc}'
    finally:
        if os.path.exists(out):
            os.remove(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default='ml-100k',
                        help="'jester', 'ml-100k', 'synthetic' or a path (default: %(default)s)")
    parser.add_argument('--root', default=os.environ.get('GLUONREC_DATA', '../shared/data'),
                        help='folder holding jester/ and ml-100k/ (default: %(default)s)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: few epochs, fewer systems, short caps')
    parser.add_argument('--surprise-python', default=sys.executable)
    parser.add_argument('--torch-python', default=sys.executable)
    parser.add_argument('--blog-cap', type=float, default=None,
                        help='seconds for the blog way (default: 60, quick: 5)')
    parser.add_argument('--results', default=os.path.join(HERE, 'RESULTS.md'),
                        help='Markdown file to update (default: %(default)s); "-" for none')
    parser.add_argument('--plot', default=None,
                        help='PNG path (default: beside RESULTS.md, <data>.png)')
    args = parser.parse_args(argv)
    ratings, label = load(args.data, args.root)
    train, test = gr.random_split(ratings, 0.2, seed=0)
    key = args.data if args.data in ('jester', 'ml-100k', 'synthetic') else \
        os.path.basename(os.path.normpath(args.data))
    speed_run = args.data == 'synthetic'
    print(f'{label}: {len(train):,} train / {len(test):,} test ratings', flush=True)
    notes, results = [], [constant(train, test), bias_only(train, test)]
    versions = {'gluonrec': gr.__version__, 'mxnet': mx.__version__, 'numpy': np.__version__}

    with tempfile.TemporaryDirectory() as split:
        write_split(split, train, test, ratings.scale, ratings.num_users, ratings.num_items)
        algos = ['SVD16'] if speed_run else ['SVD', 'SVD16', 'BaselineOnly', 'NMF']
        if not speed_run and len(ratings) <= 400_000 and not args.quick:
            algos.append('SVDpp')
        if args.quick and not speed_run:
            algos = ['SVD', 'BaselineOnly']
        extra = ['--algos', *algos] + ([] if speed_run or args.quick else ['--curve']) + \
            (['--epochs', '1'] if speed_run else [])
        out, error = run_runner('_surprise_runner.py', args.surprise_python, split, extra,
                                timeout=3600)
        if error:
            notes.append(error)
        else:
            results += out['results']
            versions.update(_runner_versions(out, 'surprise'))
        epochs = '1' if (args.quick or speed_run) else '10'
        out, error = run_runner('_torch_runner.py', args.torch_python, split,
                                ['--epochs', epochs, '--max-seconds', '120'], timeout=1800)
        if error:
            notes.append(error)
        else:
            results += out['results']
            versions.update(_runner_versions(out, 'torch'))
    print('\n'.join(notes), flush=True) if notes else None

    if speed_run:
        results.append(run_gluonrec('biased_mf', train, test, epochs=1,  # the default
                                    recipe=False))
        results.append(run_gluonrec('biased_mf', train, test, epochs=1, num_factors=16,
                                    recipe=False, engine='fused'))
        results.append(run_gluonrec('mf', train, test, epochs=1, engine='generic',
                                    recipe=False))
        results.append(run_gluonrec('mf', train, test, epochs=1, batch_size=8192, recipe=False,
                                    optimizer='sgd', lr=1.0, reg=0.0, engine='generic',
                                    label='gluonrec mf fastest generic (k=16, sgd, batch '
                                          '8192)'))
    else:
        epochs = 2 if args.quick else None
        # engine 'auto' (fused where it can), then biased_mf on the generic engine too:
        # the accuracy of the two engines side by side on the same split
        # and both AutoRec variants (the preset's dropout, each its own side)
        runs = [(m, {}) for m in MODELS if m != 'autorec'] + \
            [('biased_mf', {'engine': 'generic'})] + \
            [('autorec', {'model_kwargs': {'user_based': side}}) for side in (False, True)]
        done = {}
        for model, extra in runs:
            row = run_gluonrec(model, train, test, epochs=epochs, **extra)
            results.append(row)
            done.setdefault((model, extra.get('model_kwargs', {}).get('user_based')), row)
            print(f"{row['system']}: RMSE {row['rmse']:.4f}", flush=True)
        # A blend fixed in advance: the family's default model (as trained by default)
        # and the family's AutoRec preset, equal weights.
        family = family_of(ratings) or "movielens"
        side = preset(family, 'autorec')['model_kwargs'].get('user_based', False)
        results.append(run_blend([done[(DEFAULT_MODEL[family], None)],
                                  done[('autorec', side)]], test))
        print(f"{results[-1]['system']}: RMSE {results[-1]['rmse']:.4f}", flush=True)
    for row in results:
        row.pop('recommender', None)
    cap = args.blog_cap or (5.0 if args.quick else 60.0)
    results.append(run_blog(train, test, cap))

    png = args.plot or (os.path.join(os.path.dirname(args.results), f'{key}.png')
                        if args.results != '-' else None)
    header = f'{len(train):,} train / {len(test):,} test ratings; ' \
        f'{"quick run; " if args.quick else ""}machine: {machine(versions)}'
    section = report(results, label, header, notes, png)
    chosen = [f"{c['name']}: {c['chosen']} -> {c['epochs']} (val RMSE {c['val_rmse']:.4f}, "
              f"{c['seconds']:.1f} s)" for c in (r.get('chosen') for r in results) if c]
    if chosen:
        said = ("Epochs chosen by each gluonrec model's selection run (early stopping on 20% "
                'of the training part; its validation RMSE and seconds) -> epochs of the '
                "refit on all of it (times the data's growth): " + '; '.join(chosen) + '.')
        section = section.replace('\n\n![', f'\n\n{said}\n\n![', 1) \
            if '\n\n![' in section else f'{section}\n\n{said}'
    print('\n' + section)
    if args.results != '-':
        update_results(args.results, key, section)
    return 0


if __name__ == '__main__':
    sys.exit(main())
