"""
How the demo shows itself: the run reports it collects and its two
views, plain lines or rich tables.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import (
    AbstractContextManager,
    contextmanager,
)
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

import attrs

from ..._contracts import RunRecord, TypeCounts
from ..._planning import Plan
from ..._spec import (
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    Selection,
)
from ...events import (
    Event,
    Progress,
    RecordFailed,
    TypeFinished,
    TypeStarted,
)


if TYPE_CHECKING:
    from rich.console import Console


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
