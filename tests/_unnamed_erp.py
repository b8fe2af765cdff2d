"""
An ERP adapter written before reads took the platform (``read`` and
``count`` without the ``platform`` keyword), over a `MemoryErp`: what the
engine and the ERP contract must still accept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from ecomsync import (
    DataType,
    MediaRef,
    MemoryErp,
    Order,
    Outcome,
    Record,
    Selection,
)


class Unnamed:
    """
    An ERP adapter written before reads took the platform: its ``read``
    and ``count`` have no ``platform`` keyword.
    """

    def __init__(self, erp: MemoryErp) -> None:
        self.erp = erp

    @asynccontextmanager
    async def session(self) -> AsyncIterator[UnnamedSession]:
        async with self.erp.session() as inner:
            yield UnnamedSession(inner)


class UnnamedSession:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def read(
        self, data_type: DataType, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Record]]:
        return self.inner.read(data_type, selection, batch_size=batch_size)  # type: ignore[no-any-return]

    async def count(
        self, data_type: DataType, selection: Selection
    ) -> int | None:
        return await self.inner.count(data_type, selection)  # type: ignore[no-any-return]

    async def read_media(self, ref: MediaRef) -> bytes:
        return await self.inner.read_media(ref)  # type: ignore[no-any-return]

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        return await self.inner.import_orders(orders)  # type: ignore[no-any-return]
