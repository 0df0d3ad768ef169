"""Atomic file writes: a temporary name in the same folder, then a rename."""
import json
import os
import tempfile
from contextlib import contextmanager

__all__ = ['atomic_path', 'make_public', 'write_json', 'write_text']


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
