"""
Never executed: mypy --strict checks that the public API reads well from
a user's side.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import ecomsync
from ecomsync import (
    All,
    ChangedSince,
    DataType,
    LocalLicensePool,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    NumberRange,
    Only,
    Progress,
    RecordFailed,
    RunRecord,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.telemetry import NoInstrumentation, OpenTelemetry
from ecomsync.testing import ErpSourceContract
from ecomsync.typing import (
    ErpSource,
    Instrumentation,
    LicensePool,
    Platform,
    StateStore,
)


erp: ErpSource = MemoryErp()
platform: Platform = MemoryPlatform()
store: StateStore = SqliteStore("ecomsync.db")
licenses: LicensePool = LocalLicensePool(2)

sync = Synchronizer(
    erp=erp,
    platforms={"shop-de": platform},
    store=store,
    licenses=licenses,
    staging=MediaStaging("/var/tmp/ecomsync", max_bytes=2 * 2**30),
)
instrumentation: Instrumentation = OpenTelemetry()
observed = Synchronizer(
    erp=erp, platforms={"shop-de": platform}, instrumentation=instrumentation
)
quiet: Instrumentation = NoInstrumentation()
spec = SyncSpec(
    platform="shop-de",
    types={
        DataType.ARTICLES: NumberRange("A-1000", "A-1999"),
        DataType.STOCK: ChangedSince(datetime(2026, 11, 1, tzinfo=UTC)),
        DataType.CATEGORIES: Only({"C-1"}),
        DataType.ORDER_STATUS: All(),
    },
)


async def use() -> RunRecord | None:
    async with sync.run(spec) as events:
        async for event in events:
            if isinstance(event, Progress):
                done: int = event.done
                total: int | None = event.total
                print(done, total)
            elif isinstance(event, RecordFailed):
                print(event.number, event.field, event.message)
    await sync.add_schedule(spec, every=timedelta(minutes=15))
    record: RunRecord = await sync.execute(spec, trigger=Trigger.SCHEDULED)
    runs: list[RunRecord] = await sync.runs()
    await sync.cancel(runs[0].id)
    checked: ecomsync.CheckResult = await sync.check("shop-de")
    problems: tuple[str, ...] = checked.problems
    ready: bool = checked.ok
    print(problems, ready)
    version: str = ecomsync.__version__
    print(record, version)
    return events.summary


def dirty() -> None:
    from ecomsync.testing import DirtyCatalogue, Trap, dirty_catalogue

    catalogue: DirtyCatalogue = dirty_catalogue(
        numbers_fold=False, name_limit=None, allow_backorders=True
    )
    traps: list[Trap] = catalogue.of(DataType.ARTICLES)
    fails_on: str | None = traps[0].fails_on
    source: MemoryErp = catalogue.erp()
    source.add(traps[0].record)
    shop = MemoryPlatform(allow_backorders=True)
    try:
        ecomsync.Article(number="A-1", name="x", price="abc")
    except ecomsync.InvalidRecord as exc:
        print(exc.record_type, exc.field, fails_on, shop)


async def shopware() -> None:
    from ecomsync.platforms.shopware6 import Shopware6
    from ecomsync.typing import (
        SupportsCheck,
        SupportsMediaOnPush,
        SupportsNumberIdentity,
        SupportsRequestEstimate,
    )

    shop = Shopware6(
        "https://shop.example",
        "SWIA",
        "secret",
        allow_backorders=True,
        http_pool="httpx",
        sole_writer=True,
    )
    problems: list[str] = await shop.check()
    checkable: SupportsCheck = shop
    estimating: SupportsRequestEstimate = shop
    with_media: SupportsMediaOnPush = shop
    comparing: SupportsNumberIdentity = shop
    same: str = comparing.number_identity(DataType.ARTICLES, "A-1 ")
    writes: int = estimating.estimate_requests(
        DataType.ARTICLES, writes=100, uploads=3, with_media=1
    )
    print(problems, checkable, with_media.media_on_push, writes, same)
    await shop.aclose()


async def lifecycle() -> None:
    from ecomsync.platforms.shopware6 import Shopware6
    from ecomsync.typing import SupportsAclose

    async with (
        Shopware6("https://shop.example", "SWIA", "secret") as shop,
        ecomsync.SqliteStore("ecomsync.db") as store,
        Synchronizer(
            erp=ecomsync.MemoryErp(),
            platforms={"shop": shop},
            store=store,
            owns=True,
        ) as sync,
    ):
        closable: SupportsAclose = sync
        closed: bool = sync.closed
        print(closable, closed, shop.closed)
    await sync.aclose()
    try:
        await sync.runs()
    except ecomsync.ResourceClosed as exc:
        print(exc)


def orders() -> None:
    from decimal import Decimal

    from ecomsync.platforms.woocommerce import WooCommerce

    address = ecomsync.Address(
        first_name="Erika",
        last_name="Muster",
        street="Hauptstr. 1",
        zip_code="10115",
        city="Berlin",
        country="DE",
    )
    order = ecomsync.Order(
        number="1001",
        customer=ecomsync.Customer(
            number="C-1", email="e@example.com", first_name="E", last_name="M"
        ),
        billing=address,
        shipping=address,
        lines=[
            ecomsync.OrderLine(
                article_number="A-1",
                name="Shirt",
                quantity=2,
                unit_price="11.90",
            )
        ],
        total="27.70",
        ordered_at=datetime(2026, 11, 1, tzinfo=UTC),
        shipping_total="4.90",
        discount_total="1.00",
    )
    money: Decimal = order.shipping_total - order.discount_total
    source = MemoryErp()
    state: ecomsync.OrderState = source.order_states.get(
        order.number, ecomsync.OrderState.OPEN
    )
    shop = WooCommerce(
        "https://shop.example",
        "ck",
        "cs",
        tax_classes={Decimal(19): "standard", Decimal(7): "reduced-rate"},
    )
    classes: Mapping[Decimal, str] = shop.tax_classes
    print(money, state, classes)


class MyErpContract(ErpSourceContract):
    async def imported_state(
        self, source: ErpSource, order_number: str
    ) -> ecomsync.OrderState:
        return ecomsync.OrderState.OPEN

    async def ship(self, source: ErpSource, order_number: str) -> None:
        return None


def stock_layout() -> None:
    from ecomsync.platforms.vendure import Vendure
    from ecomsync.typing import SupportsStockLayout

    shop = Vendure(
        "https://shop.example",
        username="admin",
        password="secret",
        stock_location="North",
    )
    laid_out: SupportsStockLayout = shop
    where: str = laid_out.stock_layout()
    print(where)


def stock_layouts() -> None:
    from ecomsync.platforms.shopify import Shopify
    from ecomsync.typing import StockLayouts, SupportsStockLayout

    shop = Shopify(
        "https://shop.example",
        "shpat_x",
        locations={"WH1": "Main warehouse"},
    )
    laid_out: SupportsStockLayout = shop
    store: StockLayouts = SqliteStore(":memory:")
    print(laid_out.stock_layout(), store)
