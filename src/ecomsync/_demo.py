"""
``python -m ecomsync demo``: a complete synchronisation in a few seconds.

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

import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

import attrs

from ._contracts import RunRecord, TypeCounts
from ._engine import Synchronizer
from ._model import Article, Order, StockLevel
from ._planning import Plan
from ._spec import (
    EXECUTION_ORDER,
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    Selection,
    SyncSpec,
    Trigger,
)
from .erp.memory import MemoryErp
from .events import (
    DependencySynced,
    Event,
    MediaUploaded,
    Progress,
    RecordFailed,
    RunFinished,
    RunStarted,
    TypeFinished,
    TypeStarted,
)
from .licensing import LocalLicensePool
from .media import MediaStaging
from .platforms.memory import MemoryPlatform
from .state import SqliteStore
from .testing._seed import demo_erp, shipped, shop_orders
from .typing import Platform


if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["SHOPS", "DemoResult", "run_demo"]

SHOP = "demo-shop"


def label(data_type: DataType) -> str:
    """
    How the demo names a data type: its value, as everywhere else (the
    command line, JSON, `Plan.table`).
    """
    return data_type.value


def describe(selection: Selection) -> str:
    """
    A selection in a few words.
    """
    if isinstance(selection, ChangedSince):
        return f"since {selection.moment.isoformat(timespec='seconds')}"
    if isinstance(selection, NumberRange):
        return f"{selection.first} … {selection.last}"
    if isinstance(selection, Only):
        return f"{len(selection.numbers)} chosen"
    return "all"


def plan_rows(plan: Plan) -> list[str]:
    """
    A plan as the demo shows it, with the names the run tables use and a
    line explaining every column.
    """
    head = (
        f"  {'type':<22}{'create':>8}{'update':>8}{'unchanged':>11}"
        f"{'invalid':>9}{'dependencies':>14}{'upload':>8}{'reuse':>7}"
        f"{'requests':>10}"
    )
    rows = [head]
    for t in plan.types.values():
        rows.append(
            f"  {label(t.data_type):<22}{len(t.create):>8}"
            f"{len(t.update):>8}{len(t.unchanged):>11}"
            f"{len(t.invalid):>9}{len(t.dependencies):>14}"
            f"{t.media_upload:>8}{t.media_reused:>7}{t.requests:>10}"
        )
    rows.append(
        "  (unchanged: skipped, same checksum as last sent; invalid: "
        "would fail validation; dependencies: categories synced first "
        "for articles; upload/reuse: media files sent / already in the "
        "shop; requests: estimated platform requests)"
    )
    return rows


# -- the shop ---------------------------------------------------------------


@attrs.define
class Shop:
    """
    The platform the demo syncs with, and how a customer orders there.
    """

    name: str
    title: str
    platform: Platform
    place_order: Callable[[Order], None]


#: The shops `open_shop` knows; ``auto`` is the first that can be built.
SHOPS = ("auto", "shopware6", "memory")


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

    from .platforms.shopware6 import Shopware6
    from .testing.shopware6 import ShopwareEmulator

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


# -- what the demo reports ---------------------------------------------------


@attrs.define
class TypeReport:
    """
    One data type of one run, as the demo saw it.
    """

    data_type: DataType
    selection: Selection
    total: int | None
    counts: TypeCounts = attrs.Factory(TypeCounts)
    seconds: float = 0.0
    media_uploaded: int = 0
    media_reused: int = 0
    dependencies: int = 0
    _started: float = attrs.field(factory=time.monotonic)

    def finish(self, counts: TypeCounts) -> None:
        self.counts = counts
        self.seconds = time.monotonic() - self._started


@attrs.define
class RunReport:
    """
    One run: its title, its types in order, and its final record.
    """

    title: str
    types: dict[DataType, TypeReport] = attrs.Factory(dict)
    record: RunRecord | None = None
    failures: list[RecordFailed] = attrs.Factory(list)
    seconds: float = 0.0


@attrs.frozen
class DemoResult:
    """
    What `run_demo` did: its runs, how long it took, where it worked.
    """

    runs: tuple[RunReport, ...]
    seconds: float
    directory: Path
    kept: bool


# -- views ------------------------------------------------------------------


class View(Protocol):
    def line(self, text: str = "") -> None: ...

    def heading(self, text: str) -> None: ...

    def live(
        self,
    ) -> AbstractContextManager[Callable[[Event, RunReport], None]]: ...

    def summary(self, report: RunReport) -> None: ...


def _rate(rate: float) -> str:
    return f"{rate:,.0f}/s"


def _rows(report: RunReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for t in report.types.values():
        c = t.counts
        media = "-"
        if t.media_uploaded or t.media_reused:
            media = f"{t.media_uploaded}+{t.media_reused}"
        rows.append(
            (
                label(t.data_type),
                describe(t.selection),
                str(c.created),
                str(c.updated),
                str(c.unchanged),
                str(c.failed),
                media,
                f"{t.seconds:.2f}",
            )
        )
    return rows


def _status(report: RunReport) -> str:
    record = report.record
    status = record.status.value if record is not None else "?"
    text = f"run {status} in {report.seconds:.2f} s"
    if any(t.media_uploaded or t.media_reused for t in report.types.values()):
        text += "; media = files uploaded + files the shop already had"
    return text


_COLUMNS = (
    "type",
    "selection",
    "created",
    "updated",
    "unchanged",
    "failed",
    "media",
    "s",
)


@attrs.define
class PlainView:
    """
    Plain lines, one per happening, progress at most once a second.
    """

    out: TextIO
    _last: dict[DataType, float] = attrs.Factory(dict)

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def heading(self, text: str) -> None:
        self.line()
        self.line(text)
        self.line("-" * len(text))

    @contextmanager
    def live(self) -> Iterator[Callable[[Event, RunReport], None]]:
        yield self._event

    def _event(self, event: Event, report: RunReport) -> None:
        if isinstance(event, TypeStarted):
            total = "?" if event.total is None else str(event.total)
            self.line(
                f"  {label(event.data_type):<19} started: "
                f"{describe(event.selection)}, {total} records"
            )
        elif isinstance(event, Progress):
            now = time.monotonic()
            if now - self._last.get(event.data_type, 0.0) < 1.0:
                return
            self._last[event.data_type] = now
            total = "?" if event.total is None else str(event.total)
            self.line(
                f"  {label(event.data_type):<19} {event.done}/{total} "
                f"({_rate(event.rate)})"
            )
        elif isinstance(event, TypeFinished):
            c = event.counts
            seconds = report.types[event.data_type].seconds
            self.line(
                f"  {label(event.data_type):<19} done: {c.created} created, "
                f"{c.updated} updated, {c.unchanged} unchanged, "
                f"{c.failed} failed ({seconds:.2f} s)"
            )

    def summary(self, report: RunReport) -> None:
        rows = [_COLUMNS, *_rows(report)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
        self.line()
        for row in rows:
            self.line(
                "  "
                + "  ".join(
                    cell.ljust(w) if i < 2 else cell.rjust(w)
                    for i, (cell, w) in enumerate(
                        zip(row, widths, strict=True)
                    )
                )
            )
        self.line(f"  {_status(report)}")
        for failed in report.failures[:5]:
            self.line(
                f"  failed: {label(failed.data_type)} {failed.number}: "
                f"{failed.message}"
            )


@attrs.define
class RichView:
    """
    A progress bar per data type and a table per run, with rich.
    """

    out: TextIO | None = None
    console: Console = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        from rich.console import Console

        self.console = Console(file=self.out)

    def line(self, text: str = "") -> None:
        self.console.print(text, highlight=False)

    def heading(self, text: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{text}", align="left")

    @contextmanager
    def live(self) -> Iterator[Callable[[Event, RunReport], None]]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import (
            Progress as Bars,
        )

        bars = Bars(
            TextColumn("  {task.description:<19}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9}"),
            TextColumn("eta {task.fields[eta]:>5}"),
            TimeElapsedColumn(),
            console=self.console,
            refresh_per_second=12,
        )
        tasks: dict[DataType, object] = {}

        def on_event(event: Event, report: RunReport) -> None:
            from rich.progress import TaskID

            if isinstance(event, TypeStarted):
                tasks[event.data_type] = bars.add_task(
                    label(event.data_type),
                    total=event.total,
                    rate="",
                    eta="",
                )
            elif isinstance(event, Progress) and event.data_type in tasks:
                task = tasks[event.data_type]
                assert isinstance(task, int)
                eta = "" if event.eta is None else f"{event.eta:.1f}s"
                bars.update(
                    TaskID(task),
                    completed=event.done,
                    rate=_rate(event.rate),
                    eta=eta,
                )
            elif isinstance(event, TypeFinished) and event.data_type in tasks:
                task = tasks[event.data_type]
                assert isinstance(task, int)
                done = event.counts.done
                bars.update(
                    TaskID(task), total=done, completed=done, eta="0.0s"
                )

        with bars:
            yield on_event

    def summary(self, report: RunReport) -> None:
        from rich.table import Table

        table = Table(
            box=None,
            padding=(0, 1),
            collapse_padding=True,
            header_style="bold underline",
        )
        for i, column in enumerate(_COLUMNS):
            table.add_column(
                column, justify="left" if i < 2 else "right", no_wrap=True
            )
        for row in _rows(report):
            table.add_row(*row)
        self.console.print(table)
        self.console.print(f"  {_status(report)}", highlight=False)
        for failed in report.failures[:5]:
            self.console.print(
                f"  [red]failed[/]: {label(failed.data_type)} "
                f"{failed.number}: {failed.message}",
                highlight=False,
            )


def choose_view(
    out: TextIO | None = None, *, fancy: bool | None = None
) -> View:
    """
    Rich on a terminal when rich is installed; plain lines otherwise.
    """
    stream = sys.stdout if out is None else out
    if fancy is None:
        fancy = stream.isatty()
    if fancy:
        try:
            import rich  # noqa: F401
        except ImportError:
            fancy = False
    if fancy:
        return RichView(out)
    return PlainView(stream)


# -- the demo ---------------------------------------------------------------


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
            try:
                view.heading(
                    "Preview: what run 1 would do (nothing is written yet)"
                )
                plan = await sync.plan(spec)
                for row in plan_rows(plan):
                    view.line(row)
                runs.append(
                    await _one_run(
                        view,
                        sync,
                        spec,
                        Trigger.MANUAL,
                        "Run 1: manual, all five types "
                        "(a manual run never moves a watermark)",
                    )
                )
                runs.append(
                    await _one_run(
                        view,
                        sync,
                        spec,
                        Trigger.SCHEDULED,
                        "Run 2: scheduled, no watermark yet, so all records "
                        "are read; unchanged ones are skipped",
                    )
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
                runs.append(
                    await _one_run(
                        view,
                        sync,
                        spec,
                        Trigger.SCHEDULED,
                        "Run 3: scheduled, reads only what changed since "
                        "the watermark",
                    )
                )
            finally:
                await store.aclose()
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
