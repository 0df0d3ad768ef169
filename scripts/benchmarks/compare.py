#!/usr/bin/env python
"""gluonrec against the tools a researcher would pick instead, on one split, in one run.

On a seeded 80/20 random split: gluonrec's four models with their tuned presets,
Surprise (SVD defaults, SVD k=16, BaselineOnly, NMF, SVD++ up to 100k ratings), a
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
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gluonrec._compat import mx  # noqa: E402
from gluonrec._io import atomic_path  # noqa: E402
from gluonrec.data import (MinMaxScaler, RatingIter, load_jester, load_movielens,  # noqa: E402
                           load_triples, make_jester_scale, random_split)
from gluonrec.models import get_model  # noqa: E402
from gluonrec.presets import preset  # noqa: E402
from gluonrec.train import evaluate, fit  # noqa: E402
from _blog import blog_train  # noqa: E402
from _results import update_results  # noqa: E402
from _split_io import scores, write_split  # noqa: E402

MODELS = ('biased_mf', 'mf', 'nnmf', 'mlp')


def load(name, root):
    """(Ratings, preset family, label) for a data set name or a path."""
    if name == 'jester':
        return load_jester(os.path.join(root, 'jester', 'ratings.dat.gz')), 'jester', \
            'Jester 5k sample'
    if name == 'ml-100k':
        return load_movielens(os.path.join(root, 'ml-100k')), 'movielens', 'MovieLens 100k'
    if name == 'synthetic':
        return make_jester_scale(), 'jester', \
            'synthetic Jester-scale (1.7M ratings, 59,132 users x 150 items)'
    if os.path.isdir(name) or os.path.basename(name) in ('u.data', 'ratings.dat',
                                                          'ratings.csv'):
        r = load_movielens(name)
        return r, 'movielens', r.name
    r = load_jester(name) if 'jester' in os.path.basename(name) else load_triples(name)
    return r, 'jester' if r.scale == (-10.0, 10.0) else 'movielens', os.path.basename(name)


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


def run_gluonrec(model, train, test, family, epochs=None, label=None, **override):
    """Train with the preset, a fixed number of epochs, recording test RMSE per epoch."""
    p = preset(family, model)
    p.update(override)
    epochs = epochs or p['epochs']
    net = get_model(model, num_users=train.num_users, num_items=train.num_items,
                    num_factors=p['num_factors'], sparse_grad=p['sparse_grad'])
    scaler = MinMaxScaler.from_scale(train.scale, net.feature_range)
    it = RatingIter.from_ratings(train, scaler, batch_size=p['batch_size'], seed=0)
    test_iter = RatingIter.from_ratings(test, scaler, batch_size=65536, shuffle=False)
    history = fit(net, it, test_iter, epochs=epochs, optimizer=p['optimizer'],
                  learning_rate=p['lr'], reg=p['reg'], wd=p['wd'], scaler=scaler, ctx='cpu',
                  seed=0, log_interval=None, progress=False)
    trained = np.cumsum([r['seconds'] for r in history])
    final = evaluate(net, test_iter, scaler)
    return {'system': label or f'gluonrec {model} (k={p["num_factors"]}, {p["optimizer"]}, '
                               f'batch {p["batch_size"]})',
            'rmse': final['rmse'], 'mae': final['mae'], 'fit_seconds': float(trained[-1]),
            'epochs': len(history), 'ratings_per_sec': len(train) * len(history) / trained[-1],
            'curve': [(float(t), r['val_rmse']) for t, r in zip(trained, history)]}


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


def time_to(curve, target):
    for seconds, rmse in curve or []:
        if rmse is not None and rmse <= target:
            return seconds
    return None


def table(results, target):
    lines = ['| system | test RMSE | test MAE | fit s | ratings/s per epoch | '
             f's to RMSE {target:.4f} |' if target else
             '| system | test RMSE | test MAE | fit s | ratings/s per epoch | s to target |',
             '| --- | ---: | ---: | ---: | ---: | ---: |']
    for r in sorted(results, key=lambda r: r['rmse']):
        reach = time_to(r.get('curve'), target) if target else None
        rate = r.get('ratings_per_sec')
        lines.append(f"| {r['system']} | {r['rmse']:.4f} | {r['mae']:.4f} | "
                     f"{r['fit_seconds']:.2f} | {'' if rate is None else f'{rate:,.0f}'} | "
                     f"{'-' if reach is None else f'{reach:.2f}'} |")
    return '\n'.join(lines)


def plot(results, path, title, target):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in results:
        if r.get('curve'):
            xs, ys = zip(*r['curve'])
            ax.plot(xs, ys, 'o-' if len(xs) > 1 else 'o', label=r['system'], markersize=3)
    if target:
        ax.axhline(target, color='grey', linestyle=':', label='Surprise SVD best')
    ax.set_xscale('log')
    ax.set_xlabel('training seconds (log)')
    ax.set_ylabel('test RMSE (rating scale)')
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)
    plt.close(fig)


def machine():
    import pandas
    versions = f'python {platform.python_version()}, mxnet {mx.__version__}, ' \
               f'numpy {np.__version__}, pandas {pandas.__version__}'
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as info:
            cpu = next(line.split(':', 1)[1].strip() for line in info
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{os.cpu_count()} cores ({cpu}), {versions}'


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
    ratings, family, label = load(args.data, args.root)
    train, test = random_split(ratings, 0.2, seed=0)
    key = args.data if args.data in ('jester', 'ml-100k', 'synthetic') else \
        os.path.basename(os.path.normpath(args.data))
    speed_run = args.data == 'synthetic'
    print(f'{label}: {len(train):,} train / {len(test):,} test ratings', flush=True)
    notes, results, versions = [], [constant(train, test), bias_only(train, test)], {}

    with tempfile.TemporaryDirectory() as split:
        write_split(split, train, test, ratings.scale, ratings.num_users, ratings.num_items)
        algos = ['SVD16'] if speed_run else ['SVD', 'SVD16', 'BaselineOnly', 'NMF']
        if not speed_run and len(ratings) <= 100_000 and not args.quick:
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
            versions.update(out['versions'])
        epochs = '1' if (args.quick or speed_run) else '10'
        out, error = run_runner('_torch_runner.py', args.torch_python, split,
                                ['--epochs', epochs, '--max-seconds', '120'], timeout=1800)
        if error:
            notes.append(error)
        else:
            results += out['results']
            versions.update(out['versions'])
    print('\n'.join(notes), flush=True) if notes else None

    if speed_run:
        results.append(run_gluonrec('mf', train, test, 'jester', epochs=1,
                                    label='gluonrec mf default (k=16, adagrad, batch 1024)'))
        results.append(run_gluonrec('mf', train, test, 'jester', epochs=1, batch_size=8192,
                                    optimizer='sgd', lr=1.0, reg=0.0,
                                    label='gluonrec mf fastest (k=16, sgd, batch 8192)'))
        results.append(run_gluonrec('biased_mf', train, test, 'jester', epochs=1))
    else:
        for model in MODELS:
            epochs = 2 if args.quick else None
            results.append(run_gluonrec(model, train, test, family, epochs=epochs))
            print(f"{results[-1]['system']}: RMSE {results[-1]['rmse']:.4f}", flush=True)
    cap = args.blog_cap or (5.0 if args.quick else 60.0)
    results.append(run_blog(train, test, cap))

    svd = [r for r in results if r['system'].startswith('Surprise SVD (defaults')]
    target = min(c[1] for c in svd[0].get('curve', [(0, svd[0]['rmse'])])) if svd else None
    body = table(results, target)
    ours = min((r for r in results if r['system'].startswith('gluonrec')),
               key=lambda r: r['rmse'])
    lines = [f'## {label}', '', f'{len(train):,} train / {len(test):,} test ratings; '
             f'{"quick run; " if args.quick else ""}machine: {machine()}'
             + (f"; {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}"
                if versions else ''), '', body, '']
    surprise_svd = svd[0] if svd else None
    if surprise_svd:
        ratio = ours['rmse'] / surprise_svd['rmse']
        lines.append(f"Best gluonrec ({ours['system']}): RMSE {ours['rmse']:.4f} vs Surprise "
                     f"SVD {surprise_svd['rmse']:.4f} (ratio {ratio:.3f}).")
        reach = time_to(ours.get('curve'), target)
        if reach is not None:
            lines.append(f"gluonrec reached Surprise SVD's best RMSE after {reach:.2f} s of "
                         f"training; Surprise SVD's own fit took "
                         f"{surprise_svd['fit_seconds']:.2f} s.")
    blog = results[-1]
    fast = max((r for r in results if r['system'].startswith('gluonrec')),
               key=lambda r: r['ratings_per_sec'])
    lines.append(f"Speed: fastest gluonrec run {fast['ratings_per_sec']:,.0f} ratings/s per "
                 f"epoch = {fast['ratings_per_sec'] / blog['ratings_per_sec']:,.0f}x the blog "
                 f"way; {blog['note']}.")
    for r in results:
        if r['system'].startswith('Surprise SVD k=16'):
            lines.append(f"Against Surprise SVD k=16: "
                         f"{fast['ratings_per_sec'] / r['ratings_per_sec']:.1f}x its ratings/s.")
    if notes:
        lines += ['', 'Not run: ' + '; '.join(notes)]
    png = args.plot or (os.path.join(os.path.dirname(args.results), f'{key}.png')
                        if args.results != '-' else None)
    if png:
        try:
            plot(results, png, label, target)
            lines += ['', f'![test RMSE against training seconds]({os.path.basename(png)})']
        except ImportError:
            notes.append('no plot: matplotlib is not installed')
    section = '\n'.join(lines)
    print('\n' + section)
    if args.results != '-':
        update_results(args.results, key, section)
    return 0


if __name__ == '__main__':
    sys.exit(main())
