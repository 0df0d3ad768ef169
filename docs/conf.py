"""Sphinx configuration: the API reference from the numpydoc docstrings (autodoc and
autosummary, read by napoleon), the pages in Markdown (MyST) and the notebooks as they
are stored (myst-nb, not executed: see examples.md). Built with warnings as errors in CI:
``python -m sphinx -W -b html docs docs/_build/html``."""
import os
import sys

sys.path.insert(0, os.path.abspath('..'))

import gluonrec  # noqa: E402

project = 'gluonrec'
author = 'the gluonrec developers'
copyright = 'the gluonrec developers, Apache-2.0'
release = version = gluonrec.__version__

extensions = ['myst_nb', 'sphinx.ext.autodoc', 'sphinx.ext.autosummary',
              'sphinx.ext.napoleon', 'sphinx.ext.mathjax', 'sphinx.ext.viewcode']
source_suffix = {'.md': 'myst-nb', '.ipynb': 'myst-nb'}
exclude_patterns = ['_build']

# Notebooks are shown as stored: their outputs are not kept in the repository (they print
# the Jester jokes' texts, which may not be redistributed) and running them belongs to
# the test suite (tests/test_examples.py), not to the documentation build.
nb_execution_mode = 'off'
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {'members': True, 'show-inheritance': True}
autodoc_member_order = 'bysource'
autodoc_typehints = 'none'
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = 'furo'
html_title = f'gluonrec {release}'
