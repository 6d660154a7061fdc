"""The disk spool: batches a destination did not take, replayed oldest first — also by the next
process started with the same directory.

One file per batch: gzip-compressed JSON lines (``zcat`` reads them; a record takes about 30 bytes),
named ``<time-ns>-<writer>-<batch>-<records>.jsonl.gz`` so that a replay keeps the batch's identity
(see :class:`~otel_revops.delivery.Attempt`). A file is written under a temporary name and renamed
into place, so a crash never leaves half a batch, and a failed write leaves no temporary file. A
process claims a file by renaming it (``.claimed-<pid>``) before replaying it, so several processes
sharing a directory never replay the same batch; a claim left by a dead process is taken back.

A file that cannot be read — not gzip, truncated, not ours, a directory — is moved aside into
``quarantine/`` (kept for inspection), counted and reported once; lines that do not decode are
skipped and counted, and their file goes to ``quarantine/`` once its other records are delivered.
Beyond ``max_bytes`` the oldest files are dropped (down to nine tenths of the bound, so that the
directory is not rescanned on every write) and their records counted.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import os
import re
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk._logs import ReadableLogRecord

from otel_revops.delivery._codec import decode_record, encode_record
from otel_revops.diagnostics import warn

__all__ = ["QUARANTINE", "Spool", "SpooledBatch", "default_spool_dir"]

#: The sub-directory unreadable files are moved into.
QUARANTINE = "quarantine"
_SUFFIX = ".jsonl.gz"
_LOW_WATER = 0.9
_CLAIMED = ".claimed-"
_TEMPORARY = ".tmp"
_NAME = re.compile(r"(?P<time>\d+)-(?P<writer>[0-9a-z]+)-(?P<batch>[0-9][0-9.]*)-(?P<records>\d+)")


def default_spool_dir() -> Path:
    """``$XDG_CACHE_HOME/otel-revops/spool``, else ``~/.cache/otel-revops/spool``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "otel-revops" / "spool"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _base_name(name: str) -> str:
    return name.split(_CLAIMED, 1)[0]


def _records_in(name: str) -> int:
    """The record count a batch file's name carries (0 when the name is not one of ours)."""
    match = _NAME.fullmatch(_base_name(name).removesuffix(_SUFFIX))
    return int(match["records"]) if match else 0


@dataclass(frozen=True)
class SpooledBatch:
    """A claimed batch: its file (the claim), records, identity, and how many of its lines did not decode."""

    path: Path
    records: list[ReadableLogRecord]
    writer: str
    batch: str
    bad_lines: int = 0


class _UnreadableError(Exception):
    """A spool file that cannot be read as a batch."""


class Spool:
    """Batches on disk under ``directory``, oldest first, bounded by ``max_bytes``. Thread-safe."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        #: Records dropped by the size bound.
        self.dropped = 0
        #: Files moved into ``quarantine/``.
        self.quarantined = 0
        #: Lines that did not decode (their records are lost; the file is kept in ``quarantine/``).
        self.bad_lines = 0
        self._seq = itertools.count()
        self._last_time = 0
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._remove_dead_temporaries()
        # Bytes held, by this process's count: rescanned when it passes the bound, since other
        # processes sharing the directory add and remove files too.
        self._held = self.size()

    # -- writing -------------------------------------------------------------------------------

    def write(self, records: Sequence[ReadableLogRecord], writer: str, batch: str) -> None:
        """Store ``records`` as one file (atomically), then enforce the size bound; raises ``OSError``."""
        if not records:
            return
        # json.dumps escapes every character beyond ASCII.
        lines = "".join(json.dumps(encode_record(r), separators=(",", ":")) + "\n" for r in records)
        data = gzip.compress(lines.encode("ascii"), compresslevel=1, mtime=0)
        with self._lock:
            # Names sort in the order batches were written, even if the clock steps back.
            self._last_time = max(time.time_ns(), self._last_time + 1)
            name = f"{self._last_time:020d}-{writer}-{batch}-{len(records)}"
        temporary = self.directory / f".{name}.{os.getpid()}{_TEMPORARY}"
        try:
            temporary.write_bytes(data)
            os.replace(temporary, self.directory / f"{name}{_SUFFIX}")
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        with self._lock:
            self._held += len(data)
            over = self._held > self.max_bytes
        if over:
            self._enforce_bound()

    def _remove_dead_temporaries(self) -> None:
        for path in self.directory.glob(f".*{_TEMPORARY}"):
            owner = path.name.removesuffix(_TEMPORARY).rsplit(".", 1)[-1]
            if owner.isdigit() and not _pid_alive(int(owner)):
                with contextlib.suppress(OSError):
                    path.unlink()

    # -- reading -------------------------------------------------------------------------------

    def pending_files(self) -> list[Path]:
        """Unclaimed batch files plus claims left by dead processes, oldest first."""
        files = []
        for path in self.directory.iterdir():
            name = path.name
            if name.startswith("."):
                continue
            if name.endswith(_SUFFIX):
                files.append(path)
            elif _CLAIMED in name:
                owner = name.rsplit(_CLAIMED, 1)[1]
                if owner.isdigit() and int(owner) != os.getpid() and not _pid_alive(int(owner)):
                    files.append(path)
        return sorted(files, key=lambda p: p.name)

    def claim_oldest(self) -> SpooledBatch | None:
        """Take the oldest readable batch for replay, moving unreadable ones aside; None when none is left."""
        for path in self.pending_files():
            base = _base_name(path.name)
            claim = self.directory / f"{base}{_CLAIMED}{os.getpid()}"
            try:
                os.replace(path, claim)
            except FileNotFoundError:
                continue  # another process claimed it first
            except OSError as error:
                self._quarantine(path, f"cannot be claimed ({error})")
                continue
            try:
                return self._read(claim)
            except _UnreadableError as error:
                self._quarantine(claim, str(error))
        return None

    def _read(self, claim: Path) -> SpooledBatch:
        match = _NAME.fullmatch(_base_name(claim.name).removesuffix(_SUFFIX))
        if match is None:
            raise _UnreadableError("its name is not a batch's")
        try:
            text = gzip.decompress(claim.read_bytes()).decode("ascii")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
            raise _UnreadableError(f"is unreadable ({type(error).__name__}: {error})") from None
        records: list[ReadableLogRecord] = []
        bad = 0
        for line in text.splitlines():
            try:
                records.append(decode_record(json.loads(line)))
            except Exception:  # noqa: BLE001 - any shape a damaged line may have
                bad += 1
        if bad:
            with self._lock:
                self.bad_lines += bad
            warn(
                f"spool-bad-lines-{claim.name}",
                f"spool file {claim} has {bad} lines that cannot be read: they are skipped "
                f"(the file is kept in {self.directory / QUARANTINE} once the rest is delivered)",
                every_seconds=float("inf"),
            )
            if not records:
                raise _UnreadableError("has no readable line")
        return SpooledBatch(claim, records, match["writer"], match["batch"], bad)

    def release(self, batch: SpooledBatch, delivered: bool) -> None:
        """After a replay: delete the file when delivered (keep it aside if some lines were bad), else put
        it back for a later attempt."""
        claim = batch.path
        if not delivered:
            with contextlib.suppress(FileNotFoundError):
                os.replace(claim, self.directory / _base_name(claim.name))
            return
        try:
            size = claim.stat().st_size
        except OSError:
            return
        if batch.bad_lines:
            self._quarantine(claim, f"had {batch.bad_lines} unreadable lines; its other records were delivered")
        else:
            with contextlib.suppress(FileNotFoundError):
                claim.unlink()
        with self._lock:
            self._held = max(0, self._held - size)

    def _quarantine(self, path: Path, why: str) -> None:
        target_dir = self.directory / QUARANTINE
        target = target_dir / _base_name(path.name)
        try:
            target_dir.mkdir(exist_ok=True)
            if target.exists():
                target = target.with_name(f"{target.name}.{time.time_ns()}")
            os.replace(path, target)
        except OSError as error:
            warn(f"spool-quarantine-failed-{path}", f"spool file {path} {why}, and cannot be moved aside: {error}")
            return
        with self._lock:
            self.quarantined += 1
        warn(f"spool-quarantine-{path.name}", f"spool file {path} {why}: moved to {target}", every_seconds=float("inf"))

    @property
    def held_bytes(self) -> int:
        """Bytes of batch files held, by this process's count (rescanned when it passes the bound)."""
        with self._lock:
            return self._held

    # -- the bound -----------------------------------------------------------------------------

    def size(self) -> int:
        """Bytes of batch files held (``quarantine/`` not included)."""
        total = 0
        for path in self.directory.iterdir():
            with contextlib.suppress(OSError):
                if path.is_file():
                    total += path.stat().st_size
        return total

    def _enforce_bound(self) -> None:
        with self._lock:
            total = self.size()
            if total > self.max_bytes:
                target = int(self.max_bytes * _LOW_WATER)
                for path in self.pending_files():
                    if total <= target:
                        break
                    try:
                        size = path.stat().st_size
                        path.unlink()
                    except OSError:
                        continue
                    total -= size
                    self.dropped += _records_in(path.name)
                warn(
                    f"spool-full-{self.directory}",
                    f"spool {self.directory} is over {self.max_bytes} bytes (OTEL_REVOPS_SPOOL_MAX_BYTES): "
                    f"dropped its oldest batches, {self.dropped} records so far",
                )
            self._held = total
