"""
`LocalLicensePool`: the licences of one process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import attrs

from .._closing import AsyncResource
from .._contracts import Lease
from .._settings import at_least
from ..exceptions import NoFreeLicense


__all__ = ["LocalLicensePool"]


@attrs.define
class LocalLicensePool(AsyncResource):
    """
    *size* licences shared by the runs of this process.

    A lease is returned however its block ends: success, error or
    cancellation.

    .. versionadded:: 26.1.0
    """

    _size: int = attrs.field(validator=at_least(1), alias="size")
    _slots: list[str | None] = attrs.field(init=False)
    _free: anyio.Semaphore = attrs.field(init=False)
    _closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._slots = [None] * self._size
        self._free = anyio.Semaphore(self._size)

    def __repr__(self) -> str:
        return f"<LocalLicensePool {self.in_use}/{self._size} in use>"

    @property
    def size(self) -> int:
        return self._size

    @property
    def in_use(self) -> int:
        return sum(slot is not None for slot in self._slots)

    async def holders(self) -> tuple[str, ...]:
        return tuple(h for h in self._slots if h is not None)

    @asynccontextmanager
    async def lease(
        self, holder: str, *, timeout: float
    ) -> AsyncIterator[Lease]:
        self._ensure_open()
        try:
            # A free licence is taken at once, also with no time to wait
            # (timeout 0): a wait whose deadline has passed takes nothing.
            self._free.acquire_nowait()
            await anyio.lowlevel.cancel_shielded_checkpoint()
        except anyio.WouldBlock:
            with anyio.move_on_after(timeout) as scope:
                await self._free.acquire()
            if scope.cancelled_caught:
                raise NoFreeLicense(
                    self._size, await self.holders(), timeout
                ) from None
        slot = self._slots.index(None)
        self._slots[slot] = holder
        try:
            yield Lease(holder, slot)
        finally:
            self._slots[slot] = None
            self._free.release()
