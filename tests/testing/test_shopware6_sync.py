"""
The Shopware 6 emulator's write path: the Sync API and single-entity CRUD
(platform-apis.md §1.3-§1.5, §1.13).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync.testing.shopware6 import (
    ShopwareEmulator,
    seed_id,
)

from ._sw6 import (
    pid,
    pointers,
    product,
    sync,
    upsert,
)


pytestmark = pytest.mark.anyio


class TestSync:
    async def test_object_body(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """An object keyed by operation writes and reports {data, ...}."""
        cat = seed_id("category.tools")
        r = await sync(
            client,
            {
                "cats": upsert("category", {"id": cat, "name": "Tools"}),
                "prods": upsert(
                    "product", product("SW-1", emu, categories=[{"id": cat}])
                ),
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) >= {"data", "notFound", "deleted"}
        assert body["data"]["product"] == [pid("SW-1")]
        assert body["data"]["category"] == [cat]
        assert body["data"]["product_category"] == [
            {"productId": pid("SW-1"), "categoryId": cat}
        ]
        assert list(body["data"]) == sorted(body["data"])
        assert emu.entities["product"][pid("SW-1")]["productNumber"] == "SW-1"

    async def test_array_body(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A JSON array of operations works too; keys are the indexes."""
        r = await sync(client, [upsert("product", product("SW-2", emu))])
        assert r.status_code == 200
        r = await sync(client, [upsert("product", {"id": pid("X")})])
        assert "/0/0/productNumber" in pointers(r)

    async def test_explicit_key_wins(self, client: httpx.AsyncClient) -> None:
        """A "key" field inside the operation names it in pointers."""
        op = {**upsert("category", {"id": seed_id("c")}), "key": "mine"}
        r = await sync(client, [op])
        assert pointers(r) == {"/mine/0/name"}

    @pytest.mark.parametrize(
        ("op", "fragment"),
        [
            ({"action": "upsert", "payload": [{}]}, 'Missing "entity"'),
            (
                {"entity": "product", "action": "merge", "payload": [{}]},
                'invalid "action"',
            ),
            ({"entity": "product", "action": "upsert"}, 'Missing "payload"'),
        ],
    )
    async def test_envelope_validation(
        self, client: httpx.AsyncClient, op: dict[str, Any], fragment: str
    ) -> None:
        """A bad envelope is 400 FRAMEWORK__INVALID_SYNC_OPERATION."""
        r = await sync(client, {"k": op})
        err = r.json()["errors"][0]
        assert r.status_code == 400
        assert err["code"] == "FRAMEWORK__INVALID_SYNC_OPERATION"
        assert fragment in err["detail"]
        assert '"k"' in err["detail"]

    async def test_non_object_operation(
        self, client: httpx.AsyncClient
    ) -> None:
        """An operation that is not an object is rejected."""
        r = await sync(client, ["nope"])
        assert r.status_code == 400
        assert (
            "Expected an array of operations"
            in (r.json()["errors"][0]["detail"])
        )

    async def test_malformed_json(self, client: httpx.AsyncClient) -> None:
        """Malformed JSON is 400 "The JSON payload is malformed."."""
        r = await client.post(
            "/api/_action/sync",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["detail"] == (
            "The JSON payload is malformed."
        )

    async def test_all_or_nothing(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """One bad item fails the request and nothing at all is written."""
        cat = seed_id("category.a")
        r = await sync(
            client,
            {
                "c": upsert("category", {"id": cat, "name": "A"}),
                "p": upsert(
                    "product",
                    product("OK-1", emu),
                    {**product("BAD", emu), "taxId": None},
                ),
            },
        )
        assert r.status_code == 400
        assert pointers(r) == {"/p/1/taxId"}
        assert cat not in emu.entities["category"]
        assert pid("OK-1") not in emu.entities["product"]

    async def test_required_product_fields(
        self, client: httpx.AsyncClient
    ) -> None:
        """A product needs taxId, price, productNumber, stock and name."""
        r = await sync(client, {"p": upsert("product", {"id": pid("E")})})
        assert r.status_code == 400
        assert pointers(r) == {
            f"/p/0/{f}"
            for f in ("taxId", "price", "productNumber", "stock", "name")
        }
        codes = {e["code"] for e in r.json()["errors"]}
        assert codes == {"c1051bb4-d103-4f74-8988-acbcafc7fdc3"}

    async def test_variant_inherits(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A variant only needs productNumber and stock besides parentId."""
        r = await sync(
            client,
            {
                "p": upsert("product", product("P", emu)),
                "v": upsert(
                    "product",
                    {
                        "id": pid("P.1"),
                        "parentId": pid("P"),
                        "productNumber": "P.1",
                        "stock": 1,
                    },
                ),
            },
        )
        assert r.status_code == 200, r.text

    async def test_price_needs_default_currency(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A price without the default currency is a write error."""
        p = product("SW-C", emu)
        p["price"] = [
            {"currencyId": seed_id("usd"), "gross": 1, "net": 1, "linked": 1}
        ]
        r = await sync(client, {"p": upsert("product", p)})
        assert r.status_code == 400
        details = {e["detail"] for e in r.json()["errors"]}
        assert "No price for default currency defined" in details
        assert "/p/0/price/0/linked" in pointers(r)

    async def test_product_number_unique(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The same productNumber under another id fails (also in-request)."""
        assert (
            await sync(client, {"p": upsert("product", product("U", emu))})
        ).status_code == 200
        other = {**product("U", emu), "id": pid("other")}
        r = await sync(client, {"p": upsert("product", other)})
        assert r.status_code == 400
        assert pointers(r) == {"/p/0/productNumber"}
        twins = [product("T", emu), {**product("T", emu), "id": pid("t2")}]
        r = await sync(client, {"p": upsert("product", *twins)})
        assert pointers(r) == {"/p/1/productNumber"}

    async def test_stock_must_be_int(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """stock of the wrong type is a type violation."""
        r = await sync(
            client, {"p": upsert("product", product("S", emu, stock="5"))}
        )
        assert pointers(r) == {"/p/0/stock"}

    async def test_category_needs_name(
        self, client: httpx.AsyncClient
    ) -> None:
        """A category needs a name."""
        r = await sync(client, {"c": upsert("category", {"id": seed_id("x")})})
        assert pointers(r) == {"/c/0/name"}

    async def test_id_format(self, client: httpx.AsyncClient) -> None:
        """Ids must match ^[0-9a-f]{32}$ (no dashes, no upper case)."""
        for bad in ("A" * 32, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "x"):
            r = await sync(
                client, {"c": upsert("category", {"id": bad, "name": "N"})}
            )
            assert r.status_code == 400
            assert r.json()["errors"][0]["code"] == "FRAMEWORK__INVALID_UUID"
            assert pointers(r) == {"/c/0/id"}

    async def test_upsert_merges(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """An upsert by id updates only the fields given."""
        await sync(client, {"p": upsert("product", product("M", emu))})
        r = await sync(
            client, {"p": upsert("product", {"id": pid("M"), "stock": 42})}
        )
        assert r.status_code == 200
        row = emu.entities["product"][pid("M")]
        assert row["stock"] == 42
        assert row["name"] == "Article M"

    async def test_to_many_only_adds(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Upserting categories adds mappings; earlier ones stay."""
        a, b = seed_id("cat.a"), seed_id("cat.b")
        await sync(
            client,
            {
                "c": upsert(
                    "category", {"id": a, "name": "A"}, {"id": b, "name": "B"}
                ),
                "p": upsert(
                    "product", product("TM", emu, categories=[{"id": a}])
                ),
            },
        )
        await sync(
            client,
            {
                "p": upsert(
                    "product", {"id": pid("TM"), "categories": [{"id": b}]}
                )
            },
        )
        assert {
            m["categoryId"]
            for m in emu.entities["product_category"].values()
            if m["productId"] == pid("TM")
        } == {a, b}

    async def test_delete_by_id_and_not_found(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Deleting by id reports deleted and notFound."""
        await sync(client, {"p": upsert("product", product("D", emu))})
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product",
                    "action": "delete",
                    "payload": [{"id": pid("D")}, {"id": pid("nope")}],
                }
            },
        )
        body = r.json()
        assert body["deleted"]["product"] == [pid("D")]
        assert body["notFound"]["product"] == [pid("nope")]
        assert pid("D") not in emu.entities["product"]

    async def test_delete_mapping_by_fk_pair_and_criteria(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Mappings are deleted by FK pair or by criteria."""
        a, b = seed_id("cat.a"), seed_id("cat.b")
        await sync(
            client,
            {
                "c": upsert(
                    "category", {"id": a, "name": "A"}, {"id": b, "name": "B"}
                ),
                "p": upsert(
                    "product",
                    product("F", emu, categories=[{"id": a}, {"id": b}]),
                    product("G", emu, categories=[{"id": a}]),
                ),
            },
        )
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product_category",
                    "action": "delete",
                    "payload": [{"productId": pid("F"), "categoryId": a}],
                }
            },
        )
        assert r.json()["deleted"]["product_category"] == [
            {"productId": pid("F"), "categoryId": a}
        ]
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product_category",
                    "action": "delete",
                    "criteria": [
                        {"type": "equals", "field": "categoryId", "value": a}
                    ],
                }
            },
        )
        assert r.status_code == 200
        left = list(emu.entities["product_category"].values())
        assert left == [
            {
                "productId": pid("F"),
                "categoryId": b,
                "createdAt": left[0]["createdAt"],
                "updatedAt": None,
            }
        ]

    async def test_criteria_delete_rules(
        self, client: httpx.AsyncClient
    ) -> None:
        """Criteria deletes on non-mapping entities are rejected."""
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product",
                    "action": "delete",
                    "criteria": [
                        {"type": "equals", "field": "id", "value": "x"}
                    ],
                }
            },
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == (
            "API_INVALID_SYNC_CRITERIA_EXCEPTION"
        )

    async def test_resolver(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """{"resolver": "product.number"} resolves to the product id."""
        await sync(client, {"p": upsert("product", product("R-1", emu))})
        ref = {"resolver": "product.number", "value": "R-1"}
        r = await sync(
            client, {"s": upsert("product", {"id": ref, "stock": 9})}
        )
        assert r.status_code == 200, r.text
        assert emu.entities["product"][pid("R-1")]["stock"] == 9
        missing = {"resolver": "product.number", "value": "NOPE"}
        r = await sync(
            client, {"s": upsert("product", {"id": missing, "stock": 1})}
        )
        assert r.json()["errors"][0]["code"] == (
            "FRAMEWORK__API_INVALID_SYNC_RESOLVERS"
        )
        bad = {"resolver": "category.name", "value": "x"}
        r = await sync(client, {"s": upsert("product", {"id": bad})})
        assert r.json()["errors"][0]["code"] == (
            "API_RESOLVER_NOT_FOUND_EXCEPTION"
        )

    async def test_unknown_reference_fails(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A reference to a missing row fails the transaction (DB error)."""
        r = await sync(
            client,
            {"p": upsert("product", product("FK", emu, taxId=seed_id("no")))},
        )
        assert r.status_code == 500
        assert pid("FK") not in emu.entities["product"]

    async def test_visibility_unique_per_sales_channel(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A second visibility for the same channel under a new id fails."""
        sc = emu.ids.sales_channel

        def vis(vid: str) -> dict[str, Any]:
            return product(
                "VIS",
                emu,
                visibilities=[
                    {"id": vid, "salesChannelId": sc, "visibility": 30}
                ],
            )

        body = {"p": upsert("product", vis(seed_id("v1")))}
        assert (await sync(client, body)).status_code == 200
        assert (await sync(client, body)).status_code == 200
        r = await sync(client, {"p": upsert("product", vis(seed_id("v2")))})
        assert r.status_code == 500
        assert len(emu.entities["product_visibility"]) == 1

    async def test_headers_accepted(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """indexing-behavior and sw-skip-trigger-flow are accepted."""
        r = await client.post(
            "/api/_action/sync",
            json={"p": upsert("product", product("H", emu))},
            headers={
                "indexing-behavior": "use-queue-indexing",
                "sw-skip-trigger-flow": "1",
            },
        )
        assert r.status_code == 200


class TestCrud:
    async def test_create_read_update_delete(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """POST 204+Location, GET {data}, PATCH 204, DELETE 204, then 404."""
        cid = seed_id("cat.crud")
        r = await client.post("/api/category", json={"id": cid, "name": "C"})
        assert r.status_code == 204
        assert r.headers["location"].endswith(f"/api/category/{cid}")
        r = await client.get(f"/api/category/{cid}")
        assert r.json()["data"]["name"] == "C"
        r = await client.patch(f"/api/category/{cid}", json={"name": "D"})
        assert r.status_code == 204
        assert emu.entities["category"][cid]["name"] == "D"
        assert (await client.delete(f"/api/category/{cid}")).status_code == 204
        assert (await client.get(f"/api/category/{cid}")).status_code == 404
        assert (await client.delete(f"/api/category/{cid}")).status_code == 404

    async def test_single_write_pointer(
        self, client: httpx.AsyncClient
    ) -> None:
        """A single-entity write reports pointers as /0/field."""
        r = await client.post("/api/product", json={"id": pid("one")})
        assert r.status_code == 400
        assert "/0/taxId" in pointers(r)

    async def test_collection_on_single_route(
        self, client: httpx.AsyncClient
    ) -> None:
        """A JSON array sent to a single-write route is 400."""
        r = await client.post("/api/category", json=[{"name": "x"}])
        assert r.status_code == 400
        assert "/sync" in r.json()["errors"][0]["detail"]

    async def test_hyphenated_entity_and_tracking_codes(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """PATCH /api/order-delivery/{id} writes trackingCodes."""
        oid = emu.place_order()
        did = seed_id(f"order_delivery.{oid}")
        r = await client.patch(
            f"/api/order-delivery/{did}", json={"trackingCodes": ["0034"]}
        )
        assert r.status_code == 204
        assert emu.entities["order_delivery"][did]["trackingCodes"] == ["0034"]
        assert emu.entities["order_delivery"][did]["updatedAt"] is not None

    async def test_invalid_id_in_path(self, client: httpx.AsyncClient) -> None:
        """A malformed id in the path is 400 FRAMEWORK__INVALID_UUID."""
        r = await client.get("/api/product/not-an-id")
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "FRAMEWORK__INVALID_UUID"

    async def test_list(self, client: httpx.AsyncClient) -> None:
        """GET /api/{entity} lists with limit."""
        r = await client.get("/api/tax", params={"limit": 1})
        assert r.json()["total"] == 1
