"""
A plan's request estimate is an upper bound of what the run sends, for
changes spread over the run's read batches (each pushed on its own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    MemoryErp,
    NumberRange,
    Only,
    Selection,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.testing import capture_events
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._plan_estimate_contract import plan_engine, spread_changes, spread_erp
from .._plans import assert_run_matches_plan
from .._push import PUSH, shopware6
from ..conftest import T0


pytestmark = pytest.mark.anyio

SELECTIONS = [
    All(),
    NumberRange("A-1", "A-6"),
    Only({"A-1", "A-3", "A-5", "A-6"}),
    ChangedSince(T0),
]


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIAPLAN", client_secret="s3cr3t")


@pytest.fixture(name="engine")
async def _engine(
    emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    platform = shopware6(emu, "s3cr3t")
    sync = plan_engine(erp, platform, tmp_path, batch_size=2)
    try:
        yield sync
    finally:
        await platform.aclose()
        await sync.store.aclose()


class TestShopware6:
    @pytest.mark.parametrize("selection", SELECTIONS, ids=repr)
    @pytest.mark.parametrize(
        "types",
        [(DataType.ARTICLES,), (DataType.ARTICLES, DataType.STOCK)],
        ids=["articles", "with-stock"],
    )
    async def test_spread_changes_within_estimate(
        self,
        engine: Synchronizer,
        emu: ShopwareEmulator,
        erp: MemoryErp,
        selection: Selection,
        types: tuple[DataType, ...],
    ) -> None:
        """A run after a plan of changes spread over its read batches sends
        no more Admin API requests than the plan estimated (the estimate
        counted one product search and one sync per changed batch)."""
        await engine.execute(PUSH)
        spread_changes(erp)
        spec = SyncSpec(types=dict.fromkeys(types, selection))

        plan = await engine.plan(spec)
        seen = len(emu.requests)
        async with capture_events(engine, spec) as run:
            pass
        sent = [r for r in list(emu.requests)[seen:] if "oauth" not in r.path]

        assert_run_matches_plan(plan, run)
        assert 3 == len(plan.types[DataType.ARTICLES].update)
        assert len(sent) <= plan.requests


class TestShopware6Orders:
    @pytest.mark.parametrize("shared", [False, True])
    @pytest.mark.parametrize(("orders", "page"), [(5, 2), (4, 2), (500, 500)])
    async def test_import_within_estimate(
        self,
        emu: ShopwareEmulator,
        erp: MemoryErp,
        tmp_path: Path,
        orders: int,
        page: int,
        shared: bool,
    ) -> None:
        """An order import after a plan sends no more requests than
        planned: per page of orders a read and a look-up of its numbers
        (a number held twice too), and the page that tells there are no
        more."""
        for n in range(orders):
            emu.place_order(order_number=f"L-{n}")
        if shared:
            emu.place_order(order_number="L-0", order_id="f" * 32)
        platform = shopware6(emu, "s3cr3t")
        sync = plan_engine(erp, platform, tmp_path, order_page_size=page)
        spec = SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()})
        try:
            plan = await sync.plan(spec)
            seen = len(emu.requests)
            async with capture_events(sync, spec) as run:
                pass
            sent = [
                r for r in list(emu.requests)[seen:] if "oauth" not in r.path
            ]
        finally:
            await platform.aclose()
            await sync.store.aclose()

        assert_run_matches_plan(plan, run)
        part = plan.types[DataType.ADDRESSES_AND_ORDERS]
        assert orders - shared == len(part.create)
        assert (["L-0"] if shared else []) == [r.number for r in part.invalid]
        assert len(sent) <= plan.requests


class TestShopware6Scheduled:
    async def test_scheduled_run_within_estimate(
        self, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """A scheduled run after its plan (what changed since the
        watermark, and the ledger's retries) sends no more requests than
        planned."""
        erp = spread_erp()
        platform = shopware6(emu, "s3cr3t")
        sync = plan_engine(erp, platform, tmp_path, batch_size=2)
        try:
            await sync.execute(PUSH, trigger=Trigger.SCHEDULED)
            spread_changes(erp)

            plan = await sync.plan(PUSH, trigger=Trigger.SCHEDULED)
            seen = len(emu.requests)
            async with capture_events(
                sync, PUSH, trigger=Trigger.SCHEDULED
            ) as run:
                pass
            sent = [
                r for r in list(emu.requests)[seen:] if "oauth" not in r.path
            ]
        finally:
            await platform.aclose()
            await sync.store.aclose()

        assert_run_matches_plan(plan, run)
        assert 3 == len(plan.types[DataType.ARTICLES].update)
        assert len(sent) <= plan.requests
