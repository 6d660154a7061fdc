"""The marker a flush puts in a worker's queue: set once everything queued before it was handed on."""

from __future__ import annotations

import threading
from collections import deque
from typing import TypeVar

__all__ = ["FlushMarker", "take_all"]

_Item = TypeVar("_Item")


class FlushMarker:
    """Queued behind the records a flush waits for; the worker sets :attr:`done` when it reaches it."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


def take_all(queue: deque[_Item | FlushMarker]) -> list[_Item]:
    """Empty ``queue`` (other threads may still append to it) and release the flushes waiting in it:
    the items, in order, without the markers."""
    taken: list[_Item] = []
    while True:
        try:
            item = queue.popleft()
        except IndexError:
            return taken
        if isinstance(item, FlushMarker):
            item.done.set()
        else:
            taken.append(item)
