"""The shape the library's blocks share: a context manager that is also an ``async with`` block and a
decorator of sync and async functions, entered per context (one object may be entered by many threads
and tasks at once, each leaving what it entered)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])
_V = TypeVar("_V")

Entered = ContextVar[tuple[tuple[object, Any], ...]]


def push(entered: Entered, owner: object, value: Any) -> None:
    """Remember ``value`` for ``owner`` in this context, innermost last."""
    entered.set((*entered.get(), (owner, value)))


def pop(entered: Entered, owner: object) -> tuple[bool, Any]:
    """``(True, value)`` remembered for ``owner`` in this context (and forgotten), or ``(False, None)``."""
    stack = entered.get()
    for index in range(len(stack) - 1, -1, -1):
        if stack[index][0] is owner:
            entered.set(stack[:index] + stack[index + 1 :])
            return True, stack[index][1]
    return False, None


class Block:
    """``async with`` and decorating come from the subclass's ``__enter__`` and ``__exit__``."""

    __slots__ = ()

    def __enter__(self) -> Any:
        raise NotImplementedError

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: _F) -> _F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await func(*args, **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return cast(_F, wrapper)
