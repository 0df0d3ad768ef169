"""Start a parameter-server job: scheduler, servers and workers, on one machine or several.

Locally (no ``--hosts``) every process is a child of this one, bound to 127.0.0.1 with the
``DMLC_*`` variables MXNet's kvstore reads; their output is streamed with a role/rank
prefix; the first process to fail, or the time limit, stops them all (no orphans) and the
job exits non-zero. Across machines (``--hosts FILE``) it hands over to MXNet's own
launcher, ``mxnet.tools.launch`` (ssh or mpi), which starts the same command everywhere.

Usage::

    python -m gluonrec.launch -n 2 -s 1 -- python scripts/train_jester.py --kvstore dist_sync
"""
import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

__all__ = ['launch_local', 'free_port', 'main']

# ps-lite reads these; a dead peer is noticed by missed heartbeats within ~seconds.
_PS_ENV = {'PS_VERBOSE': '0', 'PS_HEARTBEAT_INTERVAL': '1', 'PS_HEARTBEAT_TIMEOUT': '10'}
_SERVER_CMD = [sys.executable, '-c', 'import gluonrec._compat']  # importing mxnet serves


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _pump(stream, prefix, sink, lock):
    for line in iter(stream.readline, ''):
        with lock:
            sink.write(f'[{prefix}] {line}')
            sink.flush()
    stream.close()


def launch_local(command, num_workers, num_servers=1, timeout=None, env=None,
                 sink=sys.stdout):
    """Run ``command`` as ``num_workers`` workers with ``num_servers`` servers on loopback.

    Parameters
    ----------
    command : list of str
        The worker command (e.g. a training script with ``--kvstore dist_sync``).
    num_workers, num_servers : int
    timeout : float, optional
        Seconds before the whole job is stopped.
    env : dict, optional
        Extra environment for every process.
    sink : file
        Where the prefixed output goes.

    Returns
    -------
    int
        0 when every worker exited 0; otherwise the first failing exit status (or 124 on
        timeout, 1 if a process died by a signal). All processes are gone on return.
    """
    if num_workers < 1 or num_servers < 1:
        raise ValueError('need at least one worker and one server')
    base = dict(os.environ, **(env or {}), **_PS_ENV, DMLC_PS_ROOT_URI='127.0.0.1',
                DMLC_PS_ROOT_PORT=str(free_port()), DMLC_NODE_HOST='127.0.0.1',
                DMLC_NUM_SERVER=str(num_servers), DMLC_NUM_WORKER=str(num_workers),
                PYTHONUNBUFFERED='1')
    roles = [('scheduler', 0)] + [('server', i) for i in range(num_servers)] + \
        [('worker', i) for i in range(num_workers)]
    procs, pumps, lock = [], [], threading.Lock()
    starting = _Deferral()
    try:
        with _signal_handlers(starting.handle):
            return _run(command, roles, base, procs, pumps, timeout, sink, lock, starting)
    except _Stopped as stop:
        with lock:
            sink.write(f'[launch] {signal.Signals(stop.signum).name} received; stopping the '
                       'job\n')
        return 128 + stop.signum
    finally:
        with _signals_ignored():  # a second signal must not cut the clean-up short
            _stop_all(procs)
        for pump in pumps:
            pump.join(timeout=5)


class _Stopped(Exception):
    """The launcher was told to stop (SIGTERM, SIGINT or SIGHUP)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ('SIGTERM', 'SIGINT', 'SIGHUP')
                      if hasattr(signal, name))


@contextlib.contextmanager
def _signal_handlers(handler):
    """Install ``handler`` for the stop signals (main thread only), restore on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Deferral:
    """The stop signals' handler: SIGTERM (``kill``, ``timeout``, schedulers), SIGINT
    (Ctrl-C) and SIGHUP end the job as a worker failure does (``_Stopped``, then every
    process group is stopped). Inside ``with deferral:`` (starting a process and
    recording it) a signal is held and raised on leaving: raised inside ``Popen`` it
    would lose a process already forked, which then outlived the job."""

    def __init__(self):
        self.active, self.pending = False, None

    def handle(self, signum, frame):
        if self.active:
            self.pending = self.pending or signum
            return
        raise _Stopped(signum)

    def __enter__(self):
        self.active = True
        return self

    def __exit__(self, *exc):
        self.active = False
        if self.pending is not None and exc[0] is None:
            raise _Stopped(self.pending)
        return False


def _signals_ignored():
    return _signal_handlers(signal.SIG_IGN)


def _run(command, roles, base, procs, pumps, timeout, sink, lock, starting):
    """Start the scheduler, servers and workers (each in a session of its own, recorded
    in ``procs`` as it starts, with the stop signals held meanwhile: ``starting``), then
    supervise them."""
    for role, index in roles:
        cmd = command if role == 'worker' else _SERVER_CMD
        with starting:
            proc = subprocess.Popen(cmd, env=dict(base, DMLC_ROLE=role),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True)
            procs.append((f'{role} {index}', role, proc))
        pump = threading.Thread(target=_pump, args=(proc.stdout, f'{role} {index}', sink,
                                                    lock), daemon=True)
        pump.start()
        pumps.append(pump)
    return _supervise(procs, timeout, sink, lock)


def _supervise(procs, timeout, sink, lock):
    start = time.time()
    workers = [p for p in procs if p[1] == 'worker']
    while True:
        for name, _, proc in procs:
            code = proc.poll()
            if code is not None and code != 0:
                with lock:
                    sink.write(f'[launch] {name} exited with status {code}; stopping the '
                               'job\n')
                return code if code > 0 else 1
        if all(w[2].poll() == 0 for w in workers):
            return 0
        if timeout is not None and time.time() - start > timeout:
            with lock:
                sink.write(f'[launch] time limit of {timeout:g} s reached; stopping the job\n')
            return 124
        time.sleep(0.1)


def _stop_all(procs, grace=5.0):
    """SIGTERM every process group still running, then SIGKILL what is left."""
    for _, _, proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + grace
    for _, _, proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def _remote(args, command):
    """Hand over to mxnet.tools.launch (ssh / mpi), after the numpy shim."""
    argv = ['launch', '-n', str(args.num_workers), '-s', str(args.num_servers),
            '--launcher', args.launcher, '-H', args.hosts, *command]
    code = ('import sys, runpy, gluonrec._compat\n'
            f'sys.argv = {argv!r}\n'
            "runpy.run_module('mxnet.tools.launch', run_name='__main__')\n")
    return subprocess.call([sys.executable, '-c', code])


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m gluonrec.launch', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-n', '--num-workers', type=int, required=True)
    parser.add_argument('-s', '--num-servers', type=int, default=1)
    parser.add_argument('--hosts', metavar='FILE',
                        help='one host per line: run across machines with mxnet.tools.launch')
    parser.add_argument('--launcher', choices=['ssh', 'mpi'], default='ssh',
                        help='with --hosts: how MXNet starts remote processes '
                             '(default: %(default)s)')
    parser.add_argument('--timeout', type=float, help='stop the whole job after this many '
                        'seconds (local mode)')
    parser.add_argument('command', nargs=argparse.REMAINDER,
                        help='the worker command, after --')
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        parser.error('give the worker command after --')
    if args.num_workers < 1 or args.num_servers < 1:
        parser.error('-n and -s must be >= 1')
    if args.hosts:
        if not os.path.isfile(args.hosts):
            parser.error(f'--hosts {args.hosts}: no such file')
        return _remote(args, command)
    return launch_local(command, args.num_workers, args.num_servers, timeout=args.timeout)


if __name__ == '__main__':
    sys.exit(main())
