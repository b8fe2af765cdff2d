"""
Twins across runs (`ecomsync._twins`): finding the landed twins of a
batch's new numbers leaves the event loop free and can be cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.from_thread
import pytest

from ecomsync import All, Article, DataType, NumberRange, Only, SyncSpec
from ecomsync._ambiguity import NumberClaims
from ecomsync._pipeline_types import Read
from ecomsync._spec import Selection
from ecomsync._twins import Twins
from ecomsync.state._board import Claim
from ecomsync.state._pg_partitions import PartitionStore


pytestmark = pytest.mark.anyio


class Store:
    """The `LinkedNumbers` role over a fixed catalogue of links."""

    def __init__(self, linked: dict[str, tuple[str, ...]]) -> None:
        self.linked = linked
        self.asked = 0

    async def linked_numbers(
        self, platform: str, data_type: DataType
    ) -> dict[str, tuple[str, ...]]:
        self.asked += 1
        return self.linked


def reader(
    erp: dict[str, Article], reads: list[Selection]
) -> Callable[[Any, DataType, Selection], Any]:
    """An ERP read of `Only` selections out of *erp*, noting each."""

    @asynccontextmanager
    async def read(
        session: Any, data_type: DataType, selection: Selection
    ) -> AsyncIterator[AsyncIterator[Read]]:
        reads.append(selection)
        assert isinstance(selection, Only)

        async def pages() -> AsyncIterator[Read]:
            yield [erp[n] for n in sorted(selection.numbers) if n in erp]

        yield pages()

    return read


LINKED = {f"A-{i:04d}": (f"A-{i:04d}-S",) for i in range(2000)}


def twins(store: Store, identity: Callable[[str], str]) -> Twins:
    return Twins(store, "shop", DataType.ARTICLES, identity)  # type: ignore[arg-type]


async def test_the_loop_runs_while_linked_numbers_are_compared() -> None:
    """Another task (progress, a heartbeat) runs while links are keyed."""
    delivered: list[str] = []
    blocked: list[str] = []

    async def progress() -> None:
        delivered.append("progress")

    def identity(number: str) -> str:
        if number == "A-1000" and not delivered:
            try:
                anyio.from_thread.run(progress)
            except RuntimeError:
                # Called on the event loop's own thread: it is blocked.
                blocked.append(number)
        return number.strip().casefold()

    reads: list[Selection] = []
    erp = {"A-1000": Article(number="A-1000", name="Landed", price=1)}
    store = Store(LINKED)
    found = await twins(store, identity).rivals(
        None,  # type: ignore[arg-type]
        reader(erp, reads),
        [Article(number="a-1000", name="Twin", price=1)],
        {},
        NumberClaims(identity),
    )
    assert blocked == []
    assert delivered == ["progress"]
    assert [r.number for r in found] == ["A-1000"]
    assert reads == [Only(["A-1000"])]


async def test_cancelled_while_linked_numbers_are_compared() -> None:
    """Cancelling the run stops it there, not after every link is keyed."""
    release = threading.Event()
    calls: list[str] = []
    with anyio.CancelScope() as scope:

        def identity(number: str) -> str:
            calls.append(number)
            if number == "A-1000":
                try:
                    anyio.from_thread.run_sync(scope.cancel)
                except RuntimeError:
                    return number  # the loop's own thread: cannot cancel
                # Held until the run saw its cancellation (a fail-safe
                # bound only: the run is cancelled long before).
                release.wait(60)
            return number.casefold()

        await twins(Store(LINKED), identity).rivals(
            None,  # type: ignore[arg-type]
            reader({}, []),
            [Article(number="NEW-1", name="New", price=1)],
            {},
            NumberClaims(identity),
        )
    seen = len(calls)
    release.set()
    assert scope.cancelled_caught
    assert seen < 2 * len(LINKED)


async def test_a_batch_without_twins_asks_the_store_once_per_run() -> None:
    """New numbers with no twin: one store read for the run, no ERP read."""
    reads: list[Selection] = []
    store = Store(LINKED)
    found = twins(store, str.casefold)
    for batch in range(3):
        got = await found.rivals(
            None,  # type: ignore[arg-type]
            reader({}, reads),
            [Article(number=f"NEW-{batch}", name="New", price=1)],
            {},
            NumberClaims(str.casefold),
        )
        assert got == []
    assert store.asked == 1
    assert reads == []


class Casefolding:
    """A platform comparing numbers ignoring case."""

    def number_identity(self, data_type: DataType, number: str) -> str:
        return number.casefold()


def partition_view(selection: Selection) -> PartitionStore:
    """The store a worker's run of one partition sees (not connected)."""
    spec = SyncSpec(platform="shop", types={DataType.ARTICLES: selection})
    claim = Claim(run_id="run", index=0, token=1, spec=spec, worker="w")
    return PartitionStore(None, claim)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selection", "store", "looks"),
    [
        # A partition of a partitioned run over a range: one sync cut
        # for workers side by side, which do not look per partition.
        (NumberRange("A", "B"), partition_view, False),
        (NumberRange("A", "B"), lambda s: Store({}), True),
        (Only(["A"]), partition_view, True),
        (All(), lambda s: Store({}), False),
    ],
)
def test_which_reads_look_for_landed_twins(
    selection: Selection, store: Callable[[Selection], Any], looks: bool
) -> None:
    """A partition of a range run loads no links; Only and ranges do."""
    found = Twins.of(
        Casefolding(),  # type: ignore[arg-type]
        "shop",
        store(selection),
        DataType.ARTICLES,
        selection,
    )
    assert (found is not None) is looks


async def test_a_number_landed_under_its_own_spelling_asks_once() -> None:
    """A variant moved to an article of its own, under the spelling it
    landed with, is no twin: no store re-read of every link, no ERP read."""
    reads: list[Selection] = []
    store = Store(LINKED)
    found = twins(store, str.casefold)
    for i in range(3):
        got = await found.rivals(
            None,  # type: ignore[arg-type]
            reader({}, reads),
            [Article(number=f"A-{i:04d}-S", name="Moved", price=1)],
            {},
            NumberClaims(str.casefold),
        )
        assert got == []
    assert store.asked == 1
    assert reads == []


async def test_a_twin_of_a_variant_reads_the_article_it_landed_with() -> None:
    """A new number spelt like a landed variant but for case reads the
    article that variant landed with, to fail both."""
    reads: list[Selection] = []
    erp = {"A-0007": Article(number="A-0007", name="Landed", price=1)}
    found = await twins(Store(LINKED), str.casefold).rivals(
        None,  # type: ignore[arg-type]
        reader(erp, reads),
        [
            Article(number="a-0007-s", name="Twin", price=1),
            Article(number="A-0008-S", name="Moved", price=1),
        ],
        {},
        NumberClaims(str.casefold),
    )
    assert [r.number for r in found] == ["A-0007"]
    assert reads == [Only(["A-0007"])]
