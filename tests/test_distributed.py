"""Parameter-server training on loopback: 1 scheduler, servers and workers as processes.

Every job is bounded by the launcher's --timeout and pytest's own subprocess timeout;
only 127.0.0.1 is used (ports chosen at run time).
"""
import json
import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from gluonrec._compat import mx

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, 'dist_worker.py')

pytestmark = pytest.mark.skipif(not mx.runtime.Features().is_enabled('DIST_KVSTORE'),
                                reason='this mxnet build has no distributed kvstore')


def _launch(tmp_path, workers, servers, *worker_args, timeout=120):
    token = uuid.uuid4().hex
    cmd = [sys.executable, '-m', 'gluonrec.launch', '-n', str(workers), '-s', str(servers),
           '--timeout', str(timeout), '--', sys.executable, WORKER, '--out', str(tmp_path),
           *worker_args]
    env = dict(os.environ, GLUONREC_TEST_JOB=token)
    tic = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout + 60)
    return proc, time.time() - tic, token


def _leftovers_after(token, wait=10.0):
    """The job's processes still alive once the launcher has returned: SIGKILLed
    processes may take a moment to be reaped on a loaded machine, so poll up to ``wait``
    seconds for them to go rather than judge after a fixed sleep."""
    deadline = time.time() + wait
    while _leftovers(token) and time.time() < deadline:
        time.sleep(0.2)
    return _leftovers(token)


def _leftovers(token):
    """Processes still carrying this job's token in their environment."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/environ', 'rb') as env:
                if token.encode() in env.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture(scope='module')
def single(tmp_path_factory):
    """Single-process runs with the same global batch size, dense and sparse."""
    results = {}
    for sparse in (False, True):
        out = tmp_path_factory.mktemp('single')
        args = ['--epochs', '3'] + (['--sparse'] if sparse else [])
        subprocess.run([sys.executable, WORKER, '--out', str(out), *args], check=True,
                       capture_output=True, timeout=300)
        results[sparse] = json.loads((out / 'rank-0.json').read_text())
    return results


@pytest.mark.slow
@pytest.mark.parametrize('sparse, servers', [(False, 1), (True, 1), (True, 2)])
def test_dist_sync_matches_single_process(tmp_path, single, sparse, servers):
    args = ['--epochs', '3'] + (['--sparse'] if sparse else [])
    job = tmp_path / 'job'
    job.mkdir()
    proc, _, token = _launch(job, 2, servers, '--kvstore', 'dist_sync', *args)
    assert proc.returncode == 0, proc.stdout[-3000:]
    ranks = [json.loads((job / f'rank-{r}.json').read_text()) for r in (0, 1)]
    assert {r['workers'] for r in ranks} == {2}
    first, second = np.load(job / 'rank-0.npz'), np.load(job / 'rank-1.npz')
    assert sorted(first.files) == sorted(second.files)
    for key in first.files:  # every worker ends with the same parameters
        np.testing.assert_array_equal(first[key], second[key])
    assert ranks[0]['val_rmse'] == pytest.approx(single[sparse]['val_rmse'], rel=0.05)
    assert not _leftovers(token)


@pytest.mark.slow
def test_killed_worker_ends_job_in_bounded_time(tmp_path):
    proc, elapsed, token = _launch(tmp_path, 2, 1, '--kvstore', 'dist_sync', '--epochs', '50',
                                   '--die-at-epoch', '1', timeout=90)
    assert proc.returncode != 0
    assert 'exited with status -9; stopping the job' in proc.stdout
    assert elapsed < 90
    assert not _leftovers_after(token)


@pytest.mark.slow
def test_time_limit_stops_a_hung_job(tmp_path):
    token = uuid.uuid4().hex
    tic = time.time()
    proc = subprocess.run([sys.executable, '-m', 'gluonrec.launch', '-n', '1', '--timeout', '3',
                           '--', sys.executable, '-c', 'import time; time.sleep(120)'],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, GLUONREC_TEST_JOB=token))
    assert proc.returncode == 124 and 'time limit of 3 s reached' in proc.stdout
    assert time.time() - tic < 30
    assert not _leftovers(token)


def test_launcher_usage_errors():
    proc = subprocess.run([sys.executable, '-m', 'gluonrec.launch', '-n', '2'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'worker command' in proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'gluonrec.launch', '-n', '1', '--hosts',
                           'no-such-file', '--', 'true'], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and 'no such file' in proc.stderr


def test_unsharded_iterator_is_refused_in_a_dist_job():
    """Outside a job, the check is exercised with a stand-in kvstore object."""
    from gluonrec.data import RatingIter
    from gluonrec.models import get_model
    from gluonrec.distributed import trainer_kvstore as _kvstore

    class FakeKV(mx.kvstore.KVStore):
        def __init__(self):
            pass

        def __del__(self):
            pass

        type, rank, num_workers = 'dist_sync', 1, 2

    it = RatingIter([0, 1], [0, 1], [0.0, 1.0], batch_size=1)
    net = get_model('mf', num_users=2, num_items=2)
    with pytest.raises(ValueError, match='num_parts=kv.num_workers'):
        _kvstore(FakeKV(), it, net)
    sparse = get_model('mf', num_users=2, num_items=2, sparse_grad=True)
    with pytest.raises(ValueError, match='row_sparse_weights=True'):
        _kvstore(FakeKV(), it, sparse)
    shard = RatingIter([0, 1], [0, 1], [0.0, 1.0], batch_size=1, num_parts=2, part_index=1)
    assert _kvstore(FakeKV(), shard, net)[1:] == (1, 2)


@pytest.mark.slow
def test_regression_one_worker_dist_job(tmp_path):
    """A dist kvstore with a single worker still updates on the server, so the gradient
    scale must be fixed up front there too (MXNet raised 'Possible change in the
    batch_size' on the first step)."""
    proc, _, token = _launch(tmp_path, 1, 1, '--kvstore', 'dist_sync', '--epochs', '1',
                             '--sparse')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert json.loads((tmp_path / 'rank-0.json').read_text())['workers'] == 1
    assert not _leftovers(token)


def test_an_unknown_kvstore_name_is_refused():
    from gluonrec.distributed import connect
    with pytest.raises(ValueError, match="kvstore must be one of .* got 'bogus'"):
        connect('bogus')
    assert connect('device') == ('device', 0, 1)


@pytest.mark.slow
@pytest.mark.parametrize('signame', ['SIGTERM', 'SIGHUP', 'SIGINT'])
def test_a_stop_signal_to_the_launcher_stops_the_whole_job(signame):
    """``kill``, ``timeout``, a scheduler or Ctrl-C used to stop only the launcher, leaving
    the scheduler, server and workers running. Now the whole job stops, the launcher
    exits 128 + the signal number and prints no traceback."""
    import signal
    token = uuid.uuid4().hex
    launcher = subprocess.Popen(
        [sys.executable, '-m', 'gluonrec.launch', '-n', '2', '--', sys.executable, '-c',
         'import time; time.sleep(120)'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, GLUONREC_TEST_JOB=token))
    deadline = time.time() + 60
    while len(_leftovers(token)) < 5 and time.time() < deadline:  # launcher + 4 processes
        time.sleep(0.2)
    assert len(_leftovers(token)) >= 5
    launcher.send_signal(getattr(signal, signame))
    out, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 128 + getattr(signal, signame)
    assert f'{signame} received; stopping the job' in out
    assert 'Traceback' not in out + err
    assert not _leftovers_after(token)


def test_a_stop_signal_while_a_process_starts_still_stops_that_process(monkeypatch):
    """SIGTERM arriving inside ``Popen`` (the child forked, not yet recorded) used to lose
    that child, which then outlived the job (the launcher test above caught it now and
    then on a loaded machine). Here the signal is sent from inside the third start."""
    import io
    import signal
    from gluonrec.distributed import launch
    real, started = subprocess.Popen, []

    def popen(*args, **kwargs):
        proc = real(*args, **kwargs)
        started.append(proc)
        if len(started) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return proc

    monkeypatch.setattr(launch.subprocess, 'Popen', popen)
    out = io.StringIO()
    code = launch.launch_local([sys.executable, '-c', 'import time; time.sleep(60)'], 2,
                               timeout=60, sink=out)
    assert code == 128 + signal.SIGTERM and 'SIGTERM received' in out.getvalue()
    assert len(started) == 3  # nothing was started after the signal
    assert all(proc.poll() is not None for proc in started), [p.pid for p in started]
