"""A file sink: OTLP/JSON lines that the collector's ``otlpjsonfile`` receiver reads, rotated by size.

Each export writes the OTLP/JSON encoding of an ``ExportLogsServiceRequest`` holding the batch as one
line — as several lines, each a request of its own, when one would be larger than ``max_bytes``, so that
rotation holds inside a batch. When the next line would take the file past ``max_bytes``, the file is
rotated first, the way :class:`logging.handlers.RotatingFileHandler` does it (``path`` → ``path.1`` →
… → ``path.N``, the oldest dropped), so a line is never split across files and no record is lost at a
rotation. Only a single record larger than ``max_bytes`` makes a larger line (in a file of its own).

Created with no arguments (entry point ``revops_file``) it reads ``OTEL_REVOPS_FILE_PATH``,
``OTEL_REVOPS_FILE_MAX_BYTES`` and ``OTEL_REVOPS_FILE_BACKUP_COUNT``. One process writes a file:
two processes rotating the same path would rename each other's files.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_revops.config import ConfigurationError, Settings
from otel_revops.delivery import Attempt, Destination, Done, Outcome, Retry
from otel_revops.diagnostics import warn
from otel_revops.redacted import redact_batch, redactor_from_environment
from otel_revops.redaction import Redactor

__all__ = [
    "DEFAULT_BACKUP_COUNT",
    "DEFAULT_MAX_BYTES",
    "FileLogRecordExporter",
    "FileSettings",
    "RotatingLineFile",
    "encode_batch",
    "rotated_paths",
]

#: Size at which the file is rotated: 10 MiB.
DEFAULT_MAX_BYTES: int = Settings.default("file_max_bytes")
#: Rotated files kept beside the current one.
DEFAULT_BACKUP_COUNT: int = Settings.default("file_backup_count")

PATH_ENV = "OTEL_REVOPS_FILE_PATH"
MAX_BYTES_ENV = "OTEL_REVOPS_FILE_MAX_BYTES"
BACKUP_COUNT_ENV = "OTEL_REVOPS_FILE_BACKUP_COUNT"


@dataclass(frozen=True)
class FileSettings:
    """Where the file sink writes and how it rotates; ``max_bytes`` or ``backup_count`` 0 never rotates."""

    path: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    backup_count: int = DEFAULT_BACKUP_COUNT

    @classmethod
    def resolve(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        max_bytes: int | str | None = None,
        backup_count: int | str | None = None,
    ) -> FileSettings:
        """Argument (not ``None``) → ``OTEL_REVOPS_FILE_*`` environment → default, through
        :class:`~otel_revops.config.Settings`; bad values raise ``ConfigurationError`` naming the setting."""
        settings = Settings.resolve(
            env=env,
            file_path=os.fspath(path) if path is not None else None,
            file_max_bytes=max_bytes,
            file_backup_count=backup_count,
        )
        return cls(settings.file_path, settings.file_max_bytes, settings.file_backup_count)


def encode_batch(batch: Sequence[ReadableLogRecord]) -> bytes:
    """The OTLP/JSON line (UTF-8, with its newline) for ``batch``, in OpenTelemetry's own OTLP/JSON encoding
    (lowerCamelCase keys, enums as numbers, 64-bit integers as strings, trace and span ids in hex).

    Raises when a record cannot be encoded (a lone surrogate has no UTF-8 form)."""
    document = encode_logs(batch).to_dict()
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def rotated_paths(path: str | os.PathLike[str], backup_count: int) -> list[Path]:
    """The current file and its backups, newest first: ``path``, ``path.1`` … ``path.N``."""
    base = Path(path)
    return [base, *(base.with_name(f"{base.name}.{index}") for index in range(1, backup_count + 1))]


class RotatingLineFile:
    """Appends whole lines to a file, rotating it before a line would take it past ``max_bytes``. Thread-safe."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int, backup_count: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.rotations = 0
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = None
        self._size = 0
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _rotates(self, length: int) -> bool:
        if self.max_bytes <= 0 or self.backup_count <= 0 or self._size == 0:
            return False
        return self._size + length > self.max_bytes

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        paths = rotated_paths(self.path, self.backup_count)
        for older, newer in zip(reversed(paths[1:]), reversed(paths[:-1]), strict=True):
            if newer.exists():
                os.replace(newer, older)
        self.rotations += 1
        self._open()

    def write_line(self, data: bytes) -> None:
        """Append ``data`` (one line) whole, rotating first when needed.

        Raises :class:`OSError` when the line cannot be written; the file is then cut back to where it
        was, so a failed write leaves no partial line behind.
        """
        with self._lock:
            if self._fd is None:
                raise OSError(f"{self.path} is closed")
            if self._rotates(len(data)):
                self._rotate()
            fd = self._fd
            assert fd is not None
            start = self._size
            view = memoryview(data)
            try:
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
            self._size = start + len(data)

    def sync(self) -> None:
        """Push what was written to the disk (``fsync``)."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close the file; later writes raise ``OSError``. Idempotent."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class FileLogRecordExporter(Destination, LogRecordExporter):
    """Writes each batch as one OTLP/JSON line to a size-rotated file (a delivery-layer destination, and
    a plain ``LogRecordExporter`` for other processors).

    Arguments left ``None`` come from ``OTEL_REVOPS_FILE_PATH`` (required), ``OTEL_REVOPS_FILE_MAX_BYTES``
    (default 10 MiB) and ``OTEL_REVOPS_FILE_BACKUP_COUNT`` (default 5).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        backup_count: int | None = None,
    ) -> None:
        settings = FileSettings.resolve(path=path, max_bytes=max_bytes, backup_count=backup_count)
        if settings.path is None:
            raise ConfigurationError(f"the file exporter needs a path: pass path= or set {PATH_ENV}")
        self.settings = settings
        try:
            self._file = RotatingLineFile(settings.path, settings.max_bytes, settings.backup_count)
        except OSError as error:
            raise ConfigurationError(f"file_path ({PATH_ENV})={settings.path!r} cannot be written: {error}") from None
        self._counts = {"lines": 0, "records": 0, "failed": 0, "unencodable": 0}
        self._counts_lock = threading.Lock()
        self._shutdown = False
        self.name = type(self).__name__
        self.key = f"file-{hashlib.sha256(str(self._file.path.resolve()).encode()).hexdigest()[:12]}"

    @functools.cached_property
    def _redactor(self) -> Redactor | None:
        """The redactor :meth:`export` applies, read from the environment when first needed."""
        return redactor_from_environment()

    @property
    def path(self) -> Path:
        """The file written now (its backups are ``path.1`` … ``path.N``)."""
        return self._file.path

    def _encode(self, batch: Sequence[ReadableLogRecord]) -> tuple[bytes, int, int]:
        """The line for ``batch``; a record that cannot be encoded is left out rather than losing the batch."""
        try:
            return encode_batch(batch), len(batch), 0
        except Exception:  # noqa: BLE001 - one bad record (e.g. an unencodable string) must not sink the batch
            good = []
            for readable in batch:
                try:
                    encode_batch([readable])
                except Exception:  # noqa: BLE001
                    continue
                good.append(readable)
            line = encode_batch(good) if good else b""
            return line, len(good), len(batch) - len(good)

    def _lines(self, records: Sequence[ReadableLogRecord]) -> Iterator[tuple[bytes, int, int]]:
        """``(line, records encoded, records left out)`` for ``records``: one line, or, when it would be over
        ``max_bytes``, the lines of as many parts as its size asks for, each split again if still too big."""
        data, encoded, unencodable = self._encode(records)
        limit = self.settings.max_bytes
        if 0 < limit < len(data) and len(records) > 1:
            size = max(1, len(records) * limit // len(data))  # records per part, by their average size
            for start in range(0, len(records), size):
                yield from self._lines(records[start : start + size])
            return
        yield data, encoded, unencodable

    def write(self, records: Sequence[ReadableLogRecord], attempt: Attempt) -> Outcome:
        """Append ``records`` as one line (or several, each within ``max_bytes``); a write that fails (a full
        disk) is retried later from the first line not written."""
        if self._shutdown:
            return Retry("the file exporter is shut down")
        written = attempt.progress if isinstance(attempt.progress, int) else 0
        refused = 0
        for data, encoded, unencodable in self._lines(records[written:]):
            if unencodable:
                refused += unencodable
                with self._counts_lock:
                    self._counts["unencodable"] += unencodable
                warn("file-encode", f"file exporter: {unencodable} record(s) not encodable as OTLP/JSON, skipped")
            if data:
                try:
                    self._file.write_line(data)
                except OSError as error:
                    with self._counts_lock:
                        self._counts["failed"] += encoded
                    warn("file-write", f"file exporter: cannot write {self._file.path}: {error}")
                    return Retry(f"cannot write {self._file.path}: {error}", written)
                with self._counts_lock:
                    self._counts["lines"] += 1
                    self._counts["records"] += encoded
            written += encoded + unencodable
        return Done(refused=refused)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Append the batch as one line; FAILURE after shutdown or when the file cannot be written."""
        batch = redact_batch(batch, self._redactor)  # the SDK's processors hand on records not yet redacted
        outcome = self.write(batch, Attempt("direct", "0", deadline=0.0))
        return LogRecordExportResult.SUCCESS if isinstance(outcome, Done) else LogRecordExportResult.FAILURE

    def flush(self, timeout_millis: int) -> bool:
        """Sync the file to disk."""
        return self.force_flush(timeout_millis)

    def close(self, timeout_millis: int) -> None:
        """Sync and close the file."""
        self.shutdown()

    def counts(self) -> dict[str, int]:
        """The same counts as :meth:`stats`."""
        return self.stats()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Sync the file to disk; False if that failed."""
        try:
            self._file.sync()
        except OSError as error:
            warn("file-sync", f"file exporter: cannot sync {self._file.path}: {error}")
            return False
        return True

    def shutdown(self) -> None:
        """Sync and close the file; later exports fail. A second call does nothing."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._file.close()
        except OSError as error:
            warn("file-close", f"file exporter: cannot close {self._file.path}: {error}")

    def stats(self) -> dict[str, int]:
        """Lines and records written, records failed or unencodable, and rotations so far."""
        with self._counts_lock:
            counts = dict(self._counts)
        counts["rotations"] = self._file.rotations
        return counts
