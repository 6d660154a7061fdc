"""Delivering what ``multiprocessing`` children logged, however they leave.

A child leaves through ``os._exit``, which skips ``atexit``: it runs the finalizers registered in it,
so the pipeline's shutdown is registered there — in every child forked from a process with a
pipeline, and in a child (spawn, forkserver) that sets one up itself. ``Pool.__exit__`` and
``Pool.terminate()`` end workers with SIGTERM, which skips even those: a child whose SIGTERM is
still the default therefore gets a handler that shuts the pipeline down (within its deadline) and
then dies of the signal as before; one that arrives while the child is already shutting down waits
for that shutdown to end.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util as mp_util
import os
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["arm_child_processes", "renew_after_fork"]

Shutdown = Callable[[], Any]


def renew_after_fork(method: Callable[[], object]) -> None:
    """Call the bound ``method`` in every child forked from now on, as long as its object lives: it
    gives the child fresh locks, queues and threads of its own."""
    if hasattr(os, "register_at_fork"):
        ref = weakref.WeakMethod(method)
        os.register_at_fork(after_in_child=lambda: (renew := ref()) is not None and renew())


def arm_child_processes(owner: object, shutdown: Shutdown) -> None:
    """Run ``shutdown`` when a ``multiprocessing`` child leaves: children forked from now on, and this
    process if it is one. ``owner`` (the pipeline) keeps the registration alive."""
    mp_util.register_after_fork(owner, lambda _owner: _arm(shutdown))
    if multiprocessing.parent_process() is not None:
        _arm(shutdown)


def _arm(shutdown: Shutdown) -> None:
    leaving = _Leaving(shutdown)
    mp_util.Finalize(None, leaving.shut_down, exitpriority=100)
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # the application handles SIGTERM itself
    signal.signal(signal.SIGTERM, leaving.on_terminate)


class _Leaving:
    """One child's way out: the shutdown, run once, and SIGTERM deferred while it runs.

    ``Pool.__exit__`` sends SIGTERM to workers that may already be leaving (their finalizer is
    delivering what they logged): the signal then waits for that shutdown to end instead of cutting it.
    """

    def __init__(self, shutdown: Shutdown) -> None:
        self._shutdown = shutdown
        self._running = False
        self._pending: int | None = None

    def shut_down(self) -> None:
        self._running = True
        try:
            self._shutdown()
        finally:
            self._running = False
            if self._pending is not None:
                _die_of(self._pending)

    def on_terminate(self, signum: int, frame: FrameType | None) -> None:
        if self._running:
            self._pending = signum
            return
        try:
            self.shut_down()
        finally:
            _die_of(signum)


def _die_of(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
