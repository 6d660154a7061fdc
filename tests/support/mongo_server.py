"""A SecantusDB daemon (MongoDB wire protocol) run as a subprocess for tests.

SecantusDB is GPL-licensed: it is used from the tests and scripts only, as a separate process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DAEMON_NAME",
    "REPLICA_SET_NAME",
    "WORKDIR_PREFIX",
    "MongoServer",
    "daemon_command_line",
    "daemon_executable",
    "free_port",
    "stop_daemon_pid",
]

DAEMON_NAME = "secantusd-py"
#: The name a SecantusDB daemon started without ``--standalone`` gives its one-node replica set.
REPLICA_SET_NAME = "secantus"
WORKDIR_PREFIX = "otel-revops-mongo-"
_LOG_FILE = "secantusd.log"
_CONFIG_FILE = "secantusd.toml"
_DATA_DIR = "data"


def daemon_executable() -> Path:
    """Return the ``secantusd-py`` script installed beside the running interpreter."""
    path = Path(sys.executable).parent / DAEMON_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: install the dev extras (secantusdb) into this environment")
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def daemon_command_line(pid: int) -> list[str] | None:
    """Return the argv of a running ``secantusd-py`` process, or ``None`` if ``pid`` is not one.

    Guards against signalling a PID that has since been reused by an unrelated process.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    if not any(Path(part).name == DAEMON_NAME for part in argv[:2]):
        return None
    return argv


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie has exited; only its parent's wait() is pending.
    return stat.rpartition(")")[2].split()[0] != "Z"


def _wake_accept_loop(port: int) -> None:
    """Connect once to ``port`` and hang up.

    On SIGTERM the daemon closes its listening socket and joins its accept thread for up to 2 s, but on
    Linux closing a socket does not wake a thread blocked in ``accept()``; one incoming connection does.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.1):
            pass
    except OSError:
        pass


def _await_exit(exited: Callable[[], bool], port: int | None, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``exited()``, waking the daemon's accept loop meanwhile."""

    def exited_yet() -> bool:
        if exited():
            return True
        if port is not None:
            _wake_accept_loop(port)
        return False

    try:
        wait_for(exited_yet, timeout=timeout, interval=0.05)
    except AssertionError:
        return False
    return True


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def _temporary_workdir(argv: list[str]) -> Path | None:
    """The work directory a ``MongoServer`` created for the daemon with this argv, if it made one."""
    storage_path = _option(argv, "--storage-path")
    if storage_path is None:
        return None
    workdir = Path(storage_path).parent
    is_ours = workdir.name.startswith(WORKDIR_PREFIX) and workdir.parent == Path(tempfile.gettempdir())
    return workdir if is_ours else None


def stop_daemon_pid(pid: int, timeout: float = 10.0) -> bool:
    """Stop the ``secantusd-py`` process ``pid``: SIGTERM, then SIGKILL if it outlives ``timeout`` seconds.

    For a daemon started detached by another process (see ``scripts/test_mongo.py``); the temporary work
    directory ``MongoServer`` made for it is removed too. Returns ``False`` without signalling anything
    when ``pid`` is not a running ``secantusd-py``.
    """
    argv = daemon_command_line(pid)
    if argv is None:
        return False
    port = _option(argv, "--port")
    try:
        os.kill(pid, signal.SIGTERM)
        if not _await_exit(lambda: not _pid_alive(pid), int(port) if port else None, timeout):
            os.kill(pid, signal.SIGKILL)
            if not _await_exit(lambda: not _pid_alive(pid), None, timeout):
                raise RuntimeError(f"{DAEMON_NAME} {pid} survived SIGKILL")
    except ProcessLookupError:
        pass
    workdir = _temporary_workdir(argv)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    return True


class _DaemonExitedError(RuntimeError):
    """The daemon quit while starting, typically because its port was taken."""


class MongoServer:
    """A ``secantusd-py`` daemon on 127.0.0.1 with its storage in a work directory.

    The work directory holds ``data/`` (WiredTiger files), ``secantusd.log`` (the daemon's output) and an
    empty ``secantusd.toml`` (so no stray config file on the machine is picked up). Without ``workdir`` a
    temporary one is created and removed by ``stop()``. ``restart()`` keeps port and storage, so data
    survives; with ``sync_on_commit`` (the default) that includes writes acknowledged just before ``kill()``.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        workdir: Path | None = None,
        sync_on_commit: bool = True,
        detach: bool = False,
        replica_set: bool = False,
        startup_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """Describe a server; nothing runs until ``start()``.

        ``port``: fixed port, or ``None`` to pick a free one at the first start. ``detach``: start the daemon
        in its own session so it outlives this process (the caller then stops it by PID). ``replica_set``:
        present the server as the one-node replica set ``secantus`` (change streams work), not standalone.
        """
        self._requested_port = port
        self._port: int | None = port
        self._workdir = workdir
        self._owns_workdir = workdir is None
        self._sync_on_commit = sync_on_commit
        self._detach = detach
        self._replica_set = replica_set
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        """The TCP port the daemon listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("MongoServer has not been started")
        return self._port

    @property
    def uri(self) -> str:
        """The connection string, ``mongodb://127.0.0.1:PORT/`` (with ``?replicaSet=secantus&directConnection=true``
        for a replica set)."""
        if self._replica_set:
            return f"mongodb://127.0.0.1:{self.port}/?replicaSet={REPLICA_SET_NAME}&directConnection=true"
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        """The PID of the running daemon process."""
        if self._process is None:
            raise RuntimeError("MongoServer is not running")
        return self._process.pid

    @property
    def workdir(self) -> Path:
        """The directory holding ``data/``, ``secantusd.log`` and ``secantusd.toml``."""
        if self._workdir is None:
            raise RuntimeError("MongoServer has not been started")
        return self._workdir

    @property
    def log_path(self) -> Path:
        """The file the daemon's stdout and stderr go to."""
        return self.workdir / _LOG_FILE

    @property
    def running(self) -> bool:
        """Whether the daemon process this object started is still alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the daemon and return once it answers ``ping``; raise ``RuntimeError`` if it does not."""
        if self.running:
            raise RuntimeError(f"MongoServer already running as PID {self.pid}")
        created_workdir = self._workdir is None
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        (self._workdir / _DATA_DIR).mkdir(parents=True, exist_ok=True)
        (self._workdir / _CONFIG_FILE).touch()
        try:
            self._spawn_until_ready()
        except RuntimeError:
            if created_workdir:
                self.stop()
            raise
        return self

    def _spawn_until_ready(self) -> None:
        # A port picked by free_port() can be taken before the daemon binds it: try a few.
        attempts = 1 if self._port is not None else 3
        for attempt in range(attempts):
            if self._port is None or attempt > 0:
                self._port = free_port()
            self._process = self._spawn()
            try:
                self._wait_until_ready()
                return
            except _DaemonExitedError:
                self._halt(kill=True)
                if attempt == attempts - 1:
                    raise
            except RuntimeError:
                self._halt(kill=True)
                raise

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, SIGKILL after ``stop_timeout``) and remove a temporary work directory."""
        self._halt(kill=False)
        if self._owns_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._port = self._requested_port

    def kill(self) -> None:
        """SIGKILL the daemon and reap it, keeping port and storage for ``restart()``."""
        self._halt(kill=True)

    def restart(self) -> None:
        """Stop the daemon if it runs, then start it again on the same port with the same storage."""
        self._halt(kill=False)
        self.start()

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def _command(self) -> list[str]:
        command = [
            str(daemon_executable()),
            "--config",
            str(self.workdir / _CONFIG_FILE),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.workdir / _DATA_DIR),
            "--log-level",
            "WARNING",
        ]
        if not self._replica_set:
            command.append("--standalone")
        if self._sync_on_commit:
            command.append("--sync-on-commit")
        return command

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=self._detach,
            )

    def _wait_until_ready(self) -> None:
        process = self._process
        assert process is not None

        def port_open_or_exited() -> bool:
            return process.poll() is not None or _port_accepts(self.port)

        try:
            wait_for(port_open_or_exited, timeout=self._startup_timeout, interval=0.01)
        except AssertionError:
            raise RuntimeError(self._failure(f"did not listen within {self._startup_timeout}s")) from None
        if process.poll() is not None:
            raise _DaemonExitedError(self._failure(f"exited with code {process.returncode}"))
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=int(self._startup_timeout * 1000), directConnection=True
        )
        try:
            client.admin.command("ping")
        except PyMongoError as error:
            failure = _DaemonExitedError if process.poll() is not None else RuntimeError
            raise failure(self._failure(f"did not answer ping: {error}")) from error
        finally:
            client.close()

    def _failure(self, what: str) -> str:
        try:
            log_tail = self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            log_tail = ""
        return f"{DAEMON_NAME} on port {self._port} {what}; log {self.log_path}:\n{log_tail}"

    def _halt(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if not kill and process.poll() is None:
            process.terminate()
            if _await_exit(lambda: process.poll() is not None, self._port, self._stop_timeout):
                return
        process.kill()
        process.wait()
