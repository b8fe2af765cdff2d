"""
Waiting for a licence slot: what the pools shared between processes do
alike (they cannot be woken when a slot frees, so they poll).
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from ..exceptions import NoFreeLicense


__all__ = ["poll_for_slot"]

T = TypeVar("T")


async def poll_for_slot(
    try_slot: Callable[[int], Awaitable[T | None]],
    *,
    size: int,
    timeout: float,
    poll_interval: float,
    max_poll_interval: float,
    holders: Callable[[], Awaitable[tuple[str, ...]]],
) -> T:
    """
    Try the *size* slots in turn until *try_slot* takes one (returns not
    ``None``), starting each round at a random slot so that waiters do not
    all race for slot 0; between rounds wait *poll_interval* seconds,
    doubling up to *max_poll_interval*, with jitter.

    Raises:
        NoFreeLicense: No slot was had within *timeout* seconds; names
            the *holders*.
    """
    deadline = time.monotonic() + timeout
    pause = poll_interval
    while True:
        first = random.randrange(size)  # noqa: S311
        for step in range(size):
            got = await try_slot((first + step) % size)
            if got is not None:
                return got
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoFreeLicense(size, await holders(), timeout)
        await anyio.sleep(min(left, pause * random.uniform(0.5, 1.5)))  # noqa: S311
        pause = min(pause * 2, max_poll_interval)
