"""Fetch the official Jester and MovieLens archives into a local cache, safely."""
import hashlib
import logging
import os
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

__all__ = ['fetch', 'data_home', 'DATASETS', 'DIGESTS']

logger = logging.getLogger(__name__)

# name -> (official address, folder under data_home, members that must be present)
DATASETS = {
    'jester': ('https://eigentaste.berkeley.edu/dataset/archive/jester_dataset_2.zip',
               'jester', ('jester_ratings.dat', 'jester_items.dat')),
    'ml-100k': ('https://files.grouplens.org/datasets/movielens/ml-100k.zip',
                'ml-100k', ('u.data', 'u.item')),
    'ml-1m': ('https://files.grouplens.org/datasets/movielens/ml-1m.zip',
              'ml-1m', ('ratings.dat', 'movies.dat')),
    'ml-latest-small': ('https://files.grouplens.org/datasets/movielens/ml-latest-small.zip',
                        'ml-latest-small', ('ratings.csv', 'movies.csv')),
}

#: The digest each archive is checked against before anything is extracted: the MD5
#: GroupLens publishes beside its fixed releases (``ml-100k.zip.md5``, ``ml-1m.zip.md5``).
#: No SHA-256 is published for these, and none could be computed here (no network to
#: the archives), so MD5 it is, which catches corruption and a swapped file though
#: not a deliberate collision. Jester publishes no digest and ml-latest-small is
#: rebuilt by GroupLens now and then: for them ``fetch`` logs the SHA-256 it got and
#: takes ``sha256=`` to pin it.
DIGESTS = {
    'ml-100k': ('md5', '0e33842e24a9c977be4e0107933c0723'),
    'ml-1m': ('md5', 'c4d9eecfca2ab87c1945afe126590906'),
}
_LOOPBACK = ('127.0.0.1', 'localhost', '::1')

_CHUNK = 1 << 16


def data_home(data_home=None):
    """Where data sets are looked for and downloaded to.

    In order: the ``data_home`` argument, the ``GLUONREC_DATA`` environment variable,
    the ``data/`` folder of a source checkout, ``~/.gluonrec``.
    """
    if data_home:
        return os.path.abspath(os.path.expanduser(os.fspath(data_home)))
    if os.environ.get('GLUONREC_DATA'):
        return os.path.abspath(os.path.expanduser(os.environ['GLUONREC_DATA']))
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(checkout, 'setup.cfg')) and \
            os.path.isdir(os.path.join(checkout, 'data')):
        return os.path.join(checkout, 'data')
    return os.path.join(os.path.expanduser('~'), '.gluonrec')


def _download(url, target, progress):
    """Stream ``url`` to ``target`` via a temporary file; raise on a short read."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(target), suffix='.part')
    try:
        with os.fdopen(handle, 'wb') as out, _OPENER.open(url, timeout=60) as resp:
            total = resp.headers.get('Content-Length')
            total = int(total) if total else None
            bar = _progress(total, os.path.basename(target), progress)
            received = 0
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            bar.close()
        if total is not None and received != total:
            raise OSError(f'download of {url} stopped after {received} of {total} bytes')
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _check_address(address):
    """Only https, or http to this machine (a test server or a local mirror)."""
    parts = urllib.parse.urlsplit(address)
    if parts.scheme == 'https' or (parts.scheme == 'http' and parts.hostname in _LOOPBACK):
        return
    raise ValueError(f'{address}: only https addresses are fetched (http only from this '
                     'machine)')


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an address ``fetch`` would take if given it directly
    (``_check_address``): a server cannot send the download elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        try:
            _check_address(newurl)
        except ValueError as exc:
            raise ValueError(f'{req.full_url}: redirected ({code}) to {exc}') from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_CheckedRedirects)


def _digest(path, algorithm):
    hasher = hashlib.new(algorithm)
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            hasher.update(chunk)
    return hasher.hexdigest()


def _verify(archive, expected, name):
    """Check ``archive`` against (algorithm, hex digest); on a mismatch remove it and
    say which file and both digests. Without one, log its SHA-256."""
    if expected is None:
        logger.warning('%s: no published digest for %s; its SHA-256 is %s (pass '
                       'sha256= to fetch to pin it)', archive, name, _digest(archive, 'sha256'))
        return
    algorithm, want = expected
    got = _digest(archive, algorithm)
    if got != want.lower():
        os.remove(archive)
        raise ValueError(f'{archive}: {algorithm.upper()} {got} does not match the expected '
                         f'{want} of {name}; the file was removed, nothing was extracted')


def _progress(total, desc, enabled):
    from tqdm import tqdm
    disable = not enabled if enabled is not None else not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit='B', unit_scale=True, disable=disable)


def _safe_extract(archive, folder, wanted):
    """Extract the ``wanted`` basenames from ``archive`` into ``folder``.

    Every member is checked first: none may be absolute, climb out with ``..`` or be a
    symbolic link; all wanted names must be present. Files are written to temporary
    names and renamed, so an interrupted extraction leaves no half file behind.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ValueError(f'{archive}: not a valid zip archive ({exc}); it may be truncated')
    with zf:
        found, seen = {}, {}
        for info in zf.infolist():
            name = info.filename
            parts = name.replace('\\', '/').split('/')
            if name.startswith(('/', '\\')) or '..' in parts or ':' in parts[0]:
                raise ValueError(f'{archive}: unsafe member path {name!r}')
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ValueError(f'{archive}: member {name!r} is a symbolic link')
            base = parts[-1]
            if base in wanted and not info.is_dir():
                if base in found:
                    raise ValueError(f'{archive}: two members are named {base!r} '
                                     f'({seen[base]!r} and {name!r}); refusing to pick one')
                found[base], seen[base] = info, name
        missing = [name for name in wanted if name not in found]
        if missing:
            raise ValueError(f'{archive}: archive lacks expected member(s) {missing}')
        os.makedirs(folder, exist_ok=True)
        for base, info in found.items():
            target = os.path.join(folder, base)
            handle, tmp = tempfile.mkstemp(dir=folder, suffix='.part')
            try:
                with os.fdopen(handle, 'wb') as out, zf.open(info) as src:
                    shutil.copyfileobj(src, out, _CHUNK)
                os.replace(tmp, target)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise ValueError(f'{archive}: member {base!r} is corrupt ({exc})') from None
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)


def fetch(name, data_home=None, url=None, progress=None, sha256=None):
    """Download and unpack a data set once; return its folder.

    Parameters
    ----------
    name : {'jester', 'ml-100k', 'ml-1m', 'ml-latest-small'}
    data_home : str, optional
        Cache folder (see ``gluonrec.data.data_home``).
    url : str, optional
        Another address for the same archive (a mirror, or a test server).
    progress : bool, optional
        Show a progress bar; default: when stderr is a terminal.
    sha256 : str, optional
        The archive's expected SHA-256, checked instead of the digest in ``DIGESTS``.
        The archive is checked before extraction (also when it was downloaded before);
        a mismatch removes it and raises ``ValueError`` naming the file and both digests.
        Only https addresses are fetched (http only from this machine).

    Returns
    -------
    str
        The folder holding the data set's files (``data_home/<name>``).
    """
    if name not in DATASETS:
        raise ValueError(f'unknown data set {name!r}; choose from {sorted(DATASETS)}')
    official, sub, wanted = DATASETS[name]
    home = globals()['data_home'](data_home)
    folder = os.path.join(home, sub)
    if all(os.path.isfile(os.path.join(folder, member)) for member in wanted):
        return folder
    address = url or official
    _check_address(address)
    expected = ('sha256', sha256) if sha256 else DIGESTS.get(name)
    archive = os.path.join(home, 'downloads', os.path.basename(address.split('?')[0]))
    if not os.path.isfile(archive):
        logger.info('downloading %s to %s', address, archive)
        try:
            _download(address, archive, progress)
        except (urllib.error.URLError, OSError) as exc:
            raise OSError(
                f'could not download {name} from {address} ({exc}). If this machine is '
                f'offline, fetch {official} elsewhere and put {", ".join(wanted)} into '
                f'{folder}') from None
    _verify(archive, expected, name)
    try:
        _safe_extract(archive, folder, wanted)
    except ValueError:
        os.remove(archive)  # a bad archive must not be reused on the next call
        raise
    return folder
