"""Build and load gluonrec's C++ operator library (MXNet's ``lib_api``), once per process.

The source (``fused_mf.cc``) ships in the package. On first use it is compiled with the
C++ compiler ``$CXX`` (default ``g++``, which needs OpenMP) against the ``lib_api.h`` and
``lib_api.cc`` inside the installed mxnet wheel, into a per-user cache folder
(``$GLUONREC_CACHE``, else ``$XDG_CACHE_HOME/gluonrec``, else ``~/.cache/gluonrec``). The
file name holds a digest of everything the binary depends on: the source, both lib_api
files, the mxnet version, the compiler's version, the flags and the CPU (the build uses
``-march=native``), so a change to any of them builds a new library. Builds run under a
file lock and are renamed into place when complete, so processes building at once are
safe and a crash leaves no half-written library behind; the size and SHA-256 of each
library are recorded beside it (``NAME.so.sha256``) and checked before every load, so a
library truncated or damaged later is rebuilt instead of crashing the process.
"""
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import time

from .._compat import error_line, mx
from .._io import write_text

__all__ = ['BuildError', 'OP_NAME', 'SOURCE', 'FLAGS', 'cache_dir', 'library_path', 'build',
           'load']

logger = logging.getLogger(__name__)

OP_NAME = 'gluonrec_mf_update'
#: Every operator the library registers (the rating kernel and bpr_mf's).
OP_NAMES = (OP_NAME, 'gluonrec_bpr_update')
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fused_mf.cc')
FLAGS = ('-std=c++17', '-O3', '-march=native', '-fopenmp', '-fno-math-errno', '-shared',
         '-fPIC')


class BuildError(RuntimeError):
    """The operator library cannot be built or loaded here (the message says why)."""


def cache_dir():
    """Where built libraries are kept."""
    if os.environ.get('GLUONREC_CACHE'):
        return os.environ['GLUONREC_CACHE']
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'gluonrec')


def _mxnet_files():
    root = os.path.dirname(os.path.abspath(mx.__file__))
    header = os.path.join(root, 'include', 'mxnet', 'lib_api.h')
    source = os.path.join(root, 'src', 'lib_api.cc')
    for path in (header, source):
        if not os.path.isfile(path):
            raise BuildError(f'{path} is missing: this mxnet install has no lib_api '
                             '(operator libraries need mxnet >= 1.9 wheels)')
    return os.path.join(root, 'include'), header, source


def _compiler():
    cxx = os.environ.get('CXX', 'g++')
    path = shutil.which(cxx)
    if path is None:
        raise BuildError(f'no C++ compiler: {cxx!r} not found on PATH (install g++ with '
                         'OpenMP, or set CXX)')
    try:
        version = subprocess.run([path, '--version'], capture_output=True, text=True,
                                 timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f'cannot run the C++ compiler {path}: {exc}') from None
    return path, version


def _cpu():
    """What -march=native depends on: the machine and the CPU's model and flags."""
    fields = {}
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as handle:
            for line in handle:
                key, _, value = line.partition(':')
                key = key.strip()
                if key in ('model name', 'flags', 'Features') and key not in fields:
                    fields[key] = value.strip()
    except OSError:
        pass
    return platform.machine() + repr(sorted(fields.items()))


def library_path(folder=None):
    """The path the library for this source, mxnet, compiler, flags and CPU has."""
    _, header, lib_source = _mxnet_files()
    _, version = _compiler()
    digest = hashlib.sha256()
    for path in (SOURCE, header, lib_source):
        with open(path, 'rb') as handle:
            digest.update(handle.read())
    for part in (mx.__version__, version, ' '.join(FLAGS), _cpu()):
        digest.update(part.encode())
    return os.path.join(folder or cache_dir(), f'fused_mf-{digest.hexdigest()[:20]}.so')


def _locked(folder):
    try:
        import fcntl
    except ImportError:  # Windows: no POSIX locks (and no g++/OpenMP setup tested there)
        raise BuildError('building the operator library needs a POSIX system') from None
    handle = open(os.path.join(folder, 'build.lock'), 'w')
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _record(path):
    """Where the size and SHA-256 of the library at ``path`` are kept from its build."""
    return path + '.sha256'


def _intact(path):
    """True when the library at ``path`` is byte for byte what its build wrote (a
    truncated or damaged one would crash the process when loaded: a bus error)."""
    try:
        with open(_record(path), encoding='utf-8') as handle:
            size, digest = handle.read().split()
        return os.path.getsize(path) == int(size) and _sha256(path) == digest
    except (OSError, ValueError):
        return False


def build(folder=None):
    """Compile the library unless the cache holds it intact; returns its path.

    A cached library whose size or SHA-256 differs from what its build recorded (or
    without that record) is rebuilt, with one log line. Any failure to create, lock or
    write the cache folder is a ``BuildError`` naming it, so ``engine='auto'`` falls back.
    """
    folder = folder or cache_dir()
    path = library_path(folder)
    if _intact(path):
        return path
    include, _, lib_source = _mxnet_files()
    cxx, _ = _compiler()
    try:
        os.makedirs(folder, exist_ok=True)
        with _locked(folder):
            if _intact(path):  # another process built it while we waited
                return path
            if os.path.exists(path):
                logger.warning('%s: not the library its build wrote (truncated or changed); '
                               'rebuilding it', path)
            for name in os.listdir(folder):  # left by a build killed mid-way: we hold the lock
                if name.startswith('fused_mf-') and name.endswith('.tmp'):
                    os.remove(os.path.join(folder, name))
            _compile(cxx, include, lib_source, path)
    except OSError as exc:
        raise BuildError(f'cannot use the engine cache {folder}: '
                         f'{exc.strerror or exc}') from None
    return path


def _compile(cxx, include, lib_source, path):
    """Compile into a temporary file, record its size and digest, rename it to ``path``."""
    tmp = f'{path}.{os.getpid()}.tmp'
    command = [cxx, *FLAGS, '-I', include, SOURCE, lib_source, '-o', tmp]
    tic = time.time()
    logger.info('building the fused training engine (once): %s', ' '.join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f'compiling {SOURCE} failed: {exc}') from None
    if done.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        first = (done.stderr.strip().splitlines() or ['no output'])[0]
        raise BuildError(f'compiling {SOURCE} failed (exit {done.returncode}): {first}')
    write_text(_record(path), f'{os.path.getsize(tmp)} {_sha256(tmp)}\n')
    os.replace(tmp, path)
    logger.info('built %s in %.1f s', path, time.time() - tic)


def load(folder=None):
    """Build if needed and load the library into MXNet, once per process.

    MXNet refuses to register the same operators again, so a process that already has
    them (loaded here or by the caller) does not load the library a second time.
    """
    if hasattr(mx.nd, OP_NAME):
        return
    path = build(folder)
    try:
        mx.library.load(path, verbose=False)
    except Exception as exc:  # MXNetError with MXNet's accumulated messages
        raise BuildError(f'cannot load {path}: {error_line(exc)}') from None
    missing = [name for name in OP_NAMES if not hasattr(mx.nd, name)]
    if missing:
        raise BuildError(f'{path} loaded but did not register {", ".join(missing)}')
