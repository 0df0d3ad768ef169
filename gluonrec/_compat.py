"""Import MXNet 1.9 under a numpy that dropped the aliases it still uses."""
import numpy as np

# numpy 1.24 removed these aliases; mxnet 1.9.1 (the last release) still calls
# np.bool and friends at import time.  Restoring them is harmless: they are the
# builtins numpy itself pointed to before 1.24.
_REMOVED_ALIASES = {'bool': bool, 'int': int, 'float': float, 'complex': complex,
                    'object': object, 'str': str}
for _name, _builtin in _REMOVED_ALIASES.items():
    if _name not in np.__dict__:
        setattr(np, _name, _builtin)

try:
    import mxnet as mx  # noqa: E402
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "gluonrec needs Apache MXNet 1.9: run `pip install mxnet==1.9.1` "
        "(CPU) or an mxnet-cuXXX==1.9.1 build for your CUDA (GPU); "
        f"import failed with: {exc}") from None

__all__ = ['mx']
