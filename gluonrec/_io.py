"""Atomic file writes: a temporary name in the same folder, then a rename."""
import json
import os
import tempfile
from contextlib import contextmanager

__all__ = ['atomic_path', 'write_json', 'write_text']


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
