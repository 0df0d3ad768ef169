"""Smoke test of the comparison benchmark (--quick) on a tiny Jester-format file."""
import os
import subprocess
import sys

import pytest

from gluonrec.data import make_synthetic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_compare_quick_writes_table_section_and_plot(tmp_path):
    r = make_synthetic(200, 30, 3000, rank=2, seed=0)
    data = tmp_path / 'jester_ratings.dat'
    data.write_text(''.join(f'{u}\t\t{i}\t\t{x:.2f}\n' for u, i, x in zip(
        r.user_map.to_raw(r.user), r.item_map.to_raw(r.item), r.rating)))
    results = tmp_path / 'RESULTS.md'
    results.write_text('# kept\n\n<!-- results:other -->\nold\n<!-- /results:other -->\n')
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'scripts', 'benchmarks', 'compare.py'), '--data',
         str(data), '--quick', '--blog-cap', '1', '--results', str(results),
         '--surprise-python', sys.executable, '--torch-python', sys.executable],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = results.read_text()
    assert text.startswith('# kept') and 'old' in text  # other sections survive
    assert '<!-- results:jester_ratings.dat -->' in text
    for system in ('constant mean', 'bias-only baseline', 'gluonrec biased_mf', 'gluonrec mf',
                   'gluonrec nnmf', 'gluonrec mlp', 'blog way in MXNet',
                   'blend of gluonrec biased_mf (k='):
        assert system in text, system
    blend = next(line for line in text.splitlines() if line.startswith('| blend of'))
    assert '+ autorec (I-AutoRec): equal weights' in blend  # the Jester AutoRec preset
    # every gluonrec row is the recipe's model: what its selection run chose is said
    said = next(line for line in text.splitlines() if line.startswith('Epochs chosen by'))
    chosen = said.split("growth): ", 1)[1].split('; ')
    assert len(chosen) == sum(line.startswith('| gluonrec ') for line in text.splitlines())
    assert all(' -> ' in c for c in chosen)
    rows = [line for line in text.splitlines() if line.startswith('| gluonrec biased_mf')]
    rmse = float(rows[0].split('|')[2])
    constant = float(next(line for line in text.splitlines()
                          if line.startswith('| constant mean')).split('|')[2])
    assert rmse < constant
    # a tool that is missing is reported, never silently dropped
    try:
        import surprise  # noqa: F401
    except ImportError:
        assert 'Not run:' in text and '_surprise_runner.py failed' in text
    assert (tmp_path / 'jester_ratings.dat.png').read_bytes()[:4] == b'\x89PNG'


def _ml100k_folder(root):
    """A tiny ml-100k folder (u.data, u.item) under ``root`` with planted structure."""
    r = make_synthetic(120, 50, 3600, rank=2, scale=(1, 5), seed=5)
    folder = root / 'ml-100k'
    folder.mkdir()
    (folder / 'u.data').write_text(''.join(
        f'{u}\t{i}\t{int(round(x))}\t88125{n:04d}\n' for n, (u, i, x) in enumerate(
            zip(r.user_map.to_raw(r.user), r.item_map.to_raw(r.item), r.rating))))
    (folder / 'u.item').write_bytes(''.join(
        f'{i}|Movie {i} (1995)|01-Jan-1995||http://x|0|1\n' for i in range(1, 51)
    ).encode('latin-1'))
    return root


def _bench(script, *args):
    proc = subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'benchmarks', script),
                           *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_fold_in_benchmark_writes_its_tables(tmp_path):
    root = _ml100k_folder(tmp_path)
    results = tmp_path / 'RESULTS.md'
    _bench('fold_in.py', '--data', 'ml-100k', '--root', root, '--models', 'biased_mf',
           '--reveal', '3,6', '--latency-users', 5, '--results', results)
    text = results.read_text()
    assert '<!-- results:fold_in:ml-100k -->' in text
    rows = [line.split('|') for line in text.splitlines()
            if line.startswith('| biased_mf | k = ')]
    assert len(rows) == 4  # accuracy and timing rows for k = 3 and 6
    fold, chosen, retrain, mean = (float(rows[0][i]) for i in (5, 6, 7, 10))
    assert max(fold, chosen, retrain) < mean  # every fitted variant beats the constant


@pytest.mark.slow
def test_tune_searches_with_scikit_learn_and_keeps_a_robust_setting(tmp_path):
    root = _ml100k_folder(tmp_path)
    results = tmp_path / 'RESULTS.md'
    out = _bench('tune.py', '--family', 'movielens', '--data', 'ml-100k', '--root', root,
                 '--engine', 'generic', '--grid', 'lr=0.000001,0.05', 'epochs=5',
                 '--cv', 2, '--results', results)
    assert '2 settings x 2 folds' in out
    kept = next(line for line in results.read_text().splitlines() if '(kept)' in line)
    assert '"lr": 0.05' in kept  # the planted best: lr=1e-6 learns nothing


def test_tune_grid_crosses_model_constructor_arguments():
    sys.path.insert(0, os.path.join(REPO, 'scripts', 'benchmarks'))
    try:
        import tune
    finally:
        sys.path.pop(0)
    grid = tune.parse_grid(['reg=0.001,0.01', 'model_kwargs.dropout=0.5,0.7',
                            'model_kwargs.user_based=1'])
    assert grid == {'reg': [0.001, 0.01], 'model_kwargs': [
        {'dropout': 0.5, 'user_based': 1.0}, {'dropout': 0.7, 'user_based': 1.0}]}
    with pytest.raises(SystemExit, match='model_kwargs.dropout: bad value'):
        tune.parse_grid(['model_kwargs.dropout=high'])
    with pytest.raises(SystemExit, match="'dropout' is not a RatingRegressor parameter"):
        tune.parse_grid(['dropout=0.5'])


@pytest.mark.slow
def test_ranking_benchmark_quick(shared_data, tmp_path):
    """ranking.py on ml-100k's protocol with the fastest systems: its table, in order."""
    results = tmp_path / 'RESULTS.md'
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'scripts', 'benchmarks', 'ranking.py'), '--root',
         shared_data, '--quick', '--models', 'ease', 'ials', 'popularity', '--results',
         str(results)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = results.read_text()
    assert '<!-- results:ranking:ml-100k -->' in text
    table = text.split('Paired per-user comparison')[0]
    rows = {line.split('|')[1].strip(): float(line.split('|')[2]) for line in
            table.splitlines() if line.startswith('| ') and line.split('|')[1].strip() in
            ('ease', 'ials', 'popularity')}
    assert rows['ease'] > rows['popularity'] and rows['ials'] > rows['popularity']
    assert '| ease | ials | 939 |' in text  # the paired comparison of the two


@pytest.mark.slow
def test_topn_benchmark_checks_every_method_agrees(tmp_path):
    results = tmp_path / 'RESULTS.md'
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'scripts', 'benchmarks', 'topn.py'), '--users',
         '3000', '--items', '500', '--factors', '8', '--results', str(results)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    text = results.read_text()
    assert 'Same items from every method on a 200-user sample: yes' in text
    assert [line.split('|')[1].strip() for line in text.splitlines()
            if line.startswith('| ') and not line.startswith(('| method', '| ---'))] == \
        ['before', 'numpy loop', 'now']


@pytest.mark.slow
def test_autorec_benchmark_finds_both_paths_equal(shared_data):
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'scripts', 'benchmarks', 'autorec.py'), '--root',
         shared_data, '--data', 'ml-100k', '--epochs', '1', '--no-write'],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = [line.split('|') for line in proc.stdout.splitlines()
            if line.startswith('| ml-100k |')]
    assert [r[2].strip() for r in rows] == ['I-AutoRec', 'U-AutoRec']
    assert all(r[-2].strip() == 'yes' and r[6] == r[7] for r in rows)  # same val RMSE


@pytest.mark.slow
def test_bpr_speed_benchmark_prints_every_row(shared_data):
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'scripts', 'benchmarks', 'bpr_speed.py'), '--root',
         shared_data, '--positives', '20000', '--epochs', '2', '--iterations', '2',
         '--no-write'], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = [line.split('|') for line in proc.stdout.splitlines()
            if line.startswith(('| ml-100k', '| synthetic'))]
    assert [r[3].strip() for r in rows] == ['1', '2', '1', '2']  # threads, per data set
    for r in rows:  # the fused epoch is faster than the generic one
        assert float(r[4].split()[0]) < float(r[6].split()[0])


@pytest.mark.slow
def test_refit_benchmark_compares_the_three_recipes(tmp_path):
    root = _ml100k_folder(tmp_path)
    results = tmp_path / 'RESULTS.md'
    _bench('refit.py', '--data', 'ml-100k', '--root', root, '--models', 'biased_mf',
           '--seeds', 0, 1, '--results', results)
    row = next(line for line in results.read_text().splitlines()
               if line.startswith('| ml-100k | biased_mf |')).split('|')
    plain, same, scaled = (float(row[i].split('±')[0]) for i in (3, 4, 5))
    per_seed = row[6].split('(')[1].rstrip(') ').split(', ')
    assert len(per_seed) == 2 and float(row[6].split('(')[0]) == pytest.approx(
        scaled - plain, abs=2e-4)
    chosen, grown = zip(*(pair.split(' -> ') for pair in row[8].strip().split(', ')))
    assert [int(g) for g in grown] == [round(int(c) * 1.25) for c in chosen]
