"""
Twins side by side (`ecomsync._identity_claims`): what a batch claims,
what it costs, and what it reads from the ERP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from ecomsync import Article, DataType, Link, NumberClaim, Only, Variant
from ecomsync._ambiguity import NumberClaims
from ecomsync._identity_claims import Claiming
from ecomsync._pipeline_types import Read
from ecomsync._spec import Selection


pytestmark = pytest.mark.anyio


class Casefolding:
    """A platform comparing numbers ignoring case."""

    def number_identity(self, data_type: DataType, number: str) -> str:
        return number.casefold()


class Store:
    """The `IdentityClaims` role over a dict, counting its calls."""

    def __init__(self) -> None:
        self.held: dict[str, NumberClaim] = {}
        self.calls: list[list[NumberClaim]] = []

    async def claim_numbers(
        self,
        platform: str,
        data_type: DataType,
        claims: Sequence[NumberClaim],
        *,
        seen: Sequence[NumberClaim] = (),
    ) -> list[NumberClaim]:
        self.calls.append(list(claims))
        was = {c.identity: c for c in seen}
        for claim in claims:
            now = self.held.get(claim.identity)
            if now is None or now == was.get(claim.identity):
                self.held[claim.identity] = claim
        return [
            self.held[c.identity]
            for c in claims
            if self.held[c.identity].number != c.number
        ]


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


def _art(number: str, *variants: str) -> Article:
    return Article(  # type: ignore[arg-type]
        number=number,
        name=number,
        price=1,
        variants=[
            Variant(number=v, options=(("Size", str(i)),))
            for i, v in enumerate(variants)
        ],
    )


def claiming(store: Store, run_id: str = "run-1") -> Claiming:
    found = Claiming.of(
        Casefolding(),  # type: ignore[arg-type]
        "shop",
        store,  # type: ignore[arg-type]
        DataType.ARTICLES,
        run_id,
    )
    assert found is not None
    return found


async def test_a_batch_of_linked_numbers_claims_nothing() -> None:
    """Records the store links with all their variants cost no call."""
    store, reads = Store(), []
    batch = [_art("A-1", "A-1-S"), _art("B-1")]
    links = {
        "A-1": Link("1", "c", variants=("A-1-S",)),
        "B-1": Link("2", "c", variants=()),
    }

    taken, rivals = await claiming(store).take(
        None,  # type: ignore[arg-type]
        reader({}, reads),
        batch,
        links,
        NumberClaims(str.casefold),
        [],
    )

    assert ([], [], []) == (store.calls, rivals, reads)
    assert {} == taken.mine


async def test_new_numbers_claim_in_one_call() -> None:
    """A batch's new numbers (an article's own, a variant its link does
    not list) are claimed in one call, by identity; nothing is read."""
    store, reads = Store(), []
    batch = [_art("A-1", "A-1-S", "A-1-M"), _art("B-1"), _art("C-1")]
    links = {
        "A-1": Link("1", "c", variants=("A-1-S",)),
        "C-1": Link("3", "c"),
    }

    taken, rivals = await claiming(store).take(
        None,  # type: ignore[arg-type]
        reader({}, reads),
        batch,
        links,
        NumberClaims(str.casefold),
        [],
    )

    assert 1 == len(store.calls)
    assert {"a-1-m": "A-1", "b-1": "B-1"} == {
        c.identity: c.holder for c in store.calls[0]
    }
    assert ([], []) == (rivals, reads)
    assert () == tuple(taken.held)


async def test_a_spelling_held_by_another_run_reads_its_holder() -> None:
    """An identity held under another spelling reads the record carrying
    it (a variant's article) from the ERP, to be claimed with the batch;
    one held by a record of the batch is not read again."""
    store, reads = Store(), []
    other = claiming(store, "run-0")
    await other.take(
        None,  # type: ignore[arg-type]
        reader({}, []),
        [_art("P-1", "X-1"), _art("R-1", "R-1-S")],
        {},
        NumberClaims(str.casefold),
        [],
    )
    erp = {"R-1": _art("R-1", "R-1-S")}

    taken, rivals = await claiming(store).take(
        None,  # type: ignore[arg-type]
        reader(erp, reads),
        [_art("x-1"), _art("P-1", "Y-1"), _art("r-1-s")],
        {},
        NumberClaims(str.casefold),
        [],
    )

    assert [Only(["R-1"])] == reads
    assert [erp["R-1"]] == rivals
    assert ["R-1-S", "X-1"] == sorted(c.number for c in taken.held)


async def test_a_held_spelling_no_rival_is_taken_over() -> None:
    """A newcomer that goes on (its rival is gone) takes the claim over;
    one whose claim another run took meanwhile fails, naming it."""
    store = Store()
    await claiming(store, "run-0").take(
        None,  # type: ignore[arg-type]
        reader({}, []),
        [_art("A-1"), _art("B-1")],
        {},
        NumberClaims(str.casefold),
        [],
    )
    mine = claiming(store)
    batch = [_art("a-1"), _art("b-1")]
    taken, rivals = await mine.take(
        None,  # type: ignore[arg-type]
        reader({}, []),
        batch,
        {},
        NumberClaims(str.casefold),
        [],
    )
    assert [] == rivals
    # Another run takes b-1's identity over meanwhile.
    store.held["b-1"] = NumberClaim(
        identity="b-1", number="B-1 ", holder="B-1 ", run_id="run-2"
    )

    lost = await mine.settle(taken, batch)

    assert "a-1" == store.held["a-1"].number
    assert ["b-1"] == list(lost)
    assert "run run-2 claimed 'B-1 '" in lost["b-1"]


@pytest.mark.parametrize(
    ("platform", "store", "data_type"),
    [
        (Casefolding(), object(), DataType.ARTICLES),
        (object(), Store(), DataType.ARTICLES),
        (Casefolding(), Store(), DataType.STOCK),
    ],
)
def test_who_claims(
    platform: object, store: object, data_type: DataType
) -> None:
    """No claims without the store role (today's behaviour), for a
    platform comparing numbers exactly, or for stock."""
    assert (
        Claiming.of(
            platform,  # type: ignore[arg-type]
            "shop",
            store,  # type: ignore[arg-type]
            data_type,
            "run-1",
        )
        is None
    )
