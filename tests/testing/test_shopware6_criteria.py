"""
Search criteria of the Shopware 6 emulator: filters, sorting, paging,
counts, associations, includes (platform-apis.md §1.8, §1.10).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from ecomsync.testing.shopware6 import (
    ShopwareEmulator,
)

from ._sw6 import (
    T0,
    Clock,
    pid,
    pointers,
    product,
    sync,
    upsert,
)


pytestmark = pytest.mark.anyio


async def _seed_products(
    client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
) -> None:
    for i, (n, stock) in enumerate([("A-1", 5), ("A-2", 0), ("B-1", 7)]):
        clock.now = T0 + timedelta(minutes=i)
        r = await sync(
            client,
            {
                "p": upsert(
                    "product", product(n, emu, stock=stock, active=i != 1)
                )
            },
        )
        assert r.status_code == 200


class TestSearch:
    async def _numbers(
        self, client: httpx.AsyncClient, criteria: dict[str, Any]
    ) -> list[str]:
        r = await client.post("/api/search/product", json=criteria)
        assert r.status_code == 200, r.text
        return [p["productNumber"] for p in r.json()["data"]]

    @pytest.mark.parametrize(
        ("flt", "expected"),
        [
            (
                {"type": "equals", "field": "productNumber", "value": "A-1"},
                ["A-1"],
            ),
            (
                {
                    "type": "equalsAny",
                    "field": "productNumber",
                    "value": ["A-1", "B-1"],
                },
                ["A-1", "B-1"],
            ),
            (
                {
                    "type": "equalsAny",
                    "field": "product.productNumber",
                    "value": "A-2|B-1",
                },
                ["A-2", "B-1"],
            ),
            (
                {"type": "range", "field": "stock", "parameters": {"gte": 5}},
                ["A-1", "B-1"],
            ),
            (
                {"type": "contains", "field": "name", "value": "article a"},
                ["A-1", "A-2"],
            ),
            (
                {"type": "prefix", "field": "productNumber", "value": "B"},
                ["B-1"],
            ),
            (
                {"type": "suffix", "field": "productNumber", "value": "-2"},
                ["A-2"],
            ),
            (
                {
                    "type": "not",
                    "queries": [
                        {"type": "equals", "field": "active", "value": True}
                    ],
                },
                ["A-2"],
            ),
            (
                {
                    "type": "multi",
                    "operator": "or",
                    "queries": [
                        {
                            "type": "equals",
                            "field": "productNumber",
                            "value": "A-1",
                        },
                        {
                            "type": "range",
                            "field": "stock",
                            "parameters": {"lt": 1},
                        },
                    ],
                },
                ["A-1", "A-2"],
            ),
            (
                {
                    "type": "multi",
                    "operator": "and",
                    "queries": [
                        {
                            "type": "prefix",
                            "field": "productNumber",
                            "value": "A",
                        },
                        {
                            "type": "range",
                            "field": "stock",
                            "parameters": {"gt": 0},
                        },
                    ],
                },
                ["A-1"],
            ),
            (
                {
                    "type": "range",
                    "field": "createdAt",
                    "parameters": {"gte": "2025-06-01 12:01:00.000"},
                },
                ["A-2", "B-1"],
            ),
        ],
    )
    async def test_filters(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        clock: Clock,
        flt: dict[str, Any],
        expected: list[str],
    ) -> None:
        """Each documented filter type selects the right rows."""
        await _seed_products(client, emu, clock)
        got = await self._numbers(
            client,
            {"filter": [flt], "sort": [{"field": "productNumber"}]},
        )
        assert got == expected

    async def test_range_on_text_compares_text(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A range on a text column with text bounds compares as MySQL
        does, as text: "12" lies between "1" and "2", "007" and "9x" do
        not (they are not read as the numbers 7 and 9)."""
        for number in ("007", "12", "9x"):
            r = await sync(
                client, {"p": upsert("product", product(number, emu))}
            )
            assert r.status_code == 200
        got = await self._numbers(
            client,
            {
                "filter": [
                    {
                        "type": "range",
                        "field": "productNumber",
                        "parameters": {"gte": "1", "lte": "2"},
                    }
                ]
            },
        )
        assert ["12"] == got

    async def test_unknown_filter_type(
        self, client: httpx.AsyncClient
    ) -> None:
        """An unknown filter type is a 400 with a pointer."""
        r = await client.post(
            "/api/search/product", json={"filter": [{"type": "fuzzy"}]}
        )
        assert r.status_code == 400
        assert pointers(r) == {"/filter/0/type"}

    async def test_sort_multi_and_stable(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """Sorting by several fields, ascending and descending."""
        await _seed_products(client, emu, clock)
        got = await self._numbers(
            client,
            {
                "sort": [
                    {"field": "active", "order": "DESC"},
                    {"field": "stock", "order": "ASC"},
                ]
            },
        )
        assert got == ["A-1", "B-1", "A-2"]

    async def test_paging(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """page/limit page through a sorted result; page needs limit."""
        await _seed_products(client, emu, clock)
        sort = [{"field": "productNumber"}]
        pages = [
            await self._numbers(client, {"limit": 2, "page": p, "sort": sort})
            for p in (1, 2)
        ]
        assert pages == [["A-1", "A-2"], ["B-1"]]
        assert await self._numbers(client, {"page": 2, "sort": sort}) == [
            "A-1",
            "A-2",
            "B-1",
        ]

    async def test_limit_max_500(self, client: httpx.AsyncClient) -> None:
        """limit > 500 is 400 FRAMEWORK__QUERY_LIMIT_EXCEEDED at /limit."""
        ok = await client.post("/api/search/product", json={"limit": 500})
        assert ok.status_code == 200
        r = await client.post("/api/search/product", json={"limit": 501})
        err = r.json()["errors"][0]
        assert r.status_code == 400
        assert err["code"] == "FRAMEWORK__QUERY_LIMIT_EXCEEDED"
        assert err["source"]["pointer"] == "/limit"
        r = await client.post("/api/search/product", json={"limit": 0})
        assert (
            r.json()["errors"][0]["code"] == "FRAMEWORK__INVALID_LIMIT_QUERY"
        )

    async def test_total_count_mode(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """Mode 0 counts the page, mode 1 counts all matches."""
        await _seed_products(client, emu, clock)
        r0 = await client.post("/api/search/product", json={"limit": 1})
        r1 = await client.post(
            "/api/search/product", json={"limit": 1, "total-count-mode": 1}
        )
        assert r0.json()["total"] == 1
        assert r1.json()["total"] == 3

    @pytest.mark.parametrize(
        ("mode", "total"),
        [
            (0, 1),
            (1, 3),
            (2, 3),
            ("0", 1),
            ("1", 3),
            ("2", 3),
            ("none", 1),
            ("exact", 3),
            ("next-pages", 3),
            ("bogus", 1),
            (7, 1),
            (-1, 1),
            (None, 1),
        ],
    )
    async def test_total_count_mode_names(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        clock: Clock,
        mode: object,
        total: int,
    ) -> None:
        """total-count-mode takes 0/1/2 (also as strings) and the names
        none/exact/next-pages; anything else counts like none."""
        await _seed_products(client, emu, clock)
        r = await client.post(
            "/api/search/product", json={"limit": 1, "total-count-mode": mode}
        )
        assert 200 == r.status_code, r.text
        assert total == r.json()["total"]

    async def test_next_pages_counts_at_most_six_pages_ahead(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """next-pages counts up to limit*6+1 rows from the offset."""
        many = [product(f"M-{i:02}", emu) for i in range(20)]
        assert (
            await sync(client, {"p": upsert("product", *many)})
        ).status_code == 200
        r = await client.post(
            "/api/search/product",
            json={"limit": 2, "page": 2, "total-count-mode": "next-pages"},
        )
        assert 13 == r.json()["total"]

    @pytest.mark.parametrize(
        "flt",
        [
            {"type": "equals", "field": "productNumber", "value": "a-1"},
            {"type": "equals", "field": "productNumber", "value": "A-1  "},
            {"type": "equalsAny", "field": "productNumber", "value": ["á-1"]},
            {"type": "prefix", "field": "productNumber", "value": "a-"},
            {"type": "contains", "field": "name", "value": "ARTICLE A-1"},
        ],
    )
    async def test_text_compares_under_the_collation(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        clock: Clock,
        flt: dict[str, Any],
    ) -> None:
        """Text filters compare like utf8mb4_unicode_ci: case, accents
        and trailing spaces do not matter."""
        await _seed_products(client, emu, clock)
        got = await self._numbers(
            client, {"filter": [flt], "sort": [{"field": "productNumber"}]}
        )
        assert "A-1" == got[0]

    async def test_order_number_and_email_under_the_collation(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Order numbers and customer e-mails are found whatever their
        case."""
        emu.place_order(
            order_number="SO-10", customer={"email": "Erika@Example.com"}
        )
        r = await client.post(
            "/api/search/order",
            json={
                "filter": [
                    {
                        "type": "equals",
                        "field": "orderNumber",
                        "value": "so-10",
                    }
                ]
            },
        )
        assert ["SO-10"] == [o["orderNumber"] for o in r.json()["data"]]
        r = await client.post(
            "/api/search/customer",
            json={
                "filter": [
                    {
                        "type": "equalsAny",
                        "field": "email",
                        "value": ["erika@example.COM"],
                    }
                ]
            },
        )
        assert ["Erika@Example.com"] == [c["email"] for c in r.json()["data"]]

    async def test_no_aggregations_is_an_empty_list(
        self, client: httpx.AsyncClient
    ) -> None:
        """Without aggregations the answer carries [] (PHP's empty
        array), as JsonType does."""
        r = await client.post("/api/search/product", json={})
        assert [] == r.json()["aggregations"]

    async def test_metric_aggregations(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """sum, avg, min, max, count and stats answer under their names
        over the filtered rows, not the page and not the post-filter; min
        and max come back as strings (PDO's stringified fetches)."""
        await _seed_products(client, emu, clock)
        r = await client.post(
            "/api/search/product",
            json={
                "limit": 1,
                "filter": [
                    {"type": "prefix", "field": "productNumber", "value": "A"}
                ],
                "post-filter": [
                    {
                        "type": "equals",
                        "field": "productNumber",
                        "value": "A-1",
                    }
                ],
                "aggregations": [
                    {"name": "total-stock", "type": "sum", "field": "stock"},
                    {"name": "avg-stock", "type": "avg", "field": "stock"},
                    {
                        "name": "min-stock",
                        "type": "min",
                        "field": "product.stock",
                    },
                    {"name": "max-stock", "type": "max", "field": "stock"},
                    {
                        "name": "numbers",
                        "type": "count",
                        "field": "productNumber",
                    },
                    {"name": "stats", "type": "stats", "field": "stock"},
                ],
            },
        )
        assert 200 == r.status_code, r.text
        body = r.json()
        assert 1 == body["total"]
        aggs = body["aggregations"]
        assert {
            "name": "total-stock",
            "sum": 5.0,
            "apiAlias": "total-stock_aggregation",
        } == aggs["total-stock"]
        assert 2.5 == aggs["avg-stock"]["avg"]
        assert "0" == aggs["min-stock"]["min"]
        assert "5" == aggs["max-stock"]["max"]
        assert 2 == aggs["numbers"]["count"]
        assert {"min": "0", "max": "5", "avg": 2.5, "sum": 5.0} == {
            k: aggs["stats"][k] for k in ("min", "max", "avg", "sum")
        }

    async def test_count_is_of_distinct_values(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """count answers the distinct values of its field, not the rows
        (COUNT(DISTINCT ...), EntityAggregator::parseCountAggregation),
        over every row the filter matches whatever the post-filter, and a
        filter aggregation narrows it: what Shopware6's order pages
        compare to know that no two orders share a number."""
        await _seed_products(client, emu, clock)
        r = await client.post(
            "/api/search/product",
            json={
                "limit": 1,
                "post-filter": [
                    {
                        "type": "equals",
                        "field": "productNumber",
                        "value": "B-1",
                    }
                ],
                "aggregations": [
                    {"name": "states", "type": "count", "field": "active"},
                    {"name": "rows", "type": "count", "field": "id"},
                    {
                        "name": "a-rows",
                        "type": "filter",
                        "filter": [
                            {
                                "type": "prefix",
                                "field": "productNumber",
                                "value": "A",
                            }
                        ],
                        "aggregation": {
                            "name": "a-rows",
                            "type": "count",
                            "field": "id",
                        },
                    },
                ],
            },
        )
        assert 200 == r.status_code, r.text
        aggs = r.json()["aggregations"]
        assert (2, 3, 2) == (
            aggs["states"]["count"],
            aggs["rows"]["count"],
            aggs["a-rows"]["count"],
        )

    async def test_terms_aggregation(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """terms answers buckets of key and count, sorted and limited on
        request, with a nested aggregation under its own name."""
        await _seed_products(client, emu, clock)
        r = await client.post(
            "/api/search/product",
            json={
                "aggregations": [
                    {
                        "name": "by-active",
                        "type": "terms",
                        "field": "active",
                        "sort": {"field": "_count", "order": "DESC"},
                        "aggregation": {
                            "name": "stock",
                            "type": "sum",
                            "field": "stock",
                        },
                    },
                    {
                        "name": "taxes",
                        "type": "terms",
                        "field": "taxId",
                        "limit": 1,
                    },
                ]
            },
        )
        aggs = r.json()["aggregations"]
        assert [("1", 2, 12.0), ("0", 1, 0.0)] == [
            (b["key"], b["count"], b["stock"]["sum"])
            for b in aggs["by-active"]["buckets"]
        ]
        assert (
            "aggregation_bucket" == aggs["by-active"]["buckets"][0]["apiAlias"]
        )
        assert [(emu.ids.tax_standard, 3)] == [
            (b["key"], b["count"]) for b in aggs["taxes"]["buckets"]
        ]

    async def test_filter_aggregation_answers_inner_name(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """A filter aggregation narrows the rows for its inner aggregation,
        whose result is answered under the inner name."""
        await _seed_products(client, emu, clock)
        r = await client.post(
            "/api/search/product",
            json={
                "aggregations": [
                    {
                        "name": "in-stock",
                        "type": "filter",
                        "filter": [
                            {
                                "type": "range",
                                "field": "stock",
                                "parameters": {"gt": 0},
                            }
                        ],
                        "aggregation": {
                            "name": "in-stock-count",
                            "type": "count",
                            "field": "id",
                        },
                    }
                ]
            },
        )
        assert {"in-stock-count"} == set(r.json()["aggregations"])
        assert 2 == r.json()["aggregations"]["in-stock-count"]["count"]

    @pytest.mark.parametrize("seeded", [False, True])
    async def test_a_taxs_products(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        clock: Clock,
        seeded: bool,
    ) -> None:
        """A tax reaches its products (TaxDefinition's ``products``): a
        terms aggregation on ``products.id`` has a ``""`` bucket for a tax
        without any (the LEFT JOIN's NULL), which a filter on non-NULL ids
        drops."""
        if seeded:
            await _seed_products(client, emu, clock)
        held = sorted(
            k
            for k, row in emu.entities["product"].items()
            if row.get("taxId") == emu.ids.tax_standard
        )
        not_null = {
            "type": "not",
            "queries": [
                {"type": "equals", "field": "products.id", "value": None}
            ],
        }
        r = await client.post(
            "/api/search/tax",
            json={
                "post-filter": [
                    {"type": "equals", "field": "taxRate", "value": 7.0}
                ],
                "associations": {"products": {}},
                "aggregations": [
                    {"name": "all", "type": "terms", "field": "products.id"},
                    {
                        "name": "held",
                        "type": "filter",
                        "filter": [not_null],
                        "aggregation": {
                            "name": "one",
                            "type": "terms",
                            "field": "products.id",
                            "limit": 1,
                        },
                    },
                ],
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert [emu.ids.tax_reduced] == [t["id"] for t in body["data"]]
        assert [] == body["data"][0]["products"]
        aggs = body["aggregations"]
        assert ["", *held] == [b["key"] for b in aggs["all"]["buckets"]]
        assert held[:1] == [b["key"] for b in aggs["one"]["buckets"]]
        assert seeded == bool(held)

    @pytest.mark.parametrize(
        ("aggregation", "pointer"),
        [
            ({"type": "sum", "field": "stock"}, "/aggregations/0"),
            (
                {"name": "1", "type": "sum", "field": "stock"},
                "/aggregations/0",
            ),
            (
                {"name": "a:b", "type": "sum", "field": "stock"},
                "/aggregations/0",
            ),
            ({"name": "x", "field": "stock"}, "/aggregations/0"),
            ({"name": "x", "type": "sum"}, "/aggregations/0/sum/field"),
            ({"name": "x", "type": "filter"}, "/aggregations/0/filter/field"),
            (
                {"name": "x", "type": "histogram", "field": "createdAt"},
                "/aggregations/0",
            ),
        ],
    )
    async def test_invalid_aggregation(
        self,
        client: httpx.AsyncClient,
        aggregation: dict[str, object],
        pointer: str,
    ) -> None:
        """A malformed aggregation is 400 FRAMEWORK__INVALID_AGGREGATION_QUERY
        pointing at it (AggregationParser)."""
        r = await client.post(
            "/api/search/product", json={"aggregations": [aggregation]}
        )
        assert 400 == r.status_code
        [err] = r.json()["errors"]
        assert "FRAMEWORK__INVALID_AGGREGATION_QUERY" == err["code"]
        assert pointer == err["source"]["pointer"]

    async def test_ids_criteria(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """ids select exactly those rows and ignore limit."""
        await _seed_products(client, emu, clock)
        got = await self._numbers(
            client,
            {
                "ids": [pid("B-1"), pid("A-1")],
                "limit": 1,
                "sort": [{"field": "productNumber"}],
            },
        )
        assert got == ["A-1", "B-1"]
        r = await client.post(
            "/api/search-ids/product", json={"ids": [pid("B-1")]}
        )
        assert r.json() == {"total": 1, "data": [pid("B-1")]}

    async def test_includes(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """includes restrict the fields per apiAlias."""
        await _seed_products(client, emu, clock)
        r = await client.post(
            "/api/search/product",
            json={"limit": 1, "includes": {"product": ["id", "stock"]}},
        )
        assert set(r.json()["data"][0]) == {"id", "stock", "apiAlias"}

    async def test_updated_at(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        clock: Clock,
    ) -> None:
        """updatedAt is null until the first update; createdAt is set."""
        await sync(client, {"p": upsert("product", product("UA", emu))})
        row = emu.entities["product"][pid("UA")]
        assert row["updatedAt"] is None
        assert row["createdAt"].startswith("2025-06-01T12:00:00.000")
        clock.advance(60)
        await sync(
            client, {"p": upsert("product", {"id": pid("UA"), "stock": 1})}
        )
        assert emu.entities["product"][pid("UA")]["updatedAt"].startswith(
            "2025-06-01T12:01:00"
        )

    async def test_orders_changed_since(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The createdAt-or-updatedAt query finds the right orders."""
        old = emu.place_order(
            order_number="1", created_at=T0 - timedelta(days=2)
        )
        new = emu.place_order(order_number="2", created_at=T0)
        touched = emu.place_order(
            order_number="3", created_at=T0 - timedelta(days=3)
        )
        emu.touch("order", touched, at=T0 + timedelta(hours=1))
        since = "2025-06-01 00:00:00.000"
        r = await client.post(
            "/api/search/order",
            json={
                "total-count-mode": 1,
                "filter": [
                    {
                        "type": "multi",
                        "operator": "or",
                        "queries": [
                            {
                                "type": "range",
                                "field": "updatedAt",
                                "parameters": {"gte": since},
                            },
                            {
                                "type": "range",
                                "field": "createdAt",
                                "parameters": {"gte": since},
                            },
                        ],
                    }
                ],
                "sort": [
                    {"field": "createdAt", "order": "ASC"},
                    {"field": "id", "order": "ASC"},
                ],
            },
        )
        ids = [o["id"] for o in r.json()["data"]]
        assert ids == [touched, new]
        assert old not in ids

    async def test_order_associations(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Orders load customer, addresses, deliveries, items, states."""
        await sync(client, {"p": upsert("product", product("O-1", emu))})
        oid = emu.place_order(
            order_number="10001",
            customer={
                "email": "e@example.com",
                "firstName": "E",
                "lastName": "M",
            },
            lines=[{"productNumber": "O-1", "quantity": 2}],
        )
        r = await client.post(
            "/api/search/order",
            json={
                "filter": [
                    {
                        "type": "equals",
                        "field": "orderNumber",
                        "value": "10001",
                    }
                ],
                "associations": {
                    "orderCustomer": {},
                    "billingAddress": {"associations": {"country": {}}},
                    "addresses": {},
                    "deliveries": {
                        "associations": {
                            "stateMachineState": {},
                            "shippingOrderAddress": {},
                        }
                    },
                    "lineItems": {},
                    "transactions": {
                        "associations": {"stateMachineState": {}}
                    },
                    "stateMachineState": {},
                    "currency": {},
                },
            },
        )
        o = r.json()["data"][0]
        assert o["id"] == oid
        assert o["orderCustomer"]["email"] == "e@example.com"
        assert o["billingAddress"]["country"]["iso"] == "DE"
        assert len(o["addresses"]) == 1
        d = o["deliveries"][0]
        assert d["stateMachineState"]["technicalName"] == "open"
        assert d["shippingOrderAddress"]["id"] == o["billingAddressId"]
        assert d["trackingCodes"] == []
        li = o["lineItems"][0]
        assert (li["quantity"], li["payload"]["productNumber"]) == (2, "O-1")
        t = o["transactions"][0]
        assert t["stateMachineState"]["technicalName"] == "open"
        assert o["stateMachineState"]["technicalName"] == "open"
        assert o["currency"]["isoCode"] == "EUR"
        assert emu.entities["product"][pid("O-1")]["stock"] == 3
        # Unloaded associations are null.
        r = await client.post("/api/search/order", json={})
        assert r.json()["data"][0]["deliveries"] is None

    async def test_children_after_a_hand_edit(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A variant deleted from ``entities`` by hand (a merchant's delete
        in the administration) and made anew under another parent is that
        parent's child only: the old parent's ``children`` do not list it,
        nor does a search for the old parent's children."""
        p1, p2 = product("P-1", emu), product("P-2", emu)
        variant = product("P-1-S", emu, parentId=pid("P-1"))
        r = await sync(client, {"p": upsert("product", p1, p2, variant)})
        assert r.status_code == 200, r.text
        del emu.entities["product"][pid("P-1-S")]
        moved = {**variant, "parentId": pid("P-2")}
        r = await sync(client, {"p": upsert("product", moved)})
        assert r.status_code == 200, r.text

        r = await client.post(
            "/api/search/product",
            json={
                "ids": [pid("P-1"), pid("P-2")],
                "associations": {"children": {}},
            },
        )
        children = {
            row["productNumber"]: [c["productNumber"] for c in row["children"]]
            for row in r.json()["data"]
        }
        r = await client.post(
            "/api/search/product",
            json={
                "filter": [
                    {
                        "type": "equals",
                        "field": "parentId",
                        "value": pid("P-1"),
                    }
                ]
            },
        )

        assert {"P-1": [], "P-2": ["P-1-S"]} == children
        assert [] == r.json()["data"]

    async def test_association_fields_in_filters(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Filters reach through associations (state, customer)."""
        a = emu.place_order(order_number="A", customer={"email": "a@x.de"})
        emu.place_order(order_number="B", customer={"email": "b@x.de"})
        r = await client.post(
            "/api/search/order",
            json={
                "filter": [
                    {
                        "type": "equals",
                        "field": "orderCustomer.email",
                        "value": "a@x.de",
                    }
                ]
            },
        )
        assert [o["id"] for o in r.json()["data"]] == [a]
        r = await client.post(
            "/api/search/order_delivery",
            json={
                "filter": [
                    {
                        "type": "equals",
                        "field": "stateMachineState.technicalName",
                        "value": "open",
                    }
                ]
            },
        )
        assert r.json()["total"] == 2
        r = await client.post(
            "/api/search/customer",
            json={"associations": {"addresses": {}, "group": {}}},
        )
        assert len(r.json()["data"]) == 2
        assert r.json()["data"][0]["group"] is not None

    @pytest.mark.parametrize(
        ("entity", "criteria", "accessor"),
        [
            (
                "customer",
                {
                    "filter": [
                        {"type": "equals", "field": "password", "value": "x"}
                    ]
                },
                "customer.password",
            ),
            (
                "customer",
                {"sort": [{"field": "customer.legacyPassword"}]},
                "customer.legacyPassword",
            ),
            (
                "order",
                {
                    "post-filter": [
                        {
                            "type": "not",
                            "queries": [
                                {
                                    "type": "equals",
                                    "field": "orderCustomer.customer.password",
                                    "value": None,
                                }
                            ],
                        }
                    ]
                },
                "order.orderCustomer.customer.password",
            ),
            (
                "media",
                {
                    "aggregations": [
                        {
                            "name": "x",
                            "type": "filter",
                            "filter": [
                                {
                                    "type": "equals",
                                    "field": "thumbnailsRo",
                                    "value": None,
                                }
                            ],
                            "aggregation": {
                                "name": "y",
                                "type": "count",
                                "field": "id",
                            },
                        }
                    ]
                },
                "media.thumbnailsRo",
            ),
        ],
        ids=["filter", "sort", "post-filter", "aggregation"],
    )
    async def test_a_field_the_admin_api_hides_is_refused(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        entity: str,
        criteria: dict[str, Any],
        accessor: str,
    ) -> None:
        """A criteria naming a field Shopware keeps from the Admin API (its
        ApiAware flag removed: a customer's password, a media's raw
        thumbnails), anywhere in it, is refused as ApiCriteriaValidator
        does: 500 FRAMEWORK__ACCESSOR_NOT_ALLOWED naming the accessor."""
        emu.place_order(order_number="A")
        r = await client.post(f"/api/search/{entity}", json=criteria)
        assert 500 == r.status_code
        [err] = r.json()["errors"]
        assert "FRAMEWORK__ACCESSOR_NOT_ALLOWED" == err["code"]
        assert (
            f"Accessor {accessor} is not allowed in this api scope"
            == (err["detail"])
        )
        assert {"accessor": accessor} == err["meta"]["parameters"]

    @pytest.mark.parametrize(
        "field", ["autoIncrement", "stateId", "orderCustomer.customerId"]
    )
    async def test_a_field_declared_without_flags_is_searchable(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, field: str
    ) -> None:
        """A field declared without flags is still Admin-API aware
        (Field::__construct adds ApiAware for the Admin API): a criteria
        sorting by an order's autoIncrement or stateId is answered."""
        emu.place_order(order_number="A")
        r = await client.post(
            "/api/search/order", json={"sort": [{"field": field}]}
        )
        assert 200 == r.status_code, r.text
        assert 1 == len(r.json()["data"])


class TestAutoIncrement:
    """
    Orders, products, categories and customers have Shopware's
    AutoIncrementField: read, sorted and filtered by, never written.
    """

    async def _read(
        self,
        client: httpx.AsyncClient,
        entity: str,
        criteria: dict[str, Any] | None = None,
    ) -> list[Any]:
        r = await client.post(f"/api/search/{entity}", json=criteria or {})
        assert 200 == r.status_code, r.text
        return [row["autoIncrement"] for row in r.json()["data"]]

    async def test_each_row_reads_a_growing_number(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Rows made one after another read autoIncrement 1, 2, 3... per
        table (ints, unique), and an update keeps the row's number."""
        for n in ("A", "B", "C"):
            emu.place_order(order_number=n)
        r = await sync(
            client,
            {
                "p": upsert("product", *(product(n, emu) for n in "XYZ")),
                "c": upsert("category", {"name": "Tools"}),
            },
        )
        assert 200 == r.status_code, r.text
        r = await sync(client, {"p": upsert("product", product("X", emu))})
        assert 200 == r.status_code, r.text
        asc = {"sort": [{"field": "autoIncrement"}]}
        assert [1, 2, 3] == await self._read(client, "order", asc)
        assert [1, 2, 3] == await self._read(client, "product", asc)
        assert [1, 2, 3] == await self._read(client, "customer", asc)
        # the fresh shop's root category "Home" came first
        assert [1, 2] == await self._read(client, "category", asc)

    async def test_sorted_and_filtered_by_it(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A criteria sorting by autoIncrement descending and a range on
        it answer the orders by that number."""
        for n in ("A", "B", "C", "D"):
            emu.place_order(order_number=n)
        r = await client.post(
            "/api/search/order",
            json={
                "filter": [
                    {
                        "type": "range",
                        "field": "autoIncrement",
                        "parameters": {"gt": 1, "lte": 3},
                    }
                ],
                "sort": [{"field": "autoIncrement", "order": "DESC"}],
            },
        )
        assert 200 == r.status_code, r.text
        assert ["C", "B"] == [o["orderNumber"] for o in r.json()["data"]]

    async def test_writing_it_is_refused(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A write naming autoIncrement fails as Shopware's WriteProtected
        field does ("This field is write-protected."), and nothing of the
        request is written."""
        r = await sync(
            client,
            {"p": upsert("product", product("X", emu, autoIncrement=7))},
        )
        assert 400 == r.status_code, r.text
        [err] = r.json()["errors"]
        assert "This field is write-protected." == err["detail"]
        assert "/p/0/autoIncrement" == err["source"]["pointer"]
        assert [] == await self._read(client, "product")


class TestRangeOnAnId:
    async def test_compares_the_bytes_with_the_text_of_the_hex(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A range on an id compares the 16 bytes the column holds with
        the text it is given, as MySQL does for Shopware (which binds a
        range's parameter unconverted): not an order of ids."""
        emu.place_order(order_number="A", order_id="2" * 32)
        emu.place_order(order_number="B", order_id="b" * 32)
        r = await client.post(
            "/api/search/order",
            json={
                "filter": [
                    {
                        "type": "range",
                        "field": "id",
                        "parameters": {"gt": "1" * 32},
                    }
                ],
            },
        )
        assert 200 == r.status_code, r.text
        # bytes 0x22... are below the text "11..." (0x31...), 0xbb... above
        assert ["B"] == [o["orderNumber"] for o in r.json()["data"]]
