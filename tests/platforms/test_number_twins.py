"""
WooCommerce and Shopware 6: ERP numbers that are one product to the shop
(``A-01`` and ``A-01 ``, ``A-01`` and ``a-01``: an SKU, a product number
compared ignoring case, accents and trailing spaces) behave as one
number claimed twice, in one run and across runs: every party fails
naming both, and the product the shop holds is never overwritten by the
newcomer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MediaStaging,
    NumberClaim,
    Only,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
    Variant,
)
from ecomsync.erp.memory import MemoryErp
from ecomsync.events import RecordFailed
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing import capture_events
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.testing.woocommerce import WooCommerceEmulator
from ecomsync.typing import IdentityClaims, Platform

from .._push import shopware6


pytestmark = pytest.mark.anyio

KEY, SECRET, APP = "ck_twins", "cs_twins", "app-twins"
ARTICLES = SyncSpec(platform="shop", types={DataType.ARTICLES: All()})
STOCK = SyncSpec(platform="shop", types={DataType.STOCK: All()})


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@attrs.define
class Shop:
    """A synchroniser over a MemoryErp and a WooCommerce emulator."""

    sync: Synchronizer
    erp: MemoryErp
    emu: WooCommerceEmulator | ShopwareEmulator
    clock: Clock

    def names(self) -> list[tuple[str, str]]:
        """The shop's products: (number, name)."""
        if isinstance(self.emu, WooCommerceEmulator):
            rows = self.emu.shop.products.values()
            return sorted((p["sku"], p["name"]) for p in rows)
        rows = self.emu.entities["product"].values()
        return sorted((p["productNumber"], _name(p)) for p in rows)

    async def failed(
        self, spec: SyncSpec = ARTICLES, trigger: Trigger = Trigger.MANUAL
    ) -> list[RecordFailed]:
        self.clock.now += timedelta(hours=1)
        async with capture_events(self.sync, spec, trigger=trigger) as run:
            return sorted(run.of(RecordFailed), key=lambda e: e.number)


def _name(product: dict[str, Any]) -> str:
    name = product.get("name")
    if isinstance(name, str):
        return name
    for translation in (product.get("translations") or {}).values():
        return str(translation["name"])
    return ""


def _art(number: str, name: str) -> Article:
    return Article(number=number, name=name, price=1)  # type: ignore[arg-type]


async def _open(
    tmp_path: Path, kind: str, batch_size: int
) -> AsyncIterator[Shop]:
    clock = Clock()
    emu: WooCommerceEmulator | ShopwareEmulator
    platform: Platform
    if kind == "woocommerce":
        emu = WooCommerceEmulator(
            KEY, SECRET, wp_user="sync", wp_application_password=APP
        )
        platform = WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            wp_user="sync",
            wp_application_password=APP,
            transport=httpx.ASGITransport(app=emu.app),
        )
    else:
        emu = ShopwareEmulator(client_id="SWIATWINS", client_secret=SECRET)
        platform = shopware6(emu, SECRET)
    erp = MemoryErp(clock=clock)
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
        batch_size=batch_size,
        clock=clock,
        overlap=timedelta(0),
    )
    yield Shop(sync, erp, emu, clock)
    await platform.aclose()
    await sync.store.aclose()


PLATFORMS = ["woocommerce", "shopware6"]


@pytest.fixture(name="woo")
async def _woo(tmp_path: Path) -> AsyncIterator[Shop]:
    async for shop in _open(tmp_path, "woocommerce", batch_size=50):
        yield shop


@pytest.fixture(name="shop", params=PLATFORMS)
async def _shop(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Shop]:
    async for shop in _open(tmp_path, request.param, batch_size=50):
        yield shop


@pytest.fixture(name="paged", params=PLATFORMS)
async def _paged(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Shop]:
    async for shop in _open(tmp_path, request.param, batch_size=1):
        yield shop


def _both_named(event: RecordFailed, first: str, second: str) -> bool:
    return repr(first) in event.message and repr(second) in event.message


class TestAcrossRuns:
    @pytest.mark.parametrize("twin", ["A-01 ", "a-01", "Á-01"])
    @pytest.mark.parametrize("trigger", [Trigger.MANUAL, Trigger.SCHEDULED])
    async def test_a_later_twin_does_not_overwrite(
        self, shop: Shop, twin: str, trigger: Trigger
    ) -> None:
        """A twin of a landed number added to the ERP later fails on
        ``number`` naming both numbers; so does the landed one: the shop
        keeps the product as it was, under its own name."""
        shop.erp.add(_art("A-01", "Hammer"))
        assert [] == await shop.failed(trigger=trigger)
        shop.clock.now += timedelta(hours=1)
        shop.erp.add(_art(twin, "Twin"))

        failed = await shop.failed(trigger=trigger)

        assert [("A-01", "number"), (twin, "number")] == [
            (e.number, e.field) for e in failed
        ]
        assert all(_both_named(e, "A-01", twin) for e in failed)
        assert [("A-01", "Hammer")] == shop.names()
        ledger = await shop.sync.store.list_failures("shop", DataType.ARTICLES)
        assert {"A-01", twin} == {f.number for f in ledger}

    async def test_an_only_run_of_the_twin_does_not_overwrite(
        self, shop: Shop
    ) -> None:
        """Syncing just the newcomer (``Only``) fails it naming the landed
        number; the shop keeps the landed product."""
        shop.erp.add(_art("A-01", "Hammer"))
        assert [] == await shop.failed()
        shop.erp.add(_art("A-01 ", "Twin"))

        failed = await shop.failed(
            SyncSpec(
                platform="shop", types={DataType.ARTICLES: Only(["A-01 "])}
            )
        )

        assert "A-01 " in [e.number for e in failed]
        assert all(_both_named(e, "A-01", "A-01 ") for e in failed)
        assert [("A-01", "Hammer")] == shop.names()

    async def test_the_plan_shows_both(self, shop: Shop) -> None:
        """plan() of the newcomer alone lists it and its landed twin as
        invalid, as the run fails them, and nothing to create."""
        shop.erp.add(_art("A-01", "Hammer"))
        assert [] == await shop.failed()
        shop.erp.add(_art("a-01", "Twin"))

        plan = await shop.sync.plan(
            SyncSpec(
                platform="shop", types={DataType.ARTICLES: Only(["a-01"])}
            )
        )
        found = plan.types[DataType.ARTICLES]

        assert () == found.create
        assert [("A-01", "number"), ("a-01", "number")] == sorted(
            (r.number, r.field) for r in found.invalid
        )
        assert all(
            "'a-01' and 'A-01'" in r.reason or "'A-01' and 'a-01'" in r.reason
            for r in found.invalid
        ), found.invalid

    async def test_a_twin_of_a_number_gone_from_the_erp_lands(
        self, woo: Shop
    ) -> None:
        """Once the landed number is gone from the ERP (respelt), its
        twin is no rival: it lands (WooCommerce keeps the product, found
        by its SKU; Shopware refuses a second product numbered alike)."""
        shop = woo
        shop.erp.add(_art("A-01", "Hammer"))
        assert [] == await shop.failed()
        shop.erp.remove(DataType.ARTICLES, "A-01")
        shop.erp.add(_art("A-01 ", "Hammer 2"))

        assert [] == await shop.failed(trigger=Trigger.SCHEDULED)
        assert [("A-01", "Hammer 2")] == shop.names()


class TestOneRun:
    @pytest.mark.parametrize("twin", ["A-01 ", "a-01"])
    async def test_twins_in_other_batches_both_fail(
        self, paged: Shop, twin: str
    ) -> None:
        """Twins read in different batches of one run both fail on
        ``number``, naming both numbers, as exact duplicates do; the one
        sent first does not count as in sync."""
        paged.erp.add(_art("A-01", "Hammer"))
        paged.erp.add(_art("B-01", "Between"))
        paged.erp.add(_art(twin, "Twin"))

        failed = await paged.failed()

        assert [("A-01", "number"), (twin, "number")] == [
            (e.number, e.field) for e in failed
        ]
        assert all(_both_named(e, "A-01", twin) for e in failed)
        links = await paged.sync.store.get_links(
            "shop", DataType.ARTICLES, ["A-01", twin]
        )
        assert all("" == link.checksum for link in links.values())
        assert "Twin" not in [name for _, name in paged.names()]

    async def test_twin_stock_levels_both_fail(self, shop: Shop) -> None:
        """Two stock levels whose numbers are one SKU to the shop both
        fail: neither takes the product's stock in turns."""
        shop.erp.add(_art("A-01", "Hammer"))
        assert [] == await shop.failed()
        shop.erp.add(StockLevel(number="A-01", quantity=5))  # type: ignore[arg-type]
        shop.erp.add(StockLevel(number="A-01 ", quantity=7))  # type: ignore[arg-type]

        failed = await shop.failed(STOCK)

        assert [("A-01", "number"), ("A-01 ", "number")] == [
            (e.number, e.field) for e in failed
        ]
        assert all(_both_named(e, "A-01", "A-01 ") for e in failed)


class TestVariants:
    @pytest.mark.parametrize("twin", ["V-01-S ", "v-01-s"])
    async def test_a_later_twin_of_a_variant(
        self, shop: Shop, twin: str
    ) -> None:
        """An article numbered as a landed variant's twin fails with that
        variant's article, naming both numbers."""
        shop.erp.add(
            Article(  # type: ignore[arg-type]
                number="V-01",
                name="Shirt",
                price=1,
                variants=[
                    Variant(number="V-01-S", options=(("Size", "S"),)),
                    Variant(number="V-01-M", options=(("Size", "M"),)),
                ],
            )
        )
        assert [] == await shop.failed(trigger=Trigger.SCHEDULED)
        before = shop.names()
        shop.clock.now += timedelta(hours=1)
        shop.erp.add(_art(twin, "Twin"))

        failed = await shop.failed(trigger=Trigger.SCHEDULED)

        assert [("V-01", "variants.0.number"), (twin, "number")] == [
            (e.number, e.field) for e in failed
        ]
        assert before == shop.names()

    @pytest.mark.parametrize("twin", ["X-01 ", "x-01"])
    @pytest.mark.parametrize("trigger", [Trigger.MANUAL, Trigger.SCHEDULED])
    async def test_a_variant_added_to_a_linked_article(
        self, shop: Shop, twin: str, trigger: Trigger
    ) -> None:
        """A variant added to an article that landed already, numbered as
        the twin of another article's landed variant, fails both articles
        naming both numbers; the shop keeps both products as they were."""
        shop.erp.put(_shirt("P-01", "X-01"))
        shop.erp.put(_shirt("Q-01", "Q-01-S"))
        assert [] == await shop.failed(trigger=trigger)
        before = shop.names()
        shop.clock.now += timedelta(hours=1)
        shop.erp.put(_shirt("Q-01", "Q-01-S", twin))

        failed = await shop.failed(trigger=trigger)

        assert [
            ("P-01", "variants.0.number"),
            ("Q-01", "variants.1.number"),
        ] == [(e.number, e.field) for e in failed]
        assert all(_both_named(e, "X-01", twin) for e in failed)
        assert before == shop.names()


def _shirt(number: str, *variants: str) -> Article:
    return Article(  # type: ignore[arg-type]
        number=number,
        name=f"Shirt {number}",
        price=1,
        variants=[
            Variant(number=v, options=(("Size", str(i)),))
            for i, v in enumerate(variants)
        ],
    )


class Gate(httpx.AsyncBaseTransport):
    """A transport that holds the first product write until released."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if (
            request.method == "POST"
            and request.url.path.endswith("/products/batch")
            and not self.entered.is_set()
        ):
            self.entered.set()
            await self.release.wait()
        return await self.inner.handle_async_request(request)


def _woocommerce(
    emu: WooCommerceEmulator, transport: httpx.AsyncBaseTransport
) -> WooCommerce:
    return WooCommerce(
        "https://shop.test",
        KEY,
        SECRET,
        wp_user="sync",
        wp_application_password=APP,
        transport=transport,
    )


@attrs.define
class SideBySide:
    """Two processes' synchronisers on one store file, ERP and shop;
    the first one's product writes wait at a gate."""

    first: Synchronizer
    second: Synchronizer
    gate: Gate
    erp: MemoryErp
    emu: WooCommerceEmulator

    def names(self) -> list[tuple[str, str]]:
        rows = self.emu.shop.products.values()
        return sorted((p["sku"], p["name"]) for p in rows)


@pytest.fixture(name="side")
async def _side(tmp_path: Path) -> AsyncIterator[SideBySide]:
    emu = WooCommerceEmulator(
        KEY, SECRET, wp_user="sync", wp_application_password=APP
    )
    gate = Gate(httpx.ASGITransport(app=emu.app))
    erp = MemoryErp(clock=Clock())
    syncs = [
        Synchronizer(
            erp=erp,
            platforms={"shop": _woocommerce(emu, transport)},
            store=SqliteStore(tmp_path / "state.db"),
            staging=MediaStaging(tmp_path / f"staging-{i}"),
            batch_size=50,
        )
        for i, transport in enumerate([gate, httpx.ASGITransport(app=emu.app)])
    ]
    yield SideBySide(syncs[0], syncs[1], gate, erp, emu)
    for sync in syncs:
        await sync.platforms["shop"].aclose()
        await sync.store.aclose()


def _only(*numbers: str) -> SyncSpec:
    return SyncSpec(
        platform="shop", types={DataType.ARTICLES: Only(list(numbers))}
    )


async def _failed(sync: Synchronizer, spec: SyncSpec) -> list[RecordFailed]:
    async with capture_events(sync, spec) as run:
        return sorted(run.of(RecordFailed), key=lambda e: e.number)


class TestSideBySide:
    async def test_twins_landed_by_two_runs_at_once(
        self, side: SideBySide
    ) -> None:
        """Two runs side by side, each with one spelling of one SKU new
        to the store: the run that claims it second fails both, naming
        both; the other lands. The shop holds one product, not one
        overwritten by the other, and one link names it."""
        side.erp.add(_art("A-01", "Hammer"))
        side.erp.add(_art("A-01 ", "Twin"))
        first: list[RecordFailed] = []

        async def run_first() -> None:
            first.extend(await _failed(side.first, _only("A-01")))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_first)
            # The first run's product write waits until the second run
            # went through: the second plans "A-01 " meanwhile.
            await side.gate.entered.wait()
            second = await _failed(side.second, _only("A-01 "))
            side.gate.release.set()

        store = side.first.store
        links = await store.get_links(
            "shop", DataType.ARTICLES, ["A-01", "A-01 "]
        )
        assert ["A-01"] == sorted(links)
        assert [("A-01", "Hammer")] == side.names()
        assert [] == first
        assert [("A-01", "number"), ("A-01 ", "number")] == [
            (e.number, e.field) for e in second
        ]
        assert all(_both_named(e, "A-01", "A-01 ") for e in second)
        ledger = await store.list_failures("shop", DataType.ARTICLES)
        assert ["A-01 "] == [f.number for f in ledger]

    async def test_a_claim_whose_number_the_erp_respelt_is_taken_over(
        self, woo: Shop
    ) -> None:
        """A claim left by a run that never wrote its number (killed),
        which the ERP has respelt since, blocks nothing: the new spelling
        takes it over and lands."""
        store = woo.sync.store
        assert isinstance(store, IdentityClaims)
        key = _identity(woo, "A-01")
        await store.claim_numbers(
            "shop", DataType.ARTICLES, [_claim(key, "A-01", "killed")]
        )
        woo.erp.add(_art("A-01 ", "Hammer 2"))

        assert [] == await woo.failed(trigger=Trigger.SCHEDULED)
        assert [("A-01", "Hammer 2")] == woo.names()
        again = _claim(key, "A-01 ", "later")
        assert [] == await store.claim_numbers(
            "shop", DataType.ARTICLES, [again]
        )

    async def test_a_claim_whose_number_the_erp_still_has_fails_both(
        self, woo: Shop
    ) -> None:
        """A claim left by a run that never wrote its number, which the
        ERP still holds beside a twin: a run of the twin fails both,
        naming both, and writes nothing."""
        store = woo.sync.store
        assert isinstance(store, IdentityClaims)
        await store.claim_numbers(
            "shop",
            DataType.ARTICLES,
            [_claim(_identity(woo, "A-01"), "A-01", "killed")],
        )
        woo.erp.add(_art("A-01", "Hammer"))
        woo.erp.add(_art("A-01 ", "Twin"))

        failed = await woo.failed(_only("A-01 "))

        assert [("A-01", "number"), ("A-01 ", "number")] == [
            (e.number, e.field) for e in failed
        ]
        assert all(_both_named(e, "A-01", "A-01 ") for e in failed)
        assert [] == woo.names()

    async def test_the_plan_sees_a_claim_whose_number_the_erp_still_has(
        self, woo: Shop
    ) -> None:
        """plan() of a twin whose identity an earlier run claimed, the
        ERP still holding that spelling, lists both invalid as the run
        fails them, creates nothing, and claims nothing itself."""
        store = woo.sync.store
        assert isinstance(store, IdentityClaims)
        key = _identity(woo, "A-01")
        await store.claim_numbers(
            "shop", DataType.ARTICLES, [_claim(key, "A-01", "killed")]
        )
        woo.erp.add(_art("A-01", "Hammer"))
        woo.erp.add(_art("A-01 ", "Twin"))

        plan = await woo.sync.plan(_only("A-01 "))
        found = plan.types[DataType.ARTICLES]

        assert () == found.create
        assert [("A-01", "number"), ("A-01 ", "number")] == sorted(
            (r.number, r.field) for r in found.invalid
        )
        assert [("A-01", "killed")] == [
            (c.number, c.run_id)
            for c in await store.claim_numbers(
                "shop", DataType.ARTICLES, [_claim(key, "A-01 ", "probe")]
            )
        ]
        failed = await woo.failed(_only("A-01 "))
        assert [("A-01", "number"), ("A-01 ", "number")] == [
            (e.number, e.field) for e in failed
        ]

    async def test_the_plan_of_a_respelt_claim_creates_the_newcomer(
        self, woo: Shop
    ) -> None:
        """plan() of a number whose identity an earlier run claimed under
        a spelling the ERP no longer has plans its create, as the run
        takes the claim over."""
        store = woo.sync.store
        assert isinstance(store, IdentityClaims)
        await store.claim_numbers(
            "shop",
            DataType.ARTICLES,
            [_claim(_identity(woo, "A-01"), "A-01", "killed")],
        )
        woo.erp.add(_art("A-01 ", "Hammer 2"))

        plan = await woo.sync.plan(_only("A-01 "))
        found = plan.types[DataType.ARTICLES]

        assert ("A-01 ",) == found.create
        assert () == found.invalid


def _identity(shop: Shop, number: str) -> str:
    """The shop's identity of an article's number."""
    platform = shop.sync.platforms["shop"]
    assert isinstance(platform, WooCommerce)
    return platform.number_identity(DataType.ARTICLES, number)


def _claim(identity: str, number: str, run_id: str) -> NumberClaim:
    return NumberClaim(
        identity=identity, number=number, holder=number, run_id=run_id
    )
