"""A disk spool for batches an exporter could not deliver, replayed in order later — also by the
next process started with the same directory.

One file per batch: gzip-compressed JSON lines (``zcat`` reads them; a record takes about 30 bytes),
written to a temporary name and renamed into place, so a crash never leaves half a batch. Files are
named ``<time-ns>-<pid>-<seq>-<records>.jsonl.gz`` and replayed oldest first. A process claims a file
by renaming it (``.claimed-<pid>``) before replaying it, so several processes sharing a directory never
replay the same batch; a claim left by a dead process is taken back. Beyond ``max_bytes`` the oldest
files are dropped (down to nine tenths of the bound, so that the directory is not rescanned on every
write) and their records counted.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import itertools
import json
import os
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from otel_revops.diagnostics import warn

__all__ = ["Spool", "decode_record", "default_spool_dir", "encode_record"]

_SUFFIX = ".jsonl.gz"
_LOW_WATER = 0.9
_CLAIMED = ".claimed-"


def default_spool_dir() -> Path:
    """``$XDG_CACHE_HOME/otel-revops/spool``, else ``~/.cache/otel-revops/spool``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "otel-revops" / "spool"


def _encode_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {"$map": {str(k): _encode_value(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_encode_value(v) for v in value]
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$b64" in value:
            return base64.b64decode(value["$b64"])
        return {k: _decode_value(v) for k, v in value.get("$map", {}).items()}
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def encode_record(readable: ReadableLogRecord) -> dict[str, Any]:
    """A JSON-safe dict holding everything an exporter reads from ``readable``."""
    record = readable.log_record
    scope = readable.instrumentation_scope
    return {
        "t": record.timestamp,
        "o": record.observed_timestamp,
        "tid": record.trace_id or 0,
        "sid": record.span_id or 0,
        "tf": int(record.trace_flags or 0),
        "st": record.severity_text,
        "sn": record.severity_number.value if record.severity_number is not None else None,
        "b": _encode_value(record.body),
        "a": {k: _encode_value(v) for k, v in (record.attributes or {}).items()},
        "e": record.event_name,
        "r": {k: _encode_value(v) for k, v in readable.resource.attributes.items()},
        "rs": readable.resource.schema_url,
        "s": [scope.name, scope.version, scope.schema_url] if scope is not None else None,
    }


def decode_record(data: Mapping[str, Any]) -> ReadableLogRecord:
    """The :class:`ReadableLogRecord` that :func:`encode_record` described."""
    context = None
    if data.get("tid"):
        span = SpanContext(int(data["tid"]), int(data["sid"]), is_remote=False, trace_flags=TraceFlags(data["tf"]))
        context = set_span_in_context(NonRecordingSpan(span), Context())
    record = LogRecord(
        timestamp=data.get("t"),
        observed_timestamp=data.get("o"),
        context=context,
        severity_text=data.get("st"),
        severity_number=SeverityNumber(data["sn"]) if data.get("sn") is not None else None,
        body=_decode_value(data.get("b")),
        attributes={k: _decode_value(v) for k, v in data.get("a", {}).items()},
        event_name=data.get("e"),
    )
    scope = data.get("s")
    return ReadableLogRecord(
        log_record=record,
        resource=Resource({k: _decode_value(v) for k, v in data.get("r", {}).items()}, data.get("rs")),
        instrumentation_scope=InstrumentationScope(scope[0], scope[1], scope[2]) if scope else None,
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _records_in(name: str) -> int:
    """The record count a batch file's name carries (0 when the name is not one of ours)."""
    stem = name.split(_CLAIMED, 1)[0].removesuffix(_SUFFIX)
    count = stem.rsplit("-", 1)[-1]
    return int(count) if count.isdigit() else 0


class Spool:
    """Batches on disk under ``directory``, oldest first, bounded by ``max_bytes``."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.dropped = 0
        self.written = 0
        self._seq = itertools.count()
        directory.mkdir(parents=True, exist_ok=True)
        # Bytes held, by this process's count: rescanned when it passes the bound, since other
        # processes sharing the directory add and remove files too.
        self._held = self.size()

    def write(self, batch: Sequence[ReadableLogRecord]) -> None:
        """Store ``batch`` as one file (atomically), then enforce the size bound."""
        if not batch:
            return
        # json.dumps escapes every character beyond ASCII.
        lines = "".join(json.dumps(encode_record(r), separators=(",", ":")) + "\n" for r in batch)
        data = gzip.compress(lines.encode("ascii"), compresslevel=1, mtime=0)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}-{len(batch)}"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, self.directory / f"{name}{_SUFFIX}")
        self.written += len(batch)
        self._held += len(data)
        if self._held > self.max_bytes:
            self._enforce_bound()

    def pending_files(self) -> list[Path]:
        """Unclaimed batch files plus claims left by dead processes, oldest first."""
        files = []
        for path in self.directory.iterdir():
            name = path.name
            if name.endswith(_SUFFIX):
                files.append(path)
            elif _CLAIMED in name:
                owner = name.rsplit(_CLAIMED, 1)[1]
                if owner.isdigit() and int(owner) != os.getpid() and not _pid_alive(int(owner)):
                    files.append(path)
        return sorted(files, key=lambda p: p.name)

    def claim_oldest(self) -> tuple[Path, list[ReadableLogRecord]] | None:
        """Take the oldest batch for replay: ``(claim path, records)``, or None when empty."""
        for path in self.pending_files():
            base = path.name.split(_CLAIMED, 1)[0]
            claim = self.directory / f"{base}{_CLAIMED}{os.getpid()}"
            try:
                os.replace(path, claim)
            except FileNotFoundError:
                continue  # another process claimed it first
            return claim, self._read(claim)
        return None

    def _read(self, claim: Path) -> list[ReadableLogRecord]:
        try:
            lines = gzip.decompress(claim.read_bytes()).decode("ascii").splitlines()
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            self.dropped += _records_in(claim.name)
            warn(
                f"spool-unreadable-{self.directory}", f"spool file {claim} is unreadable ({exc}): its records are lost"
            )
            return []
        records = []
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                records.append(decode_record(json.loads(line)))
        return records

    def release(self, claim: Path, delivered: bool) -> None:
        """After a replay: delete the file when delivered, else put it back for a later attempt."""
        if delivered:
            with contextlib.suppress(FileNotFoundError):
                size = claim.stat().st_size
                claim.unlink()
                self._held = max(0, self._held - size)
            return
        base = claim.name.split(_CLAIMED, 1)[0]
        with contextlib.suppress(FileNotFoundError):
            os.replace(claim, self.directory / base)

    def size(self) -> int:
        """Bytes held."""
        total = 0
        for path in self.directory.iterdir():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def _enforce_bound(self) -> None:
        total = self.size()
        if total > self.max_bytes:
            target = int(self.max_bytes * _LOW_WATER)
            for path in self.pending_files():
                if total <= target:
                    break
                try:
                    size = path.stat().st_size
                    path.unlink()
                except FileNotFoundError:
                    continue
                total -= size
                self.dropped += _records_in(path.name)
            warn(
                f"spool-full-{self.directory}",
                f"spool {self.directory} is over {self.max_bytes} bytes (OTEL_REVOPS_SPOOL_MAX_BYTES): "
                f"dropped its oldest batches, {self.dropped} records so far",
            )
        self._held = total
