"""The marker a flush puts in a worker's queue: set once everything queued before it was handed on."""

from __future__ import annotations

import threading

__all__ = ["FlushMarker"]


class FlushMarker:
    """Queued behind the records a flush waits for; the worker sets :attr:`done` when it reaches it."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()
