"""fetch() end to end against a local HTTP server on 127.0.0.1 (no network)."""
import http.server
import io
import os
import socket
import stat
import threading
import zipfile

import pytest

from gluonrec.data import data_home, fetch, load_jester
from gluonrec.data import get_dataset


def _zip(members, symlink=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as zf:
        for name, text in members.items():
            # A fixed date: writestr(name) stamps the current time, so two archives built
            # a second apart differed and a digest taken of one missed the other.
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, '/etc/passwd')
    return buffer.getvalue()


GOOD = {'jester_dataset_2/jester_ratings.dat': '1\t\t5\t\t0.219\n2\t\t7\t\t-9.281\n',
        'jester_dataset_2/jester_items.dat': '5:\n\nA joke.\n\n7:\n\nAnother.\n'}


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}
    redirects = {}  # path -> the Location a 302 sends the client to

    def do_GET(self):  # noqa: N802
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header('Location', self.redirects[self.path])
            self.end_headers()
            return
        body, length = self.routes.get(self.path, (None, None))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Length', str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    routes = {
        '/good.zip': (_zip(GOOD), len(_zip(GOOD))),
        '/evil.zip': (_zip({**GOOD, '../../escaped.txt': 'x'}), None),
        '/link.zip': (_zip(GOOD, symlink='jester_items_link'), None),
        '/missing.zip': (_zip({'jester_ratings.dat': '1\t\t5\t\t1\n'}), None),
        '/notzip.zip': (b'<html>not found</html>', None),
    }
    truncated = _zip(GOOD)
    routes['/truncated.zip'] = (truncated[:len(truncated) // 2], len(truncated))
    routes = {k: (body, len(body) if length is None else length)
              for k, (body, length) in routes.items()}
    _Handler.routes, _Handler.redirects = routes, {}
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


def test_fetch_downloads_extracts_and_caches(server, tmp_path):
    folder = fetch('jester', data_home=tmp_path, url=server + '/good.zip', progress=False)
    assert folder == str(tmp_path / 'jester')
    assert sorted(os.listdir(folder)) == ['jester_items.dat', 'jester_ratings.dat']
    assert len(load_jester(os.path.join(folder, 'jester_ratings.dat'))) == 2
    # cached: a second call does not touch the network (this address would fail)
    assert fetch('jester', data_home=tmp_path, url=server + '/absent.zip') == folder
    assert not [n for n in os.listdir(tmp_path / 'downloads') if n.endswith('.part')]


@pytest.mark.parametrize('path, message', [
    ('/evil.zip', 'unsafe member path'),
    ('/link.zip', 'symbolic link'),
    ('/missing.zip', 'lacks expected member'),
    ('/notzip.zip', 'not a valid zip'),
])
def test_bad_archives_are_refused(server, tmp_path, path, message):
    with pytest.raises(ValueError, match=message):
        fetch('jester', data_home=tmp_path, url=server + path, progress=False)
    assert not (tmp_path.parent / 'escaped.txt').exists()
    assert not os.path.exists(tmp_path / 'jester' / 'jester_ratings.dat')
    assert not os.listdir(tmp_path / 'downloads')  # the bad archive is not kept


def test_truncated_download_leaves_nothing(server, tmp_path):
    with pytest.raises(OSError, match='stopped after'):
        fetch('jester', data_home=tmp_path, url=server + '/truncated.zip', progress=False)
    assert not os.listdir(tmp_path / 'downloads')


def test_offline_error_says_where_to_put_files(tmp_path):
    with socket.socket() as sock:  # a closed port on loopback: connection refused
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError, match=r'put jester_ratings.dat and jester_items.dat into'):
        fetch('jester', data_home=tmp_path, url=f'http://127.0.0.1:{port}/x.zip')


def test_unknown_name_and_data_home_order(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='unknown data set'):
        fetch('netflix')
    monkeypatch.setenv('GLUONREC_DATA', str(tmp_path))
    assert data_home() == str(tmp_path)
    assert data_home(tmp_path / 'x') == str(tmp_path / 'x')
    monkeypatch.delenv('GLUONREC_DATA')
    assert data_home().endswith('data') or data_home().endswith('.gluonrec')
    assert get_dataset('ml-100k').url.startswith('https://files.grouplens.org/')


def _sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def test_a_pinned_digest_is_checked_before_extracting(server, tmp_path):
    good = _zip(GOOD)
    folder = fetch('jester', data_home=tmp_path, url=server + '/good.zip', progress=False,
                   sha256=_sha256(good))
    assert os.path.isfile(os.path.join(folder, 'jester_ratings.dat'))
    other = tmp_path / 'other'
    wrong = '0' * 64
    with pytest.raises(ValueError, match=f'SHA256 {_sha256(good)} does not match the '
                                         f'expected {wrong} of jester'):
        fetch('jester', data_home=other, url=server + '/good.zip', progress=False,
              sha256=wrong)
    assert not os.listdir(other / 'downloads') and not (other / 'jester').exists()


def test_known_archives_carry_the_published_digest(server, tmp_path):
    """ml-100k is checked against GroupLens' MD5: another archive served under its
    name is refused, and nothing is left behind."""
    digest = get_dataset('ml-100k').digest
    assert digest[0] == 'md5' and len(digest[1]) == 32
    ml = _zip({'ml-100k/u.data': '1\t2\t3\t4\n', 'ml-100k/u.item': '2|A (1995)|x\n'})
    _Handler.routes['/ml-100k.zip'] = (ml, len(ml))
    with pytest.raises(ValueError, match='MD5 .* does not match the expected '
                                         '0e33842e24a9c977be4e0107933c0723'):
        fetch('ml-100k', data_home=tmp_path, url=server + '/ml-100k.zip', progress=False)
    assert not os.listdir(tmp_path / 'downloads')


def test_only_https_or_loopback_http(tmp_path):
    with pytest.raises(ValueError, match='only https addresses'):
        fetch('jester', data_home=tmp_path, url='http://example.org/jester.zip')
    with pytest.raises(ValueError, match='only https addresses'):
        fetch('jester', data_home=tmp_path, url='ftp://127.0.0.1/jester.zip')


def test_redirects_follow_the_same_address_rules(server, tmp_path):
    """A 302 from 127.0.0.1 to http://127.0.0.2/..., refused when given directly, used
    to be followed and the archive extracted (Jester has no digest to catch it)."""
    port = server.rsplit(':', 1)[1]
    _Handler.redirects['/away.zip'] = f'http://127.0.0.2:{port}/good.zip'
    _Handler.redirects['/moved.zip'] = server + '/good.zip'
    with pytest.raises(ValueError, match=f'/away.zip: redirected \\(302\\) to http://127.0.0.2:'
                                         f'{port}/good.zip: only https addresses'):
        fetch('jester', data_home=tmp_path, url=server + '/away.zip', progress=False)
    assert not os.path.exists(tmp_path / 'jester') and not os.listdir(tmp_path / 'downloads')
    folder = fetch('jester', data_home=tmp_path, url=server + '/moved.zip', progress=False)
    assert sorted(os.listdir(folder)) == ['jester_items.dat', 'jester_ratings.dat']


def test_repeated_member_names_are_refused(server, tmp_path):
    twice = _zip({**GOOD, 'copy/jester_ratings.dat': '9\t\t9\t\t9\n'})
    _Handler.routes['/twice.zip'] = (twice, len(twice))
    with pytest.raises(ValueError, match="two members are named 'jester_ratings.dat'"):
        fetch('jester', data_home=tmp_path, url=server + '/twice.zip', progress=False)
    assert not os.path.exists(tmp_path / 'jester' / 'jester_ratings.dat')
