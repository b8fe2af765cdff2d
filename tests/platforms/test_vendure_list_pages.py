"""
The Vendure adapter's catalogue look-ups (facet values, variants by SKU,
collections) read every page by the last row read, without a server: a
row leaving the list between two pages hides no other, none is read
twice, and `Orders.by_code` reads every code asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from ecomsync.platforms.vendure import _order_looks, _pages
from ecomsync.platforms.vendure._catalog import Catalog
from ecomsync.platforms.vendure._categories import Categories
from ecomsync.platforms.vendure._client import GraphQL
from ecomsync.platforms.vendure._orders import Orders


pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
Rows = list[dict[str, Any]]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _row(rid: int, created: datetime, **fields: Any) -> dict[str, Any]:
    # PostgreSQL keeps microseconds (kept in "_at"); the API answers
    # milliseconds
    shown = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"id": str(rid), "_at": created, "createdAt": shown} | fields


class FakeLists:
    """
    The part of Vendure's list queries the adapter asks for: filters
    (``eq``, ``in``, ``notIn``, ``after``, ANDed) on the stored value,
    the sort by its keys in order, ``skip``/``take``, ``totalItems``.
    *between(n, rows)* runs after the n-th page is answered.
    """

    def __init__(
        self, root: str, rows: Rows, between: Callable[[int, Rows], None]
    ) -> None:
        self.root = root
        self.rows = rows
        self.between = between
        self.pages = 0
        self.takes: list[int] = []
        self.assigned: list[str] = []

    @staticmethod
    def _holds(row: dict[str, Any], field: str, ops: dict[str, Any]) -> bool:
        value = row["_at"] if field == "createdAt" else row.get(field)
        for op, arg in ops.items():
            if op == "eq" and value != arg:
                return False
            if op == "in" and value not in arg:
                return False
            if op == "notIn" and value in arg:
                return False
            if op == "after" and not value > _when(arg):
                return False
        return True

    def _options(self, variables: dict[str, Any]) -> dict[str, Any]:
        if "options" in variables:
            return dict(variables["options"])
        # the documents with the filter inline, by their variables
        where: dict[str, Any] = {}
        if "f" in variables:
            where["facetId"] = {"eq": variables["f"]}
        if "skus" in variables:
            where["sku"] = {"in": variables["skus"]}
        if "c" in variables:
            where["code"] = {"in": variables["c"]}
        if "ids" in variables:
            where["id"] = {"in": variables["ids"]}
        return {
            "filter": where,
            "sort": {"id": "ASC"},
            "skip": variables.get("skip", 0),
            # a take written in the document (take: 1000)
            "take": variables.get("take", 1000),
        }

    async def query(
        self,
        document: str,
        variables: dict[str, Any],
        *,
        channel: str | None = None,
    ) -> dict[str, Any]:
        assert f"{self.root}(" in document
        options = self._options(variables)
        rows = [
            r
            for r in self.rows
            if all(
                self._holds(r, f, ops)
                for f, ops in (options.get("filter") or {}).items()
            )
        ]
        for key in reversed(list(options.get("sort", {}))):
            rows.sort(
                key=lambda r, k=key: int(r["id"]) if k == "id" else r["_at"]
            )
        skip = options.get("skip", 0)
        self.takes.append(options["take"])
        items = rows[skip : skip + options["take"]]
        self.pages += 1
        self.between(self.pages, self.rows)
        return {self.root: {"totalItems": len(rows), "items": items}}

    async def request(
        self, document: str, variables: dict[str, Any], **_: Any
    ) -> tuple[dict[str, Any], list[Any]]:
        self.assigned.append(document)
        return {}, []


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pages, "TAKE", 3)


def _gone(rid: str) -> Callable[[int, Rows], None]:
    def between(page: int, rows: Rows) -> None:
        if page == 1:
            rows[:] = [r for r in rows if r["id"] != rid]

    return between


def _variants() -> Rows:
    return [
        _row(i, T0 + timedelta(minutes=i), sku=f"S{i}") for i in range(1, 11)
    ]


async def test_a_variant_gone_between_pages_hides_no_other() -> None:
    """A variant deleted after page 1 leaves every later SKU found."""
    shop = FakeLists("productVariants", _variants(), _gone("2"))
    catalog = Catalog(gql=cast(GraphQL, shop))
    found = await catalog.variants_by_sku([f"S{i}" for i in range(1, 11)])
    # on skip/take S4 was missing: the push made its variant again
    assert sorted(found, key=lambda s: int(s[1:])) == [
        f"S{i}" for i in range(1, 11)
    ]
    assert all(len(v) == 1 for v in found.values())


async def test_a_facet_value_gone_between_pages_hides_no_other() -> None:
    """A category value deleted after page 1 leaves every later one read."""
    values = [
        _row(i, T0 + timedelta(minutes=i), code=f"c{i}", name=f"C{i}")
        | {"facetId": "9"}
        for i in range(1, 8)
    ]
    values.append(_row(50, T0, code="other", name="O") | {"facetId": "8"})
    shop = FakeLists("facetValues", values, _gone("1"))
    catalog = Catalog(gql=cast(GraphQL, shop))
    # the facet is known: no facet look-up here
    catalog._facet_id = "9"
    found = await catalog.category_values()
    # on skip/take c4 was missing: the push created it a second time
    assert {f"c{i}" for i in range(2, 8)} <= set(found)
    assert "other" not in found


async def test_a_collection_gone_between_pages_hides_no_other() -> None:
    """A collection deleted after page 1 leaves every later one read."""

    def collection(i: int) -> dict[str, Any]:
        args = [{"name": "facetValueIds", "value": f'["{100 + i}"]'}]
        return _row(
            i,
            T0 + timedelta(minutes=i),
            parentId="1",
            name=f"C{i}",
            description="",
            isPrivate=False,
            featuredAsset=None,
            assets=[],
            filters=[{"code": "facet-value-filter", "args": args}],
        )

    shop = FakeLists(
        "collections", [collection(i) for i in range(2, 10)], _gone("3")
    )
    categories = Categories(catalog=Catalog(gql=cast(GraphQL, shop)))
    nodes = await categories.collections({str(100 + i) for i in range(2, 10)})
    # on skip/take C5 was missing: the push created the collection again
    assert {str(100 + i) for i in (2, *range(4, 10))} <= set(nodes)


async def test_rows_created_in_one_millisecond_are_read_once_each() -> None:
    """Pages ending inside one millisecond (microseconds apart) lose none."""
    rows = [
        _row(i, T0 + timedelta(microseconds=10 * (9 - i)), sku=f"S{i}")
        for i in range(1, 8)
    ]
    rows += [
        _row(i, T0 + timedelta(milliseconds=1, microseconds=5), sku=f"S{i}")
        for i in (8, 9)
    ]
    rows.append(_row(10, T0 - timedelta(microseconds=1), sku="S10"))
    shop = FakeLists("productVariants", rows, lambda page, rows: None)
    catalog = Catalog(gql=cast(GraphQL, shop))
    found = await catalog.variants_by_sku([f"S{i}" for i in range(1, 11)])
    assert sorted(found) == sorted(f"S{i}" for i in range(1, 11))
    assert all(len(v) == 1 for v in found.values())
    # one request a page, the last one short
    assert shop.pages == 4


async def test_a_full_last_page_asks_no_more() -> None:
    """A list filling its pages exactly is read in as many requests."""
    shop = FakeLists("productVariants", _variants()[:6], lambda p, r: None)
    catalog = Catalog(gql=cast(GraphQL, shop))
    found = await catalog.variants_by_sku([f"S{i}" for i in range(1, 7)])
    assert len(found) == 6
    assert shop.pages == 2


async def test_more_order_codes_than_a_page_are_all_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2,500 order codes are all found, in pages Vendure does not refuse."""
    monkeypatch.setattr(_pages, "TAKE", 1000)
    orders = [_row(i, T0, code=f"V{i:05d}") for i in range(1, 2501)]
    shop = FakeLists("orders", orders, lambda page, rows: None)

    async def precision() -> int:
        return 2

    found = await Orders(gql=cast(GraphQL, shop), precision=precision).by_code(
        [o["code"] for o in orders]
    )
    # on main one request with take 1000: 1,500 orders were cut silently
    assert len(found) == 2500
    assert shop.pages == 3
    assert max(shop.takes) <= 1000


def _values(count: int) -> Rows:
    return [
        _row(i, T0, code=f"c{i:04d}", name="C", facetId="9")
        for i in range(1, count + 1)
    ]


async def test_more_category_codes_than_a_page_all_found_in_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,500 categories another channel pushes find all the default
    channel's values: none is made a second time."""
    monkeypatch.setattr(_pages, "TAKE", 1000)
    shop = FakeLists("facetValues", _values(1500), lambda page, rows: None)
    catalog = Catalog(gql=cast(GraphQL, shop))
    # another channel, its facet and the default channel's token known
    catalog._channel = ("2", False)
    catalog._facet_id = "9"
    catalog._default_token = "default"
    found = await catalog.default_values([f"c{i:04d}" for i in range(1, 1501)])
    # on main one request: codes past the 1,000th were made again
    assert len(found) == 1500
    assert shop.pages == 2


async def test_more_category_creates_than_a_page_all_looked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,500 facet value creates whose answer was lost are all found."""
    monkeypatch.setattr(_pages, "TAKE", 1000)
    shop = FakeLists("facetValues", _values(1500), lambda page, rows: None)
    categories = Categories(catalog=Catalog(gql=cast(GraphQL, shop)))
    inputs = [{"facetId": "9", "code": f"c{i:04d}"} for i in range(1, 1501)]
    made = await categories._values_made(inputs)
    # on main the 500 past the page were sent again: made twice
    assert all(m is not None for m in made)


async def test_more_order_states_than_a_page_all_looked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The states of 1,500 orders whose moves' answers were lost are read."""
    monkeypatch.setattr(_pages, "TAKE", 1000)
    orders = [_row(i, T0, state="Shipped") for i in range(1, 1501)]
    shop = FakeLists("orders", orders, lambda page, rows: None)
    states = await _order_looks._states(
        cast(GraphQL, shop), [str(i) for i in range(1, 1501)]
    )
    assert len(states) == 1500


class FakeHistory(FakeLists):
    """
    `FakeLists` of one order's history, answered inside its order.
    """

    async def query(
        self,
        document: str,
        variables: dict[str, Any],
        *,
        channel: str | None = None,
    ) -> dict[str, Any]:
        answer = await super().query(document, variables, channel=channel)
        return {"order": answer}


async def test_notes_past_a_page_of_history_are_all_found() -> None:
    """The notes of an order whose history holds 1,200 other entries
    before them are all found, none cut at a page's end."""
    entries = [
        _row(i, T0 + timedelta(seconds=i), type="ORDER_STATE_TRANSITION")
        for i in range(1, 1201)
    ] + [
        _row(
            i,
            T0 + timedelta(seconds=i),
            type="ORDER_NOTE",
            data={"note": f"N{i}"},
        )
        for i in range(1201, 1206)
    ]
    shop = FakeHistory("history", entries, lambda page, rows: None)
    notes = await _order_looks.posted(cast(GraphQL, shop), {"id": "7"})
    # on main one read of 1,000 entries: no note found, each added again
    assert {f"N{i}" for i in range(1201, 1206)} == notes
