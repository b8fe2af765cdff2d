"""
Variants moved from one ERP article to another (same variant numbers, a
new parent), through the engine into the Shopware 6 emulator: in one
batch or across batches, in one run or across runs, with faults and a
merchant's delete in between.  After every run the shop is the ERP's, or
the failure ledger says why, and the ledger holds nothing the shop has
right (the messy-data state machine's oracle, tests/faults).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MemoryErp,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import Faults, ShopwareEmulator

from .._retries import fast_retries
from ..faults._shop_views import ShopwareView


pytestmark = pytest.mark.anyio

SECRET = "moves-secret"

_fast_retries = fast_retries(3)

PUSH = SyncSpec(
    types={
        DataType.CATEGORIES: All(),
        DataType.ARTICLES: All(),
        DataType.STOCK: All(),
    }
)
FORCED = attrs.evolve(PUSH, force=True)


def _article(number: str, *variants: str) -> Article:
    return Article(
        number=number,
        name=f"Artikel {number}",
        price=Decimal("9.99"),
        categories=("C-1",),
        variants=tuple(
            # Each its own option value: a move is not refused for
            # sharing the options of one of the new parent's variants.
            Variant(number=v, options=(("Größe", v),))
            for v in variants
        ),
    )


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@attrs.define
class Shop:
    """The ERP, the engine and the emulated shop of one test."""

    erp: MemoryErp
    emu: ShopwareEmulator
    platform: Shopware6
    sync: Synchronizer
    clock: Clock

    def move(self, source: str, target: str, count: int) -> None:
        """The last *count* variants of *source* go to *target*."""
        old = self.erp.get(DataType.ARTICLES, source)
        new = self.erp.get(DataType.ARTICLES, target)
        assert isinstance(old, Article)
        assert isinstance(new, Article)
        moved = old.variants[-count:]
        kept = old.variants[: len(old.variants) - count]
        self.erp.put(attrs.evolve(old, variants=kept))
        self.erp.put(attrs.evolve(new, variants=(*new.variants, *moved)))

    async def run(
        self, trigger: Trigger = Trigger.SCHEDULED, *, spec: SyncSpec = PUSH
    ) -> RunStatus:
        self.clock.now += timedelta(hours=1)
        return (await self.sync.execute(spec, trigger=trigger)).status

    async def ledger(self) -> set[str]:
        return {
            f.number
            for f in await self.sync.store.list_failures(
                "shop", DataType.ARTICLES
            )
        }

    async def check(self) -> set[str]:
        """
        Every article is in the shop as the ERP has it, or in the
        ledger; nothing in the ledger is right.  Returns the ledger.
        """
        ledger = await self.ledger()
        view = ShopwareView(self.emu)
        wrong: list[str] = []
        for number in ("A-01", "V-01", "V-02"):
            article = self.erp.get(DataType.ARTICLES, number)
            assert isinstance(article, Article)
            why = view.article_right(article)
            if why is not None and number not in ledger:
                wrong.append(f"{number} silently wrong: {why}")
            if why is None and number in ledger:
                wrong.append(f"{number} in the ledger, yet right")
        assert not wrong, wrong
        return ledger


async def _shop(tmp_path: Path, batch_size: int) -> Shop:
    erp = MemoryErp(
        [
            Category(number="C-1", name="Werkzeug"),
            _article("A-01"),
            _article("V-01", "V-01-S", "V-01-M"),
            _article("V-02", "V-02-S", "V-02-M"),
            *(
                StockLevel(number=n, quantity=5)
                for n in ("A-01", "V-01-S", "V-01-M", "V-02-S", "V-02-M")
            ),
        ]
    )
    emu = ShopwareEmulator(client_id="SWIAMOVES", client_secret=SECRET)
    clock = Clock()
    platform = Shopware6(
        "http://shop.test",
        emu.client_id,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
        request_deadline=1.0,
    )
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        batch_size=batch_size,
        clock=clock,
        # A scheduled run reads only what changed since the last one.
        overlap=timedelta(0),
    )
    shop = Shop(erp, emu, platform, sync, clock)
    assert RunStatus.SUCCEEDED == await shop.run()
    assert set() == await shop.check()
    return shop


@pytest.fixture(name="make")
async def _make() -> AsyncIterator[list[Shop]]:
    made: list[Shop] = []
    yield made
    for shop in made:
        await shop.platform.aclose()
        await shop.sync.store.aclose()


async def _new(make: list[Shop], tmp_path: Path, batch_size: int) -> Shop:
    shop = await _shop(tmp_path, batch_size)
    make.append(shop)
    return shop


def _children(emu: ShopwareEmulator, parent: str) -> dict[str, object]:
    """The variants the shop holds under *parent*, with their state."""
    rows = emu.entities["product"].values()
    ids = {r["id"]: r["productNumber"] for r in rows}
    return {
        r["productNumber"]: r.get("active")
        for r in rows
        if ids.get(r.get("parentId")) == parent
    }


# Batch sizes: each article alone, V-01 and V-02 in one batch (A-01
# first), all three in one.
BATCHES = [1, 2, 3]


class TestAllVariantsMoved:
    @pytest.mark.parametrize("batch_size", BATCHES)
    async def test_both_articles_fail_saying_why(
        self, make: list[Shop], tmp_path: Path, batch_size: int
    ) -> None:
        """All of V-01's variants moved to V-02: V-02 fails on the number
        Shopware holds as V-01's variant (not moved under V-02 silently),
        V-01 fails on ``variants`` (its product is written, its variants
        deactivated), each run again until the merchant acts."""
        shop = await _new(make, tmp_path, batch_size)
        shop.move("V-01", "V-02", 2)

        for trigger in (Trigger.SCHEDULED, Trigger.SCHEDULED, Trigger.MANUAL):
            assert RunStatus.SUCCEEDED == await shop.run(trigger)
            assert {"V-01", "V-02"} == await shop.check()

        assert {"V-01-S": False, "V-01-M": False} == _children(
            shop.emu, "V-01"
        )

    @pytest.mark.parametrize("batch_size", BATCHES)
    async def test_one_at_a_time_across_runs_with_faults(
        self, make: list[Shop], tmp_path: Path, batch_size: int
    ) -> None:
        """V-01's variants move one at a time, each followed by a run the
        shop answers with 503s, resets or a commit whose answer is lost,
        then a quiet run: the ledger says the truth after each."""
        shop = await _new(make, tmp_path, batch_size)
        for fault in (
            Faults(storm_probability=0.3, storm_status=503, storm_seed=3),
            Faults(reset_next=2),
            Faults(commit_then_timeout=1, hang_s=2.0),
        ):
            if _children(shop.emu, "V-01"):
                shop.move("V-01", "V-02", 1)
            shop.emu.faults = fault
            await shop.run()
            shop.emu.faults = Faults()
            assert RunStatus.SUCCEEDED == await shop.run()
            await shop.check()

        assert {"V-01", "V-02"} == await shop.check()


class TestTheMerchantDeletesTheOldParent:
    @pytest.mark.parametrize("batch_size", BATCHES)
    @pytest.mark.parametrize("moved", [1, 2])
    async def test_the_variants_land_under_the_new_parent(
        self, make: list[Shop], tmp_path: Path, batch_size: int, moved: int
    ) -> None:
        """V-01's product deleted by hand in the shop (with its variants)
        after variants moved to V-02: the next run makes V-01 anew and the
        moved variants under V-02, and a forced run leaves them on sale
        there, nothing in the ledger.  The emulator kept listing the
        deleted variants, made anew under V-02, as V-01's children: V-01
        failed on ``variants`` though right, and its write deactivated
        them under V-02 (V-02 short of them, in no ledger)."""
        shop = await _new(make, tmp_path, batch_size)
        shop.move("V-01", "V-02", moved)
        assert ShopwareView(shop.emu).delete("V-01")

        assert RunStatus.SUCCEEDED == await shop.run(Trigger.MANUAL)
        assert set() == await shop.check()
        assert RunStatus.SUCCEEDED == await shop.run(
            Trigger.MANUAL, spec=FORCED
        )

        assert set() == await shop.check()
        held = _children(shop.emu, "V-02")
        assert {f"V-01-{s}" for s in "MS"[:moved]} <= set(held)
        assert {None} == set(held.values())
