import subprocess
import sys

import numpy as np


def test_numpy_aliases_restored_for_mxnet():
    import gluonrec  # noqa: F401
    assert np.bool is bool and np.object is object
    import mxnet as mx
    assert mx.nd.ones((2,)).sum().asscalar() == 2


def test_import_without_mxnet_names_what_to_install():
    code = ("import sys; sys.modules['mxnet'] = None\n"
            "try:\n    import gluonrec\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert len(out.splitlines()) == 1
    assert 'pip install mxnet==1.9.1' in out and 'mxnet-cu' in out


def _fresh(code):
    """Run ``code`` in a new interpreter of this environment, outside the checkout (so
    nothing here is on sys.path but what was installed)."""
    import tempfile
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                              cwd=empty, timeout=120)


def test_import_mxnet_first_works_in_the_installed_environment():
    """Issue 15: `import mxnet` as line one, in any order with gluonrec."""
    for code in ('import mxnet as mx; print(mx.nd.ones(2).sum().asscalar())',
                 'from mxnet import gluon; print(gluon.nn.Dense(1).__class__.__name__)',
                 'import mxnet as mx; import gluonrec; print(mx.nd.ones(2).sum().asscalar())',
                 'import gluonrec; import mxnet as mx; print(mx.nd.ones(2).sum().asscalar())'):
        proc = _fresh(code)
        assert proc.returncode == 0, f'{code}\n{proc.stderr[-2000:]}'
        assert proc.stdout.strip() in ('2.0', 'Dense'), proc.stdout


def test_numpy_has_the_aliases_or_the_hook_is_installed():
    """Below Python 3.12 the pinned numpy has the aliases itself (no start-up hook); from
    3.12 on the hook restores them, and only when mxnet is imported."""
    proc = _fresh('import sys, warnings, numpy\n'
                  'warnings.simplefilter("ignore")\n'
                  "print(hasattr(numpy, 'bool'), 'sitecustomize' in sys.modules,\n"
                  "      any(type(f).__name__ == 'type' and f.__name__ == '_RestoreNumpyAliases'\n"
                  '          for f in sys.meta_path))')
    has_alias, hooked, waiting = proc.stdout.split()  # numpy 1.23 serves the aliases
    # through a deprecated module __getattr__, which is what mxnet's np.bool reaches
    if sys.version_info < (3, 12):
        assert has_alias == 'True' and np.__version__ == '1.23.5'
    else:
        assert (has_alias, waiting) == ('False', 'True')  # nothing patched until mxnet loads
        assert hooked == 'True'


def test_hook_restores_exactly_the_removed_aliases():
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        'sitecustomize.py')
    spec = importlib.util.spec_from_file_location('_hook_under_test', path)
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert set(hook._ALIASES) == {'bool', 'int', 'float', 'complex', 'object', 'str'}
    assert hook._RestoreNumpyAliases.find_spec('not_mxnet') is None
