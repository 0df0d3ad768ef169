"""Import MXNet 1.9 under a numpy that dropped the aliases it still uses."""
import os

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

__all__ = ['mx', 'error_line', 'write_ndarrays', 'physical_memory']


def error_line(exc):
    """The informative line of an exception whose text may be MXNet's C++ traceback
    (never "Traceback (most recent call last):" or a stack frame)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for line in lines:
        if 'Check failed' in line or line.startswith(('MXNetError', 'AssertionError')):
            return line
    useful = [line for line in lines if not line.startswith(('Traceback', 'File ', '['))]
    return (useful or lines or [type(exc).__name__])[-1]


def write_ndarrays(path, write):
    """Run ``write(path)``, an MXNet save (``nd.save``, ``save_parameters``), and read
    the file back: MXNet does not report a write its buffered I/O lost when the file
    was closed (a full disk). Either failure is an ``OSError`` naming ``path``."""
    try:
        write(path)
        mx.nd.load(path)
    except mx.base.MXNetError as exc:
        raise OSError(f'{path}: cannot write it, the disk may be full '
                      f'({error_line(exc)})') from None


def physical_memory():
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (AttributeError, ValueError, OSError):
        return None
