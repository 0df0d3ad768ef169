"""Atomic writes: a temporary name in the same folder, then a rename; folders swapped
in one step; a lock per folder."""
import ctypes
import errno
import json
import os
import tempfile
import threading
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ['atomic_path', 'make_public', 'write_json', 'write_text', 'exchange_paths',
           'folder_lock']


def _umask():
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def make_public(path):
    """Give a file or folder made by ``tempfile`` (0600 / 0700) the mode an ordinary
    ``open`` or ``mkdir`` would have given it under the user's umask."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_umask())


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception (Ctrl-C included) the temporary file is removed and ``path``
    keeps its previous content.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.',
                                   suffix='.tmp')
    os.close(handle)
    make_public(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename in (None, tmp):  # "[Errno 28] No space left on device": where?
            raise OSError(exc.errno, exc.strerror, path) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, 'w', encoding='utf-8') as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def _load_renameat2():
    """libc's ``renameat2`` (Linux, glibc >= 2.28), or None where there is none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange_paths(a, b):
    """Swap the entries at paths ``a`` and ``b`` in one atomic step (Linux's
    ``renameat2(RENAME_EXCHANGE)``): at every instant each path names one of the two.

    Returns False, having changed nothing, where the system or the file system cannot
    (another OS, an old kernel, some network file systems); raises ``OSError`` naming
    ``b`` for any other failure.
    """
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


_HELD = {}  # (locked folder, thread) -> depth: a thread holding a lock may take it again


@contextmanager
def folder_lock(folder):
    """Hold an exclusive lock for writing ``folder``, for the duration of the block.

    What is locked is the folder's parent directory (an ``flock`` on it), not the
    folder, because a model folder is replaced whole, and not a lock file, which would
    be one more file beside the user's: so writes of folders that share a parent take
    turns. Processes and threads wait for each other; the system releases the lock when
    a process dies, so no stale lock survives a crash. Where there is no ``fcntl``
    (Windows) the block runs unlocked.
    """
    parent = os.path.dirname(os.path.abspath(os.fspath(folder)))
    key = (parent, threading.get_ident())
    if key in _HELD or fcntl is None:
        _HELD[key] = _HELD.get(key, 0) + 1
        try:
            yield
        finally:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]
        return
    os.makedirs(parent, exist_ok=True)
    handle = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        os.close(handle)  # releases the lock
