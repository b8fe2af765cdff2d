"""
Small anyio helpers the engine shares: a task group whose lone error
comes out as itself, and deterministic closing of async iterators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup


T = TypeVar("T")


@asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    """
    An anyio task group whose lone error comes out as itself, not wrapped
    in an ExceptionGroup, so that callers can tell a `RunCancelled` or an
    `AuthenticationError` by its type.  Several errors stay a group; the
    run's lifecycle picks the one to raise (`_run.fatal_error`).
    """
    try:
        async with anyio.create_task_group() as tg:
            yield tg
    except BaseExceptionGroup as group:
        error: BaseException = group
        while (
            isinstance(error, BaseExceptionGroup)
            and len(error.exceptions) == 1
        ):
            error = error.exceptions[0]
        if error is group:
            raise
        raise error from None


async def aclose(iterator: AsyncIterator[Any]) -> None:
    """
    Close *iterator* now if it can be closed (adapters return async
    generators; anyio advises against leaving them to the collector).
    """
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def closing(iterator: AsyncIterator[T]) -> AsyncIterator[T]:
    """
    Iterate *iterator* to the end, or close it when abandoned.
    """
    try:
        async for item in iterator:
            yield item
    finally:
        await aclose(iterator)
