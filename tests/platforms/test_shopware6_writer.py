"""
The Shopware 6 writer on its own, against a fake Sync endpoint: errors
with and without pointers, narrowing down, the request bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import pytest

from ecomsync import Category, DataType, Outgoing, StockLevel
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._client import (
    AdminApi,
    ApiProblem,
    ShopwareApiError,
)
from ecomsync.platforms.shopware6._writer import (
    Built,
    Writer,
    first_problem,
    op,
)


pytestmark = pytest.mark.anyio

KEY = "ecomsync-things"

#: Given the item indexes of one request: the problems it is refused
#: with, or None if it lands.
Judge = Callable[[list[int]], list[ApiProblem] | None]


class FakeApi:
    """
    A Sync endpoint: *judge* decides per request; landed items are kept.
    """

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.requests: list[list[int]] = []
        self.landed: list[int] = []

    async def sync(self, operations: Sequence[Mapping[str, Any]]) -> None:
        items = [int(row["item"]) for row in operations[0]["payload"]]
        self.requests.append(items)
        problems = self.judge(items)
        if problems is not None:
            raise ShopwareApiError("POST /api/_action/sync", 400, problems)
        self.landed += items


def _build(chunk: Sequence[int]) -> Built:
    rows = [{"item": i} for i in chunk]
    return [op(KEY, "thing", rows)], {KEY: list(chunk)}


async def _write(
    judge: Judge, count: int, **kwargs: Any
) -> tuple[dict[int, tuple[str, str | None]], FakeApi]:
    api = FakeApi(judge)
    writer = Writer(cast(AdminApi, api))
    failures = await writer.write(count, _build, **kwargs)
    return failures, api


def _database_error(bad: set[int]) -> Judge:
    def judge(items: list[int]) -> list[ApiProblem] | None:
        if bad & set(items):
            return [ApiProblem("400", "", "a foreign key constraint fails")]
        return None

    return judge


class TestWriter:
    async def test_pointer_blames_the_row(self) -> None:
        """
        A pointer names the row: its item fails, the rest is sent again.
        """

        def judge(items: list[int]) -> list[ApiProblem] | None:
            if 4 in items:
                at = items.index(4)
                return [ApiProblem("400", "X", "bad", f"/{KEY}/{at}/name")]
            return None

        failures, api = await _write(judge, 10)

        assert {4: ("bad", "name")} == failures
        assert 2 == len(api.requests)
        assert sorted(api.landed) == [i for i in range(10) if i != 4]

    @pytest.mark.parametrize("count", [2, 3, 10, 100, 257])
    async def test_bound_without_pointer(self, count: int) -> None:
        """
        One offender that no error names costs at most ceil(log2 n) + 1
        requests beyond the first, wherever it sits.
        """
        for bad in range(count):
            failures, api = await _write(_database_error({bad}), count)

            assert [bad] == list(failures)
            assert len(api.requests) - 1 <= math.ceil(math.log2(count)) + 1
            assert sorted(api.landed) == [i for i in range(count) if i != bad]

    async def test_single_item_without_pointer(self) -> None:
        """
        A batch of one refused without pointer fails that item with the
        message.
        """
        failures, _ = await _write(_database_error({0}), 1)

        assert {0: ("a foreign key constraint fails", None)} == failures

    async def test_pointer_found_while_narrowing(self) -> None:
        """
        An error that names its row only in a small request (a database
        error in a big one) is used as soon as it appears.
        """

        def judge(items: list[int]) -> list[ApiProblem] | None:
            if 6 not in items:
                return None
            if len(items) > 3:
                return [ApiProblem("400", "", "database error")]
            at = items.index(6)
            return [ApiProblem("400", "X", "bad name", f"/{KEY}/{at}/name")]

        failures, api = await _write(judge, 16)

        assert {6: ("bad name", "name")} == failures
        assert sorted(api.landed) == [i for i in range(16) if i != 6]

    async def test_duplicate_number_blamed_by_number(self) -> None:
        """
        Shopware's duplicate product number has no pointer but names the
        number: the item that sent it fails, found in one request.
        """

        def judge(items: list[int]) -> list[ApiProblem] | None:
            if 7 in items:
                return [
                    ApiProblem(
                        "400",
                        "CONTENT__DUPLICATE_PRODUCT_NUMBER",
                        'Product with number "X-7" already exists.',
                        parameters={"number": "X-7"},
                    )
                ]
            return None

        numbers = {f"x-{i}": (i, "number") for i in range(20)}
        failures, api = await _write(
            judge, 20, numbers=numbers, collate=str.casefold
        )

        assert [7] == list(failures)
        assert "'X-7' is already used by another product" in failures[7][0]
        assert 2 == len(api.requests)

    async def test_two_offenders(self) -> None:
        """
        Several offenders without pointers all fail, nothing else does.
        """
        failures, api = await _write(_database_error({0, 5, 17, 18}), 20)

        assert [0, 5, 17, 18] == sorted(failures)
        assert sorted(api.landed) == [
            i for i in range(20) if i not in (0, 5, 17, 18)
        ]

    def test_first_problem_without_problems(self) -> None:
        """
        An error without entries still gives a message.
        """
        exc = ShopwareApiError("POST /x", 400, [])

        assert ("POST /x: HTTP 400: no detail", None) == first_problem(exc)


class TestWrongType:
    @pytest.mark.parametrize(
        "data_type", [DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK]
    )
    async def test_every_item_fails(self, data_type: DataType) -> None:
        """
        A batch of the wrong record type fails item by item, no request.
        """
        shop = Shopware6("http://shop.test", "SWIA", "s")
        record = (
            StockLevel(number="A-1", quantity=1)
            if data_type is not DataType.STOCK
            else Category(number="K-1", name="K")
        )

        (outcome,) = await shop.push(data_type, [Outgoing(record=record)])
        await shop.aclose()

        assert outcome.error is not None
        assert outcome.error.startswith("expected a ")
