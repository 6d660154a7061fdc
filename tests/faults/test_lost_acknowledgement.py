"""The server applies the execution updates of a batch — all of them, or only the first few — but its
answer never arrives (the connection drops first — a crash, a failover, a network cut): the retry must
push the applied entries no second time, and the others once."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import bson
from bson import ObjectId

from tests.faults.harness import (
    AppProcess,
    Db,
    FigureRecorder,
    check_executions,
    close_quietly,
    connect,
    create_executions,
    tally,
)
from tests.support.mongo_server import MongoServer

if TYPE_CHECKING:
    from typing_extensions import Self

RECORDS = 100
_HEADER = struct.Struct("<iiii")
_OP_MSG = 2013


def _read_message(sock: socket.socket) -> bytes | None:
    """One whole wire-protocol message, or None when the connection closed."""
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            return None
        header += chunk
    (length,) = struct.unpack("<i", header)
    body = b""
    while len(body) < length - 4:
        chunk = sock.recv(min(65536, length - 4 - len(body)))
        if not chunk:
            return None
        body += chunk
    return header + body


def _command(message: bytes) -> tuple[str, object] | None:
    """The command name and its value (the collection) of an OP_MSG request."""
    _, _, _, op_code = _HEADER.unpack_from(message)
    if op_code != _OP_MSG:
        return None
    offset = _HEADER.size + 4  # flag bits
    while offset < len(message):
        kind = message[offset]
        (size,) = struct.unpack_from("<i", message, offset + 1)
        if kind == 0:
            document = bson.decode(message[offset + 1 : offset + 1 + size])
            name = next(iter(document), "")
            return name, document.get(name)
        offset += 1 + size
    return None


def _first_updates(message: bytes, count: int) -> tuple[bytes, int] | None:
    """An OP_MSG ``update`` command cut to the first ``count`` of its update statements, and how many it
    held; None when its statements are not in a document sequence."""
    _, request_id, response_to, op_code = _HEADER.unpack_from(message)
    offset = _HEADER.size + 4
    body = bytearray(message[_HEADER.size : offset])  # flag bits
    total: int | None = None
    while offset < len(message):
        kind = message[offset]
        (size,) = struct.unpack_from("<i", message, offset + 1)
        section = message[offset : offset + 1 + size]
        offset += 1 + size
        name, _, documents = section[5:].partition(b"\0")
        if kind == 1 and name == b"updates":
            sizes = []
            while sum(sizes) < len(documents):
                sizes.append(struct.unpack_from("<i", documents, sum(sizes))[0])
            total = len(sizes)
            payload = name + b"\0" + documents[: sum(sizes[:count])]
            section = b"\x01" + struct.pack("<i", 4 + len(payload)) + payload
        body += section
    if total is None:
        return None
    return _HEADER.pack(_HEADER.size + len(body), request_id, response_to, op_code) + bytes(body), total


class AckDroppingProxy:
    """A TCP proxy to a MongoDB server on 127.0.0.1 that lets the first ``update`` of ``collection``
    through to the server, then drops the server's answer and cuts the client's connection.

    With ``apply_first``, only that many of the command's update statements reach the server, as when
    a server stops part way through an unordered bulk."""

    def __init__(self, upstream_port: int, collection: str, apply_first: int | None = None) -> None:
        self._upstream = upstream_port
        self._collection = collection
        self._apply_first = apply_first
        #: How many update statements the intercepted command held, and how many reached the server.
        self.statements: tuple[int, int] | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.dropped = threading.Event()
        self._armed = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._upstream))
            target: list[int] = []
            threading.Thread(target=self._requests, args=(client, server, target), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client, target), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket, target: list[int]) -> None:
        with contextlib.suppress(OSError):
            while (message := _read_message(client)) is not None:
                command = _command(message)
                if command == ("update", self._collection) and self._armed.acquire(blocking=False):
                    target.append(_HEADER.unpack_from(message)[1])
                    message = self._cut(message)
                server.sendall(message)
        self._close(client, server)

    def _replies(self, server: socket.socket, client: socket.socket, target: list[int]) -> None:
        with contextlib.suppress(OSError):
            while (message := _read_message(server)) is not None:
                if target and _HEADER.unpack_from(message)[2] == target[0]:
                    self.dropped.set()
                    break
                client.sendall(message)
        self._close(client, server)

    def _cut(self, message: bytes) -> bytes:
        if self._apply_first is None:
            return message
        cut = _first_updates(message, self._apply_first)
        if cut is None:
            return message
        self.statements = (cut[1], min(cut[1], self._apply_first))
        return cut[0]

    @staticmethod
    def _close(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


def _write_through_proxy(
    server: MongoServer,
    tmp_path: Path,
    executions: list[str],
    apply_first: int | None = None,
    options: str = "directConnection=true",
) -> tuple[dict[str, Any], AckDroppingProxy]:
    """Run the writer app against ``server`` through an :class:`AckDroppingProxy`: its ``done`` line, and the proxy."""
    with AckDroppingProxy(server.port, "job_executions", apply_first) as proxy:
        app = AppProcess(
            "writer.py",
            ["--uri", f"mongodb://127.0.0.1:{proxy.port}/?{options}", "--database", "faults",
             "--spool-dir", str(tmp_path / "spool"), "--executions", ",".join(executions),
             "--count", str(RECORDS), "--export-delay-ms", "60000"],
            stderr_path=tmp_path / "writer.stderr",
        )
        try:
            done = app.finish(120)
        finally:
            app.kill()
    return done, proxy


def _embedded(db: Db, executions: list[str]) -> dict[str, list[int]]:
    """The ``n`` of each execution's embedded entries, in stored order."""
    found = db.job_executions.find({"_id": {"$in": [ObjectId(e) for e in executions]}}, {"logs.metadata.n": 1})
    return {str(doc["_id"]): [entry["metadata"]["n"] for entry in doc.get("logs", [])] for doc in found}


def _check_once_each(db: Db, executions: list[str], done: dict[str, Any]) -> dict[str, Any]:
    """Assert every record is stored once in the history and once, in order, on its execution document;
    returns the figures' notes."""
    counted = tally(db, [range(RECORDS)])
    check = check_executions(db, executions)
    embedded = _embedded(db, executions)
    assert done["flushed"], done["stats"]
    assert (counted.lost, counted.duplicated) == (0, 0)
    assert embedded == {e: list(range(i, RECORDS, len(executions))) for i, e in enumerate(executions)}
    assert check.log_count_total == RECORDS
    assert check.mismatched == {}
    return {
        **counted.row(),
        "log_count_total": check.log_count_total,
        "embedded_entries": sum(len(ns) for ns in embedded.values()),
    }


def test_execution_entries_are_pushed_once_when_the_answer_is_lost(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """One batch of 100 records in 4 executions; the answer to its execution updates is lost: each
    execution's logCount and logs hold every record once."""
    client = connect(fault_server.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, 4)
        done, proxy = _write_through_proxy(fault_server, tmp_path, executions)
        assert proxy.dropped.is_set(), "the proxy never saw the execution updates"
        notes = _check_once_each(db, executions, done)
        figures.record("execution-update-answer-lost", rss_growth_mb=None, answer_dropped=True, **notes)
    finally:
        close_quietly(client)


def test_entries_not_applied_are_pushed_once_when_the_answer_is_lost(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """The same batch, but the server applies only the first 2 of its 4 execution updates before the
    connection drops: the retry pushes the other 2 and not the first 2 again."""
    client = connect(fault_server.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, 4)
        done, proxy = _write_through_proxy(fault_server, tmp_path, executions, apply_first=2)
        assert proxy.dropped.is_set(), "the proxy never saw the execution updates"
        assert proxy.statements == (4, 2)
        notes = _check_once_each(db, executions, done)
        figures.record("execution-update-half-applied-answer-lost", rss_growth_mb=None, answer_dropped=True, **notes)
    finally:
        close_quietly(client)


def test_on_a_replica_set_retryable_writes_push_each_entry_once(
    fault_replica_set: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """The same lost answer on a replica set, where the driver retries the write itself (retryable writes):
    each execution's logCount and logs still hold every record once."""
    client = connect(fault_replica_set.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, 4)
        done, proxy = _write_through_proxy(
            fault_replica_set, tmp_path, executions, options="replicaSet=secantus&directConnection=true"
        )
        assert proxy.dropped.is_set(), "the proxy never saw the execution updates"
        notes = _check_once_each(db, executions, done)
        figures.record("execution-update-answer-lost-replica-set", rss_growth_mb=None, answer_dropped=True, **notes)
    finally:
        close_quietly(client)
