"""
``python -m ecomsync demo``: a complete synchronisation in a few seconds.

Built on the test kit, so it lives in it; the command line reaches it
through the plugin in ``_command.py`` (which also holds `SHOPS`, the
``--shop`` choices), which it finds by its entry point.

A seeded `MemoryErp` (articles with images in two formats, some with a
PDF data sheet, a category tree, stock, shipped order statuses) and a shop
holding incoming orders are synchronised in a temporary directory: first a
manual run of all five data types, then a scheduled run that skips every
unchanged record, then, after a few edits, a scheduled run that reads only
what changed since its watermark.  The directory is removed at the end
unless the caller keeps it.

The shop is chosen in `open_shop`: the `Shopware6` adapter against the
Shopware 6 emulator, in process through `httpx.ASGITransport` (extra
``testing``), with `MemoryPlatform` as the fallback.

Output goes through a small view: rich progress bars and tables on a
terminal (extra ``demo``), plain lines otherwise (pipes, CI, no rich).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    asynccontextmanager,
    contextmanager,
)
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import attrs

from ..._engine import Synchronizer
from ..._model import Article, Order, StockLevel
from ..._spec import (
    EXECUTION_ORDER,
    All,
    DataType,
    SyncSpec,
    Trigger,
)
from ...erp.memory import MemoryErp
from ...events import (
    DependencySynced,
    Event,
    MediaUploaded,
    RecordFailed,
    RunFinished,
    RunStarted,
    TypeFinished,
    TypeStarted,
)
from ...licensing import LocalLicensePool
from ...media import MediaStaging
from ...platforms.memory import MemoryPlatform
from ...state import SqliteStore
from ...typing import Platform
from .._seed import demo_erp, shipped, shop_orders
from ._command import SHOPS
from ._view import (
    DemoResult,
    RunReport,
    TypeReport,
    View,
    choose_view,
    plan_rows,
)


__all__ = ["SHOPS", "DemoResult", "open_shop", "run_demo"]


SHOP = "demo-shop"


@attrs.define
class Shop:
    """
    The platform the demo syncs with, and how a customer orders there.
    """

    name: str
    title: str
    platform: Platform
    place_order: Callable[[Order], None]


@asynccontextmanager
async def open_shop(kind: str = "auto") -> AsyncIterator[Shop]:
    """
    The demo's shop: this is the one place that picks the platform.

    ``shopware6`` is the `Shopware6` adapter talking to a
    `ShopwareEmulator` in process through `httpx.ASGITransport`; it needs
    the extra ``testing``.  ``memory`` is a `MemoryPlatform`.  ``auto``
    takes Shopware 6 when it can be built, the memory platform otherwise.
    """
    if kind not in SHOPS:
        raise ValueError(f"unknown shop {kind!r}; choose one of {SHOPS}")
    if kind != "memory":
        try:
            shop = _shopware6_shop()
        except ImportError:
            if kind == "shopware6":
                raise
        else:
            try:
                yield shop
            finally:
                await shop.platform.aclose()
            return
    platform = MemoryPlatform(batch_size=100)
    try:
        yield Shop(
            name=SHOP,
            title="MemoryPlatform (in process)",
            platform=platform,
            place_order=platform.place_order,
        )
    finally:
        await platform.aclose()


def _shopware6_shop() -> Shop:
    import httpx

    from ...platforms.shopware6 import Shopware6
    from ..shopware6 import ShopwareEmulator

    emulator = ShopwareEmulator(keep_media_bytes=False)
    platform = Shopware6(
        "http://shop.test",
        emulator.client_id,
        emulator.client_secret,
        transport=httpx.ASGITransport(app=emulator.app),
    )

    def place_order(order: Order) -> None:
        emulator.place(order)

    return Shop(
        name=SHOP,
        title="Shopware 6 adapter on the Shopware 6 emulator "
        "(in process, httpx.ASGITransport)",
        platform=platform,
        place_order=place_order,
    )


async def _one_run(
    view: View,
    sync: Synchronizer,
    spec: SyncSpec,
    trigger: Trigger,
    title: str,
) -> RunReport:
    report = RunReport(title)
    view.heading(title)
    started = time.monotonic()
    with view.live() as show:
        async with sync.run(spec, trigger=trigger) as events:
            async for event in events:
                _note(event, report)
                show(event, report)
        report.record = events.summary
    report.seconds = time.monotonic() - started
    view.summary(report)
    return report


def _note(event: Event, report: RunReport) -> None:
    if isinstance(event, TypeStarted):
        report.types[event.data_type] = TypeReport(
            event.data_type, event.selection, event.total
        )
    elif isinstance(event, TypeFinished):
        report.types[event.data_type].finish(event.counts)
    elif isinstance(event, MediaUploaded):
        t = report.types[event.data_type]
        if event.reused:
            t.media_reused += 1
        else:
            t.media_uploaded += 1
    elif isinstance(event, DependencySynced):
        report.types[DataType.ARTICLES].dependencies += 1
    elif isinstance(event, RecordFailed):
        report.failures.append(event)
    elif isinstance(event, RunStarted | RunFinished):
        pass


def _explain_reread_orders(view: View, report: RunReport) -> None:
    orders = report.types.get(DataType.ADDRESSES_AND_ORDERS)
    if orders is None or not orders.counts.updated:
        return
    view.line(
        f"  ({orders.counts.updated} orders changed in the shop since run 1: "
        "their shipped status was pushed there, so they were imported "
        "again; importing is idempotent by order number)"
    )


def _edit(erp: MemoryErp, articles: int) -> list[str]:
    """
    What a merchant changes between two scheduled runs.
    """
    changed = []
    for i in (1, 2, 3):
        number = f"A-{min(i * 7, articles):05d}"
        article = erp.get(DataType.ARTICLES, number)
        if isinstance(article, Article) and number not in changed:
            erp.put(attrs.evolve(article, price=article.price + Decimal(1)))
            erp.put(StockLevel(number=number, quantity=999))
            changed.append(number)
    return changed


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="ecomsync-demo-") as tmp:
            yield Path(tmp)
        return
    keep.mkdir(parents=True, exist_ok=True)
    if any(keep.iterdir()):
        raise FileExistsError(
            f"{keep} is not empty; --keep needs a new or empty directory"
        )
    yield keep


async def run_demo(
    *,
    articles: int = 2000,
    categories: int = 50,
    keep: Path | None = None,
    shop: str = "auto",
    out: TextIO | None = None,
    fancy: bool | None = None,
) -> DemoResult:
    """
    Run the demo and report on *out* (default: standard output).

    Args:
        articles: Articles in the seeded ERP.
        categories: Categories in its tree.
        keep: Work in this (new or empty) directory and leave it there;
            by default a temporary directory is used and removed.
        shop: Which shop to sync with, one of `SHOPS`: the Shopware 6
            emulator when the extra ``testing`` is installed (``auto``),
            else the in-memory platform.
        out: Where the report goes.
        fancy: Force rich output on or off (default: rich on a terminal).
    """
    if articles < 1 or categories < 1:
        raise ValueError("the demo needs at least one article and category")
    view = choose_view(out, fancy=fancy)
    started = time.monotonic()
    orders = list(shop_orders(max(20, articles // 20), articles=articles))
    erp = demo_erp(articles=articles, categories=categories)
    for i, order in enumerate(orders):
        if i % 3 == 0:
            erp.put(shipped(order, f"DHL-{order.number}"))
    runs: list[RunReport] = []
    with _workdir(keep) as directory:
        async with open_shop(shop) as target:
            for order in orders:
                target.place_order(order)
            store = SqliteStore(directory / "ecomsync.db")
            sync = Synchronizer(
                erp=erp,
                platforms={target.name: target.platform},
                store=store,
                licenses=LocalLicensePool(1),
                staging=MediaStaging(directory / "staging"),
                # For the demo: read again only what changed after the
                # previous scheduled run started (the default is 5 min).
                overlap=timedelta(0),
                progress_interval=0.1,
                # It made all of these: closing it closes them.
                owns=True,
            )
            view.line(
                f"ecomsync demo: {articles} articles (images in two formats, "
                f"every 10th with a PDF), {categories} categories, "
                f"{len(orders)} shop orders"
            )
            view.line(f"platform: {target.title}")
            view.line(f"working in {directory}")
            spec = SyncSpec(
                platform=target.name,
                types=dict.fromkeys(EXECUTION_ORDER, All()),
            )
            async with sync:
                view.heading(
                    "Preview: what run 1 would do (nothing is written yet)"
                )
                plan = await sync.plan(spec)
                for row in plan_rows(plan):
                    view.line(row)

                async def one_run(trigger: Trigger, title: str) -> None:
                    runs.append(
                        await _one_run(view, sync, spec, trigger, title)
                    )

                await one_run(
                    Trigger.MANUAL,
                    "Run 1: manual, all five types "
                    "(a manual run never moves a watermark)",
                )
                await one_run(
                    Trigger.SCHEDULED,
                    "Run 2: scheduled, no watermark yet, so all records "
                    "are read; unchanged ones are skipped",
                )
                _explain_reread_orders(view, runs[-1])
                changed = _edit(erp, articles)
                extra = attrs.evolve(
                    next(shop_orders(1, articles=articles, seed=1)),
                    number="19999",
                )
                target.place_order(extra)
                view.line()
                view.line(
                    f"meanwhile: price and stock of {', '.join(changed)} "
                    f"changed; order {extra.number} placed in the shop"
                )
                await one_run(
                    Trigger.SCHEDULED,
                    "Run 3: scheduled, reads only what changed since "
                    "the watermark",
                )
        seconds = time.monotonic() - started
        view.line()
        if keep is None:
            view.line(
                f"demo finished in {seconds:.1f} s; removing {directory}"
            )
        else:
            view.line(
                f"demo finished in {seconds:.1f} s; the state store is "
                f"kept in {directory / 'ecomsync.db'}"
            )
    return DemoResult(
        runs=tuple(runs),
        seconds=seconds,
        directory=directory,
        kept=keep is not None,
    )
