"""
Cancelled in the order phases (reading the shop's orders, importing them
into the ERP, pushing order status back) and with the media uploads in
flight, by the host's cancel scope, `RunEvents.cancel` or
`Synchronizer.cancel`: the run ends cancelled (or succeeded, when the
request came after its last write) with nothing in the failure ledger,
its licence free and nothing pending; the next scheduled run imports
every order once and leaves every record in the shop once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    DataType,
    MemoryErp,
    OrderState,
    OrderStatus,
    RunStatus,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import PUSH
from .conftest import assert_oracles, catalogue_orders
from .test_cancel_phases import Cut, Wrapped


pytestmark = pytest.mark.anyio

EVERYTHING = SyncSpec(
    types={
        **PUSH.types,
        DataType.ADDRESSES_AND_ORDERS: All(),
        DataType.ORDER_STATUS: All(),
    }
)


class SoftCut(Cut):
    """
    Asks the run to stop (through its events or the synchroniser) at
    the *n*-th call of *point*, instead of cancelling the host's scope.
    """

    def __init__(self, point: str, n: int, how: str) -> None:
        super().__init__(point, n)
        self.how = how
        self.events: Any = None
        self.sync: Synchronizer | None = None

    async def hit(self, point: str) -> None:
        if point != self.point or self.events is None:
            return
        self.calls += 1
        if self.calls != self.n:
            return
        if self.how == "events":
            self.events.cancel()
        else:
            assert self.sync is not None
            await self.sync.cancel(self.events.run_id)


class CutErp:
    """*inner*, its sessions' order imports and media reads cut."""

    def __init__(self, inner: MemoryErp, cut: Cut) -> None:
        self._inner, self._cut = inner, cut

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def session(self) -> Any:
        opened = self._inner.session()
        cut = self._cut

        class Session:
            async def __aenter__(self) -> Wrapped:
                inner = await opened.__aenter__()
                names = {"import_orders", "read_media"}
                return Wrapped(inner, cut, "erp", names)

            async def __aexit__(self, *exc: Any) -> bool | None:
                return await opened.__aexit__(*exc)

        return Session()


class CutPlatform(Wrapped):
    """A platform whose pushes, uploads and order pages pass *cut*."""

    def fetch_orders(self, *a: Any, **k: Any) -> AsyncIterator[Sequence[Any]]:
        async def pages() -> AsyncIterator[Sequence[Any]]:
            async for page in self._inner.fetch_orders(*a, **k):
                await self._cut.hit("platform.fetch_orders")
                yield page

        return pages()


#: The platform pushes 1-4 are the catalogue's (the stock goes in the
#: article batches' pushes, `_stock_fold`), 5 the order status.
POINTS = [
    ("platform.upload_media:before", 2),
    ("platform.upload_media:after", 4),
    ("platform.fetch_orders", 1),
    ("platform.fetch_orders", 2),
    ("erp.import_orders:before", 1),
    ("erp.import_orders:after", 1),
    ("erp.import_orders:after", 2),
    ("store.put_links:before", 6),
    ("platform.push:before", 5),
    ("platform.push:after", 5),
    ("store.set_watermark:before", 4),
    ("store.set_watermark:before", 5),
]


def cut_sync(fsync: Synchronizer, erp: MemoryErp, cut: Cut) -> Synchronizer:
    return Synchronizer(
        erp=CutErp(erp, cut),
        platforms={
            "shop": CutPlatform(
                fsync.platforms["shop"],
                cut,
                "platform",
                {"push", "upload_media"},
            )
        },
        store=Wrapped(
            fsync.store, cut, "store", {"put_links", "set_watermark"}
        ),
        licenses=fsync.licenses,
        staging=fsync.staging,
        batch_size=fsync.batch_size,
        order_page_size=4,
    )


@pytest.mark.parametrize("how", ["scope", "events", "sync"])
@pytest.mark.parametrize(("point", "n"), POINTS)
async def test_cancelled_orders_completed_by_the_next_run(
    fsync: Synchronizer,
    emu: ShopwareEmulator,
    erp: MemoryErp,
    point: str,
    n: int,
    how: str,
) -> None:
    """
    Cancelled at *point*: ended cancelled (succeeded if nothing was left
    to do), no failure, licence free, nothing pending; the next scheduled
    run imports each order once and lands everything.
    """
    orders = catalogue_orders(9)
    for order in orders:
        emu.place(order)
        erp.put(OrderStatus(number=order.number, state=OrderState.SHIPPED))
    cut = Cut(point, n) if how == "scope" else SoftCut(point, n, how)
    sync = cut_sync(fsync, erp, cut)

    with anyio.fail_after(30), anyio.CancelScope() as scope:
        cut.scope = scope
        if isinstance(cut, SoftCut):
            cut.sync = sync
        async with sync.run(EVERYTHING, trigger=Trigger.SCHEDULED) as events:
            if isinstance(cut, SoftCut):
                cut.events = events
            async for _ in events:
                pass
    cut.scope = None

    assert cut.calls >= n  # the point was reached
    (run,) = await fsync.store.list_runs()
    if how == "scope":
        assert scope.cancelled_caught
        assert RunStatus.CANCELLED == run.status
    else:
        assert run.status in (RunStatus.CANCELLED, RunStatus.SUCCEEDED)
    assert () == run.failures
    for data_type in DataType:
        assert [] == await fsync.store.list_failures("shop", data_type)
    assert 0 == len(await fsync.licenses.holders())
    assert [] == await fsync.store.list_pending()
    with anyio.fail_after(30):
        again = await fsync.execute(EVERYTHING, trigger=Trigger.SCHEDULED)
    assert RunStatus.SUCCEEDED == again.status
    assert () == again.failures
    assert sorted(o.number for o in orders) == sorted(erp.orders)
    await assert_oracles(fsync, emu)
