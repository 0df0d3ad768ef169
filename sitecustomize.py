"""gluonrec's startup hook, installed on Python >= 3.12 only (see setup.py and README).

MXNet 1.9.1, the last release, uses the numpy aliases (``np.bool`` ...) that numpy 1.24
removed, and no numpy with those aliases exists for Python 3.12. Python imports
``sitecustomize`` at start-up; this one costs nothing then: it puts a finder first on
``sys.meta_path`` that, when ``mxnet`` is first imported, restores exactly the removed
aliases (the builtins numpy itself pointed them to) and then steps aside, letting the
normal import go on. Only a ``sitecustomize`` earlier on ``sys.path`` (one in the
standard library's folder) would take precedence over this one; ``import gluonrec``
still restores the aliases itself in that case (``gluonrec._compat``).
"""
import sys

_ALIASES = {'bool': bool, 'int': int, 'float': float, 'complex': complex, 'object': object,
            'str': str}


class _RestoreNumpyAliases:
    """A meta-path finder that finds nothing: it patches numpy as ``mxnet`` loads."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == 'mxnet':
            sys.meta_path[:] = [f for f in sys.meta_path if f is not cls]
            try:
                import numpy
            except ImportError:
                return None
            for alias, builtin in _ALIASES.items():
                if alias not in numpy.__dict__:
                    setattr(numpy, alias, builtin)
        return None


if 'mxnet' not in sys.modules:
    sys.meta_path.insert(0, _RestoreNumpyAliases)
