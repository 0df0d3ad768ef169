"""Fetch a declared data set's official archive into the data folder, safely."""
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

from .sets import DataNotFound, get_dataset
from .sets import data_home as data_home_of

__all__ = ['fetch']

logger = logging.getLogger(__name__)

_LOOPBACK = ('127.0.0.1', 'localhost', '::1')

_CHUNK = 1 << 16


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
        raise ValueError(f'{archive}: not a valid zip archive ({exc}); it may be '
                         'truncated') from None
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
    """Download and unpack a declared data set's archive once; return its folder.

    Parameters
    ----------
    name : str
        A declared data set with an archive ('jester', 'ml-100k', 'ml-1m',
        'ml-latest-small', or one a module of yours declared).
    data_home : str, optional
        The data folder (see ``gluonrec.data.data_home``). A ``GLUONREC_DATA`` folder
        that does not exist is refused rather than created (a relative path run from
        another folder would download to a new folder there).
    url : str, optional
        Another address for the same archive (a mirror, or a test server).
    progress : bool, optional
        Show a progress bar; default: when stderr is a terminal.
    sha256 : str, optional
        The archive's expected SHA-256, checked instead of the declared ``digest``.
        The archive is checked before extraction (also when it was downloaded before);
        a mismatch removes it and raises ``ValueError`` naming the file and both digests.
        Only https addresses are fetched (http only from this machine).

    Returns
    -------
    str
        The folder holding the data set's files (``data_home/<folder>``).

    Raises
    ------
    DataNotFound
        The download failed; the message says which files to put where instead.
    """
    dataset = get_dataset(name)
    if dataset.url is None:
        raise ValueError(f'{name}: the data set declares no archive to download')
    home = data_home_of(data_home)
    if data_home is None and os.environ.get('GLUONREC_DATA') and not os.path.isdir(home):
        raise DataNotFound(f'GLUONREC_DATA={os.environ["GLUONREC_DATA"]} names {home}, which '
                           'does not exist; nothing was downloaded (create it, or give an '
                           'absolute path)')
    folder = dataset.folder_in(home)
    wanted = dataset.archive_members
    if all(os.path.isfile(os.path.join(folder, member)) for member in wanted):
        return folder
    address = url or dataset.url
    _check_address(address)
    expected = ('sha256', sha256) if sha256 else dataset.digest
    archive = os.path.join(home, 'downloads', os.path.basename(address.split('?')[0]))
    if not os.path.isfile(archive):
        logger.info('downloading %s to %s', address, archive)
        try:
            _download(address, archive, progress)
        except (urllib.error.URLError, OSError) as exc:
            raise DataNotFound(f'could not download {name} from {address} ({exc}); '
                               f'offline: {dataset.offline_help(folder)}') from None
    _verify(archive, expected, name)
    try:
        _safe_extract(archive, folder, wanted)
    except ValueError:
        os.remove(archive)  # a bad archive must not be reused on the next call
        raise
    return folder
