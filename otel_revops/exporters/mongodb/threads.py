"""Keeping what pymongo logs about the MongoDB exporter's own client out of the exporters."""

from __future__ import annotations

import logging
import threading

from pymongo.monitoring import (
    TopologyClosedEvent,
    TopologyDescriptionChangedEvent,
    TopologyListener,
    TopologyOpenedEvent,
)

from otel_revops.context import EXPORTING

__all__ = ["OwnClientThreads", "TopologyOpened"]

_PYMONGO_LOGGERS = ("pymongo.command", "pymongo.connection", "pymongo.serverSelection", "pymongo.topology")


class OwnClientThreads(logging.Filter):
    """Keeps what the exporter's own client logs on pymongo's background threads out of the exporters.

    Operations run inside :func:`~otel_revops.context.exporting`, but pymongo's monitor threads start
    without it: the first record such a thread logs about this client (pymongo names the client's
    topology id in each record) marks the thread as exporting, so its records reach the console only.
    Installed on pymongo's loggers while the exporter's client exists.
    """

    def __init__(self) -> None:
        super().__init__()
        self.topology_ids: set[str] = set()
        self._installed = False

    def filter(self, record: logging.LogRecord) -> bool:
        """Mark the current thread when ``record`` is about this client; never drops a record."""
        if (
            self.topology_ids
            and not EXPORTING.get()
            and not isinstance(record.msg, str)
            # Only pymongo's own threads, each serving one client, are marked: never an application thread.
            and threading.current_thread().name.startswith("pymongo_")
        ):
            try:
                text = str(record.msg)
            except Exception:  # noqa: BLE001 - a record pymongo cannot render is not ours to judge
                return True
            if any(topology_id in text for topology_id in self.topology_ids):
                EXPORTING.set(True)
        return True

    def install(self) -> None:
        """Attach to pymongo's loggers (once)."""
        if not self._installed:
            self._installed = True
            for name in _PYMONGO_LOGGERS:
                logging.getLogger(name).addFilter(self)

    def uninstall(self) -> None:
        """Detach from pymongo's loggers."""
        if self._installed:
            self._installed = False
            for name in _PYMONGO_LOGGERS:
                logging.getLogger(name).removeFilter(self)


class TopologyOpened(TopologyListener):
    """Learns the topology id of the exporter's client, for :class:`OwnClientThreads`."""

    def __init__(self, threads: OwnClientThreads) -> None:
        self._threads = threads

    def opened(self, event: TopologyOpenedEvent) -> None:
        """Remember the id of the client's topology."""
        self._threads.topology_ids.add(str(event.topology_id))

    def description_changed(self, event: TopologyDescriptionChangedEvent) -> None:
        """Not needed."""

    def closed(self, event: TopologyClosedEvent) -> None:
        """Forget the closed topology."""
        self._threads.topology_ids.discard(str(event.topology_id))
