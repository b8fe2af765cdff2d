"""
The engine over a platform: a plan's request estimate bounds the run's
requests when the changes are spread over the run's read batches (the
run pushes each read batch's changes on their own), and an order
import's.  `PlatformEngineContract` runs it for every platform with an
engine contract; the live Vendure runs `OrderPlanEstimateContract`
(tests/platforms/test_vendure_plan.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaStaging,
    MemoryErp,
    NumberRange,
    Only,
    Plan,
    Selection,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.testing import CapturedRun, capture_events
from ecomsync.typing import Platform

from ._plans import assert_run_matches_plan
from ._push import PUSH
from .conftest import small_catalogue


def spread_erp() -> MemoryErp:
    """
    The small catalogue with its six images, as the plan tests read it.
    """
    return MemoryErp(
        small_catalogue(),
        media={f"img-{i}": f"image {i}".encode() for i in range(1, 7)},
    )


def plan_engine(
    erp: MemoryErp, platform: Platform, tmp_path: Path, **options: Any
) -> Synchronizer:
    """
    A synchroniser of *erp* and *platform* ("shop") on a SQLite file and
    a staging directory under *tmp_path*; *options* go to it as given.
    """
    return Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
        **options,
    )


def spread_changes(erp: MemoryErp, *, new_categories: bool = False) -> None:
    """
    A-1, A-3 and A-5 (one per read batch of two) change their price (and
    with *new_categories* move to a category of their own the shop does
    not have yet), A-3 and A-6 their stock.
    """
    for record in small_catalogue():
        if isinstance(record, Article) and record.number in {
            "A-1",
            "A-3",
            "A-5",
        }:
            changed = attrs.evolve(record, price=record.price + 1)
            if new_categories:
                category = f"C-4{record.number[-1]}"
                erp.put(Category(number=category, name=f"Neu {category}"))
                changed = attrs.evolve(changed, categories=(category,))
            erp.put(changed)
    erp.put(StockLevel(number="A-3", quantity=333))
    erp.put(StockLevel(number="A-6", quantity=666))


class OrderPlanEstimateContract:
    """
    A plan bounds the requests of an order import (Vendure, a live
    server without the catalogue contracts, has this part alone).
    """

    pytestmark = pytest.mark.anyio

    def platform(self, emu: Any, *, secret: str | None = None) -> Platform:
        raise NotImplementedError

    def sent(self, emu: Any, since: int) -> list[Any]:
        raise NotImplementedError

    async def planned_run(
        self, emu: Any, sync: Synchronizer, spec: SyncSpec
    ) -> tuple[Plan, CapturedRun, list[Any]]:
        """
        Plan *spec*, then run it: the plan, the run's events and the
        requests the run (not the plan) sent.
        """
        plan = await sync.plan(spec)
        seen = len(emu.requests)
        async with capture_events(sync, spec) as run:
            pass
        return plan, run, self.sent(emu, seen)

    def place_costly_orders(self, emu: Any) -> str:
        """
        Place a few orders of A-1 whose reading costs the adapter more
        than its page of orders (a long order, a refund, a number two
        orders hold), and a few plain ones; the last one's number.
        """
        raise NotImplementedError

    @pytest.mark.parametrize("ranged", [False, True])
    @pytest.mark.parametrize("page", [2, 50])
    async def test_costly_orders_within_estimate(
        self, emu: Any, tmp_path: Path, page: int, ranged: bool
    ) -> None:
        """An order import whose orders cost the adapter's read more than
        its pages (long orders, refunds, shared numbers), or whose
        `NumberRange` reads pages that hold no order it selects, sends
        no more requests than its plan said."""
        last = self.place_costly_orders(emu)
        erp = spread_erp()
        platform = self.platform(emu)
        sync = plan_engine(erp, platform, tmp_path, order_page_size=page)
        selection: Selection = NumberRange(last, last) if ranged else All()
        spec = SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: selection})
        try:
            plan, run, sent = await self.planned_run(emu, sync, spec)
        finally:
            await platform.aclose()
            await sync.store.aclose()

        assert_run_matches_plan(plan, run)
        assert plan.types[DataType.ADDRESSES_AND_ORDERS].create
        assert len(sent) <= plan.requests, (len(sent), plan.requests)


class PlanEstimateContract(OrderPlanEstimateContract):
    """
    A plan bounds the requests of a run whose changes are spread.
    """

    @pytest.mark.parametrize(
        "selection",
        [All(), NumberRange("A-1", "A-6"), Only({"A-1", "A-3", "A-5", "A-6"})],
        ids=repr,
    )
    @pytest.mark.parametrize("new_categories", [False, True])
    async def test_spread_changes_within_estimate(
        self,
        emu: Any,
        tmp_path: Path,
        selection: Selection,
        new_categories: bool,
    ) -> None:
        """A run after a plan of changes spread over its read batches (one
        changed article in each) sends no more requests than planned."""
        erp = spread_erp()
        platform = self.platform(emu)
        sync = plan_engine(erp, platform, tmp_path, batch_size=2)
        try:
            await sync.execute(PUSH)
            spread_changes(erp, new_categories=new_categories)
            spec = SyncSpec(
                types=dict.fromkeys(
                    (DataType.ARTICLES, DataType.STOCK), selection
                )
            )

            plan, run, sent = await self.planned_run(emu, sync, spec)
        finally:
            await platform.aclose()
            await sync.store.aclose()

        assert_run_matches_plan(plan, run)
        assert 3 == len(plan.types[DataType.ARTICLES].update)
        assert len(sent) <= plan.requests

    async def test_many_dependencies_within_estimate(
        self, emu: Any, tmp_path: Path
    ) -> None:
        """An article that pulls in six categories the shop does not have
        yet: the run writes them as the platform writes categories, within
        the plan's estimate."""
        erp = spread_erp()
        platform = self.platform(emu)
        sync = plan_engine(erp, platform, tmp_path)
        new = [f"C-5{i}" for i in range(6)]
        try:
            await sync.execute(PUSH)
            for number in new:
                erp.put(Category(number=number, name=f"Neu {number}"))
            (article,) = [
                r
                for r in small_catalogue()
                if isinstance(r, Article) and r.number == "A-1"
            ]
            erp.put(attrs.evolve(article, categories=tuple(new)))
            spec = SyncSpec(types={DataType.ARTICLES: All()})

            plan, run, sent = await self.planned_run(emu, sync, spec)
        finally:
            await platform.aclose()
            await sync.store.aclose()

        assert_run_matches_plan(plan, run)
        assert new == sorted(plan.types[DataType.ARTICLES].dependencies)
        assert len(sent) <= plan.requests
