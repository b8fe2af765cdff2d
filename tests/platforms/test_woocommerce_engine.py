"""
The engine over the WooCommerce adapter and emulator: a plan equals the
run that follows it and bounds its requests, a plan writes nothing, no
secret leaks, and the dirty catalogue lands exactly or fails by name.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
import stamina

from ecomsync import (
    All,
    Article,
    AuthenticationError,
    Category,
    DataType,
    MediaStaging,
    MemoryErp,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing import (
    DirtyCatalogue,
    Trap,
    capture_events,
    dirty_catalogue,
)
from ecomsync.testing.woocommerce import WooCommerceEmulator

from .._plans import assert_run_matches_plan
from ..testing.test_dirty_catalogue import (
    Outcome,
    _check_failed,
    _ids,
    _two_runs,
)


CANARY = "cs_canary-S3CR3T-4f1d9b"
APP = "app-CANARY-password"
PUSH = (DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    stamina.set_testing(True, attempts=2)
    yield
    stamina.set_testing(False)


def _emu() -> WooCommerceEmulator:
    return WooCommerceEmulator(
        "ck_engine", CANARY, wp_user="sync", wp_application_password=APP
    )


def shop(emu: WooCommerceEmulator, secret: str = CANARY) -> WooCommerce:
    return WooCommerce(
        "http://shop.test",
        "ck_engine",
        secret,
        wp_user="sync",
        wp_application_password=APP,
        transport=httpx.ASGITransport(app=emu.app),
    )


@pytest.fixture(name="emu")
def _emu_fixture() -> WooCommerceEmulator:
    return _emu()


@pytest.fixture(name="wc_sync")
async def _wc_sync(
    emu: WooCommerceEmulator, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    platform = shop(emu)
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
    )
    yield sync
    await platform.aclose()
    await sync.store.aclose()


@pytest.mark.anyio
class TestPlan:
    async def test_plan_equals_run(
        self, wc_sync: Synchronizer, emu: WooCommerceEmulator, erp: MemoryErp
    ) -> None:
        """
        After a plan, the run creates, updates and skips exactly what the
        plan listed, within its request estimate.
        """
        spec = SyncSpec(types={t: All() for t in PUSH})
        await wc_sync.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
        await wc_sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        erp.put(StockLevel(number="A-1", quantity=4242))

        plan = await wc_sync.plan(spec)
        seen = len(emu.requests)
        async with capture_events(wc_sync, spec) as run:
            pass
        sent = list(emu.requests)[seen:]

        assert_run_matches_plan(plan, run, invalid=False)
        assert len(plan.types[DataType.STOCK].create) == 6
        assert len(sent) <= plan.requests
        held = [
            p["stock_quantity"]
            for p in emu.shop.products.values()
            if p["sku"] == "A-1"
        ]
        assert [4242] == held

    async def test_first_sync_within_estimate(
        self, wc_sync: Synchronizer, emu: WooCommerceEmulator
    ) -> None:
        """
        A first sync with images stays within the plan, uploads each
        image once through wp/v2/media and attaches it by id.
        """
        spec = SyncSpec(types={t: All() for t in PUSH})
        plan = await wc_sync.plan(spec)
        seen = len(emu.requests)

        run = await wc_sync.execute(spec)
        sent = list(emu.requests)[seen:]
        again = await wc_sync.execute(spec)

        assert len(sent) <= plan.requests
        assert RunStatus.SUCCEEDED == run.status
        assert RunStatus.SUCCEEDED == again.status
        uploads = [r for r in sent if r.route == "media_upload"]
        assert 6 == len(uploads)
        with_images = [p for p in emu.shop.products.values() if p["images"]]
        assert 6 == len(with_images)
        assert 6 == len(emu.shop.media)

    async def test_plan_writes_nothing(
        self, wc_sync: Synchronizer, emu: WooCommerceEmulator
    ) -> None:
        """
        A plan of a first full sync sends no write to the shop.
        """
        plan = await wc_sync.plan(SyncSpec(types={t: All() for t in PUSH}))

        assert len(plan.types[DataType.ARTICLES].create) == 6
        assert [] == [r for r in emu.requests if r.method in WRITES]


@pytest.mark.anyio
class TestSecrets:
    async def test_wrong_secret_stops_the_run_without_leaking(
        self,
        emu: WooCommerceEmulator,
        erp: MemoryErp,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """
        A refused key fails the run with an AuthenticationError whose
        text, the events, the logs and the store hold no secret.
        """
        wrong = "cs_wrong-S3CR3T-zz"
        platform = shop(emu, secret=wrong)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )
        caplog.set_level(logging.DEBUG)
        with pytest.raises(AuthenticationError) as info:
            await sync.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
        runs = await store.list_runs()
        await platform.aclose()
        await store.aclose()

        texts = [
            str(info.value),
            caplog.text,
            repr(platform),
            *(repr(r) for r in runs),
            (tmp_path / "state.db").read_bytes().decode("latin-1"),
        ]
        for text in texts:
            assert wrong not in text
            assert APP not in text


# -- the dirty catalogue ---------------------------------------------------


@attrs.frozen
class _Shop:
    """
    The emulated shop's catalogue, by SKU and slug.
    """

    emu: WooCommerceEmulator

    def product(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.products.values():
            if row["sku"] == number:
                return row
        return None

    def category(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.categories.values():
            if row["slug"] == category_slug(number):
                return row
        return None

    def check_article(self, article: Article) -> None:
        row = self.product(article.number)
        assert row is not None, f"{article.number!r} is not in the shop"
        products = self.emu.shop.products
        assert article.name == row["name"]
        assert article.active == (row["status"] == "publish")
        assert {
            self.category(c)["id"]  # type: ignore[index]
            for c in article.categories
        } == {c["id"] for c in row["categories"]}
        assert len(article.media) == len(row["images"])
        children = {products[v]["sku"]: products[v] for v in row["variations"]}
        assert {v.number for v in article.variants} == set(children)
        if not article.variants:
            assert article.price == Decimal(row["regular_price"])
        for variant in article.variants:
            child = children[variant.number]
            price = article.price if variant.price is None else variant.price
            assert price == Decimal(child["regular_price"])
            assert list(variant.options) == [
                (a["name"], a["option"]) for a in child["attributes"]
            ]

    def check_category(self, category: Category) -> None:
        row = self.category(category.number)
        assert row is not None, f"{category.number!r} is not in the shop"
        assert category.name == row["name"]
        parent = self.category(category.parent) if category.parent else None
        assert (parent["id"] if parent else 0) == row["parent"]

    def check_stock(self, stock: StockLevel) -> None:
        row = self.product(stock.number)
        assert row is not None
        assert stock.quantity == row["stock_quantity"]

    def holds(self, trap: Trap) -> bool:
        number = trap.record.number
        if trap.data_type is DataType.CATEGORIES:
            return self.category(number) is not None
        row = self.product(number)
        if trap.data_type is DataType.STOCK:
            return row is not None and row["stock_quantity"] == (
                trap.record.quantity  # type: ignore[union-attr]
            )
        return row is not None


def _catalogue() -> DirtyCatalogue:
    # WordPress stores post titles as TEXT: no name limit; SKUs compare
    # in MySQL's _ci collation: numbers fold.
    return dirty_catalogue(numbers_fold=True, name_limit=None)


@pytest.fixture(scope="module", name="woo")
def _woo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[DirtyCatalogue, Outcome]:
    stamina.set_testing(True, attempts=2)
    emulator = _emu()
    catalogue = _catalogue()
    try:
        outcome = anyio.run(
            _two_runs,
            catalogue,
            shop(emulator),
            tmp_path_factory.mktemp("woo"),
        )
    finally:
        stamina.set_testing(False)
    outcome.shop = _Shop(emulator)
    return catalogue, outcome


class TestDirtyCatalogue:
    @pytest.mark.parametrize(
        "trap", [pytest.param(t, id=_ids(t)) for t in _catalogue().traps]
    )
    def test_trap(
        self, woo: tuple[DirtyCatalogue, Outcome], trap: Trap
    ) -> None:
        """
        The trap's record is in the shop exactly as the ERP has it, or
        failed naming its field, is not in the shop and kept no checksum.
        """
        _, outcome = woo
        held: _Shop = outcome.shop
        key = (trap.data_type, trap.record.number)

        if trap.fails_on is not None:
            _check_failed(outcome, trap)
            assert not held.holds(trap)
            return
        assert key not in outcome.failed, outcome.failed.get(key)
        record = trap.record
        if isinstance(record, Article):
            held.check_article(record)
        elif isinstance(record, Category):
            held.check_category(record)
        else:
            assert isinstance(record, StockLevel)
            held.check_stock(record)

    def test_whole_shop_and_second_run(
        self, woo: tuple[DirtyCatalogue, Outcome]
    ) -> None:
        """
        The shop holds exactly what must land (one shared image uploaded
        once), and a second run writes nothing and fails the same.
        """
        catalogue, outcome = woo
        emu = outcome.shop.emu
        parents = [
            p for p in emu.shop.products.values() if p["type"] != "variation"
        ]

        assert len(catalogue.landing(DataType.ARTICLES)) == len(parents)
        assert len(catalogue.landing(DataType.CATEGORIES)) + 1 == len(
            emu.shop.categories
        )
        assert 1 == len(emu.shop.media)
        assert 0 == outcome.second_synced
        assert outcome.failed == outcome.second_failed
