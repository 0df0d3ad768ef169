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
                   'gluonrec nnmf', 'gluonrec mlp', 'blog way in MXNet'):
        assert system in text, system
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
