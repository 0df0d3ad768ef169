"""The notebooks in examples/ execute end to end, in this environment's own Python.

nbclient runs them: it is the executor that nbconvert and papermill are built on, it needs
no parameter cells (papermill) and does not compare outputs (nbval; the notebooks are
committed without outputs, and their own ``assert`` cells check the results).
"""
import glob
import os
import sys

import pytest

from conftest import REPO, SHARED_DATA, shared_data_missing

nbformat = pytest.importorskip('nbformat')
nbclient = pytest.importorskip('nbclient')

EXAMPLES = os.path.join(REPO, 'examples')
NOTEBOOKS = sorted(glob.glob(os.path.join(EXAMPLES, '*.ipynb')))
# the figures each notebook saves when GLUONREC_FIGURES is set
FIGURES = {'jester.ipynb': {'jester_ratings.png', 'jester_curve.png', 'jester_map.png'},
           'movielens.ipynb': {'movielens_models.png'}}


def test_every_notebook_is_listed():
    assert {os.path.basename(p) for p in NOTEBOOKS} == set(FIGURES)


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == 'code':
                assert not cell.outputs and cell.execution_count is None, path


def _execute(path, data_root, figures, monkeypatch):
    """Run the notebook at ``path`` with cwd examples/; returns the executed notebook."""
    nb = nbformat.read(path, as_version=4)
    # Prove which interpreter ran it: the kernel must be this environment's Python.
    nb.cells.append(nbformat.v4.new_code_cell('import sys; print(sys.prefix)'))
    monkeypatch.setenv('GLUONREC_DATA', data_root)
    monkeypatch.setenv('GLUONREC_FIGURES', str(figures))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',
                                     resources={'metadata': {'path': EXAMPLES}})
    client.execute()
    printed = ''.join(o.get('text', '') for o in nb.cells[-1].outputs)
    assert os.path.realpath(printed.strip()) == os.path.realpath(sys.prefix)
    return nb


@pytest.mark.slow
@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_notebook_executes(path, tmp_path, monkeypatch):
    """Every cell runs without error (nbclient raises CellExecutionError otherwise) and the
    plots are drawn. On the real data where it lies, on generated data elsewhere."""
    data_root = SHARED_DATA if shared_data_missing() is None else str(tmp_path / 'no-data')
    nb = _execute(path, data_root, tmp_path, monkeypatch)
    written = {f.name for f in tmp_path.glob('*.png') if f.stat().st_size > 1000}
    assert written == FIGURES[os.path.basename(path)]
    text = ''.join(o.get('text', '') for c in nb.cells if c.cell_type == 'code'
                   for o in c.outputs)
    expected = 'jester' if 'jester' in os.path.basename(path) else 'ml-100k'
    if data_root == SHARED_DATA:
        assert expected in text          # the real data set was read, not the fallback


@pytest.mark.slow
def test_jester_notebook_falls_back_to_generated_data(tmp_path, monkeypatch):
    """Without the real data (a machine without ../shared) the notebook still runs."""
    nb = _execute(os.path.join(EXAMPLES, 'jester.ipynb'), str(tmp_path / 'no-data'),
                  tmp_path, monkeypatch)
    assert 'synthetic' in ''.join(o.get('text', '') for o in nb.cells[2].outputs)
