"""
The Shopware 6 emulator against the documented Admin API contract
(platform-apis.md §1, minimum contract §1.15) and its fault switchboard
(reliability-performance.md C.1, D.2), spoken to with raw httpx.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from ecomsync.testing.shopware6 import (
    DEFAULT_CURRENCY,
    Faults,
    ShopwareEmulator,
    seed_id,
    serve,
)


pytestmark = pytest.mark.anyio

CID, SECRET = "SWIATESTCLIENT", "s3cret"
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    """
    A settable "now" for the emulator.
    """

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> ShopwareEmulator:
    return ShopwareEmulator(
        client_id=CID, client_secret=SECRET, clock=clock, token_ttl=600
    )


def raw_client(emu: ShopwareEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="http://shop.test",
        headers={"Accept": "application/json"},
    )


async def login(c: httpx.AsyncClient) -> str:
    r = await c.post(
        "/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": CID,
            "client_secret": SECRET,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    c.headers["Authorization"] = f"Bearer {token}"
    return token


@pytest.fixture
async def client(emu: ShopwareEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with raw_client(emu) as c:
        await login(c)
        yield c


def pid(n: str) -> str:
    return seed_id(f"product.{n}")


def product(
    number: str, emu: ShopwareEmulator, **extra: Any
) -> dict[str, Any]:
    return {
        "id": pid(number),
        "productNumber": number,
        "name": f"Article {number}",
        "stock": 5,
        "taxId": emu.ids.tax_standard,
        "price": [
            {
                "currencyId": DEFAULT_CURRENCY,
                "gross": 11.9,
                "net": 10.0,
                "linked": True,
            }
        ],
        **extra,
    }


async def sync(c: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await c.post("/api/_action/sync", json=body)


def upsert(entity: str, *payload: Any) -> dict[str, Any]:
    return {"entity": entity, "action": "upsert", "payload": list(payload)}


def pointers(r: httpx.Response) -> set[str]:
    return {
        e["source"]["pointer"] for e in r.json()["errors"] if "source" in e
    }


class TestAuth:
    async def test_token_shape(self, emu: ShopwareEmulator) -> None:
        """client_credentials yields a Bearer token with expires_in 600."""
        async with raw_client(emu) as c:
            r = await c.post(
                "/api/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": SECRET,
                },
            )
        body = r.json()
        assert r.status_code == 200
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 600
        assert "refresh_token" not in body
        assert body["access_token"] in emu.tokens

    async def test_form_encoded(self, emu: ShopwareEmulator) -> None:
        """The token endpoint also parses form-encoded bodies."""
        async with raw_client(emu) as c:
            r = await c.post(
                "/api/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": SECRET,
                },
            )
        assert r.status_code == 200

    async def test_wrong_secret(self, emu: ShopwareEmulator) -> None:
        """A wrong secret is 401 with league code "4"."""
        async with raw_client(emu) as c:
            r = await c.post(
                "/api/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": "nope",
                },
            )
        err = r.json()["errors"][0]
        assert r.status_code == 401
        assert err["code"] == "4"
        assert err["status"] == "401"
        assert err["title"] == "Client authentication failed"

    async def test_missing_bearer(self, emu: ShopwareEmulator) -> None:
        """Any other route without a bearer is 401 with code "9"."""
        async with raw_client(emu) as c:
            r = await c.post("/api/search/product", json={})
        err = r.json()["errors"][0]
        assert r.status_code == 401
        assert err["code"] == "9"
        assert err["detail"] == 'Missing "Authorization" header'

    async def test_token_expires(
        self, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        """A token stops working after the TTL; a new one works again."""
        assert (await client.get("/api/_info/version")).status_code == 200
        clock.advance(599)
        assert (await client.get("/api/_info/version")).status_code == 200
        clock.advance(2)
        r = await client.get("/api/_info/version")
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "9"
        assert r.json()["errors"][0]["detail"] == "Access token is expired"
        await login(client)
        assert (await client.get("/api/_info/version")).status_code == 200

    async def test_custom_ttl(self, clock: Clock) -> None:
        """The configured TTL is reported and enforced."""
        emu = ShopwareEmulator(
            client_id=CID, client_secret=SECRET, clock=clock, token_ttl=5
        )
        async with raw_client(emu) as c:
            await login(c)
            clock.advance(5)
            r = await c.get("/api/_info/version")
        assert r.status_code == 401

    async def test_revoked(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Revoked tokens are rejected with code "9"."""
        emu.revoke_tokens()
        r = await client.get("/api/_info/version")
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "9"

    async def test_throttled_after_failures(
        self, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """Repeated failed logins get 429 FRAMEWORK__AUTH_THROTTLED."""
        bad = {
            "grant_type": "client_credentials",
            "client_id": CID,
            "client_secret": "x",
        }
        async with raw_client(emu) as c:
            codes = [
                (await c.post("/api/oauth/token", json=bad)).status_code
                for _ in range(11)
            ]
            assert codes[:10] == [401] * 10
            assert codes[10] == 429
            r = await c.post("/api/oauth/token", json=bad)
            err = r.json()["errors"][0]
            assert err["code"] == "FRAMEWORK__AUTH_THROTTLED"
            assert err["meta"]["parameters"]["seconds"] > 0
            clock.advance(11)
            await login(c)

    async def test_no_rate_limit_on_normal_routes(
        self, client: httpx.AsyncClient
    ) -> None:
        """Hundreds of quick requests to normal routes never see a 429."""
        for _ in range(300):
            r = await client.post("/api/search/product", json={"limit": 1})
            assert r.status_code == 200


class TestFormat:
    async def test_simple_json_listing(
        self, client: httpx.AsyncClient
    ) -> None:
        """Accept: application/json gives {total, data, aggregations}."""
        r = await client.post("/api/search/currency", json={})
        body = r.json()
        assert set(body) == {"total", "data", "aggregations"}
        assert body["data"][0]["apiAlias"] == "currency"
        assert body["data"][0]["id"] == DEFAULT_CURRENCY

    async def test_jsonapi_is_default(self, emu: ShopwareEmulator) -> None:
        """Without the Accept header the answer is JSON:API."""
        async with raw_client(emu) as c:
            await login(c)
            del c.headers["Accept"]
            r = await c.post("/api/search/currency", json={})
        body = r.json()
        assert body["data"][0]["type"] == "currency"
        assert "attributes" in body["data"][0]
        assert body["meta"]["total"] == 1

    async def test_error_shape(self, client: httpx.AsyncClient) -> None:
        """Errors are {"errors": [{status (str), code, title, detail}]}."""
        r = await client.get(f"/api/product/{'0' * 32}")
        err = r.json()["errors"][0]
        assert r.status_code == 404
        assert err["status"] == "404"
        assert err["code"] == "FRAMEWORK__RESOURCE_NOT_FOUND"
        assert {"title", "detail", "meta"} <= set(err)

    async def test_seed(self, emu: ShopwareEmulator) -> None:
        """The documented constant ids and basic rows are seeded."""
        e = emu.entities
        assert DEFAULT_CURRENCY in e["currency"]
        assert "2fbb5fe2e29a4d70aa5854ce7ce3e20b" in e["language"]
        rates = sorted(t["taxRate"] for t in e["tax"].values())
        assert rates == [7.0, 19.0]
        assert e["sales_channel"]
        assert e["customer_group"]
        assert e["payment_method"]
        assert e["shipping_method"]
        assert any(c["iso"] == "DE" for c in e["country"].values())


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


MEDIA = seed_id("media.1")
PM = seed_id("product_media.1")


async def _media(client: httpx.AsyncClient, *ids: str) -> None:
    r = await sync(client, {"m": upsert("media", *({"id": i} for i in ids))})
    assert r.status_code == 200


async def _upload(
    client: httpx.AsyncClient,
    media_id: str,
    data: bytes,
    query: str = "extension=jpg&fileName=hammer",
) -> httpx.Response:
    return await client.post(
        f"/api/_action/media/{media_id}/upload?{query}",
        content=data,
        headers={"content-type": "image/jpeg"},
    )


class TestMedia:
    async def test_upload_binary(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A binary upload answers 204 + Location and stores the bytes."""
        await _media(client, MEDIA)
        r = await _upload(client, MEDIA, b"\xff\xd8jpeg")
        assert r.status_code == 204
        assert r.headers["location"].endswith(f"/api/media/{MEDIA}")
        assert emu.media_bytes(MEDIA) == b"\xff\xd8jpeg"
        assert (
            emu.media_sha256(MEDIA)
            == hashlib.sha256(b"\xff\xd8jpeg").hexdigest()
        )
        row = emu.entities["media"][MEDIA]
        assert (row["fileName"], row["fileExtension"]) == ("hammer", "jpg")
        assert row["hasFile"] is True
        r = await client.post(
            "/api/search/media",
            json={
                "filter": [
                    {"type": "equals", "field": "fileName", "value": "hammer"}
                ]
            },
        )
        assert [m["id"] for m in r.json()["data"]] == [MEDIA]

    async def test_reupload_replaces(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Uploading to the same media id again replaces the file."""
        await _media(client, MEDIA)
        assert (await _upload(client, MEDIA, b"one")).status_code == 204
        assert (await _upload(client, MEDIA, b"two")).status_code == 204
        assert emu.media_bytes(MEDIA) == b"two"

    async def test_duplicate_file_name(
        self, client: httpx.AsyncClient
    ) -> None:
        """The same fileName+extension on another media is a 400."""
        other = seed_id("media.2")
        await _media(client, MEDIA, other)
        assert (await _upload(client, MEDIA, b"a")).status_code == 204
        r = await _upload(client, other, b"b")
        err = r.json()["errors"][0]
        assert r.status_code == 400
        assert err["code"] == "CONTENT__MEDIA_DUPLICATED_FILE_NAME"
        assert (
            err["detail"]
            == 'A file with the name "hammer.jpg" already exists.'
        )
        r = await _upload(client, other, b"b", "extension=png&fileName=hammer")
        assert r.status_code == 204

    async def test_missing_extension(self, client: httpx.AsyncClient) -> None:
        """An upload without extension is 400."""
        await _media(client, MEDIA)
        r = await _upload(client, MEDIA, b"a", "fileName=x")
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == (
            "CONTENT__MEDIA_MISSING_FILE_EXTENSION"
        )

    async def test_unknown_media(self, client: httpx.AsyncClient) -> None:
        """An upload to an unknown media id is 404."""
        r = await _upload(client, seed_id("nope"), b"a")
        assert r.status_code == 404
        assert r.json()["errors"][0]["code"] == "CONTENT__MEDIA_NOT_FOUND"

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/x.jpg",
            "http://169.254.169.254/latest",
            "http://[::1]/x.jpg",
            "http://0x7f000001/x.jpg",
            "http://2130706433/x.jpg",
            "http://10.0.0.1/x.jpg",
            "http://localhost/x.jpg",
            "file:///etc/passwd",
        ],
    )
    async def test_url_upload_refuses_internal(
        self, client: httpx.AsyncClient, url: str
    ) -> None:
        """The URL variant refuses private and loopback targets."""
        await _media(client, MEDIA)
        r = await client.post(
            f"/api/_action/media/{MEDIA}/upload?extension=jpg",
            json={"url": url},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "CONTENT__MEDIA_ILLEGAL_URL"

    async def test_url_upload_public_fails_offline(
        self, client: httpx.AsyncClient
    ) -> None:
        """A public URL cannot be fetched by the offline emulator: 400."""
        await _media(client, MEDIA)
        r = await client.post(
            f"/api/_action/media/{MEDIA}/upload?extension=jpg",
            json={"url": "https://93.184.215.14/x.jpg"},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] != "CONTENT__MEDIA_ILLEGAL_URL"

    async def test_patch_product_media_and_cover(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """PATCH product with media[] and coverId links and sets the cover."""
        await sync(client, {"p": upsert("product", product("PM", emu))})
        r = await client.patch(
            f"/api/product/{pid('PM')}",
            json={
                "media": [
                    {
                        "id": PM,
                        "mediaId": MEDIA,
                        "position": 1,
                        "media": {"id": MEDIA},
                    }
                ],
                "coverId": PM,
            },
        )
        assert r.status_code == 204, r.text
        assert emu.entities["product"][pid("PM")]["coverId"] == PM
        assert emu.entities["product_media"][PM]["productId"] == pid("PM")
        r = await client.post(
            "/api/search/product_media",
            json={
                "filter": [
                    {
                        "type": "equals",
                        "field": "productId",
                        "value": pid("PM"),
                    }
                ],
                "associations": {"media": {}},
            },
        )
        assert r.json()["data"][0]["media"]["id"] == MEDIA
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product_media",
                    "action": "delete",
                    "payload": [{"id": PM}],
                }
            },
        )
        assert r.status_code == 200
        assert emu.entities["product"][pid("PM")]["coverId"] is None


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


class TestStateMachine:
    async def test_order_graph(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """process then complete moves the order; response is the state."""
        oid = emu.place_order()
        r = await client.post(f"/api/_action/order/{oid}/state/process")
        assert r.status_code == 200
        assert r.json()["technicalName"] == "in_progress"
        assert r.json()["apiAlias"] == "state_machine_state"
        r = await client.post(f"/api/_action/order/{oid}/state/complete")
        assert r.json()["technicalName"] == "completed"

    async def test_illegal_transition(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A second ship is 400 with the possible transitions listed."""
        oid = emu.place_order()
        did = seed_id(f"order_delivery.{oid}")
        url = f"/api/_action/order_delivery/{did}/state/ship"
        assert (await client.post(url)).status_code == 200
        r = await client.post(url)
        err = r.json()["errors"][0]
        assert r.status_code == 400
        assert err["code"] == "SYSTEM__ILLEGAL_STATE_TRANSITION"
        assert err["meta"]["parameters"]["possibleTransitions"] == [
            "retour",
            "retour_partially",
            "cancel",
            "reopen",
        ]
        assert err["detail"].startswith(
            'Illegal transition "ship" from state "shipped".'
        )

    async def test_send_mail_default_and_false(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """sendMail defaults to true; false and skip-flow suppress mails."""
        oid = emu.place_order()
        tid = seed_id(f"order_transaction.{oid}")
        did = seed_id(f"order_delivery.{oid}")
        await client.post(f"/api/_action/order_transaction/{tid}/state/paid")
        await client.post(
            f"/api/_action/order_delivery/{did}/state/ship",
            json={"sendMail": False},
        )
        await client.post(
            f"/api/_action/order/{oid}/state/process",
            headers={"sw-skip-trigger-flow": "1"},
        )
        sent = [(t.entity, t.send_mail, t.mail_sent) for t in emu.transitions]
        assert sent == [
            ("order_transaction", True, True),
            ("order_delivery", False, False),
            ("order", True, False),
        ]
        assert [t.entity for t in emu.mails] == ["order_transaction"]

    async def test_generic_endpoint_and_available(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The generic endpoint transitions; GET lists what is possible."""
        oid = emu.place_order()
        r = await client.get(f"/api/_action/state-machine/order/{oid}/state")
        actions = [t["actionName"] for t in r.json()["transitions"]]
        assert actions == ["process", "cancel"]
        assert r.json()["transitions"][0]["toStateName"] == "in_progress"
        r = await client.post(
            f"/api/_action/state-machine/order/{oid}/state/cancel"
        )
        assert r.json()["technicalName"] == "cancelled"

    async def test_bad_entity_id(self, client: httpx.AsyncClient) -> None:
        """An unknown order id is 400 STATE_MACHINE_INVALID_ENTITY_ID."""
        r = await client.post(
            f"/api/_action/order/{seed_id('x')}/state/process"
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == (
            "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID"
        )

    async def test_transition_touches_updated_at(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """A transition sets updatedAt of the transitioned row."""
        oid = emu.place_order()
        tid = seed_id(f"order_transaction.{oid}")
        clock.advance(30)
        await client.post(f"/api/_action/order_transaction/{tid}/state/paid")
        assert emu.entities["order_transaction"][tid]["updatedAt"].startswith(
            "2025-06-01T12:00:30"
        )

    async def test_cancel_restocks(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Cancelling an order gives its stock back."""
        await sync(client, {"p": upsert("product", product("RS", emu))})
        oid = emu.place_order(lines=[{"productNumber": "RS", "quantity": 2}])
        assert emu.entities["product"][pid("RS")]["stock"] == 3
        await client.post(f"/api/_action/order/{oid}/state/cancel")
        assert emu.entities["product"][pid("RS")]["stock"] == 5


class TestFaults:
    async def test_latency_and_base(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """latency_ms + base_ms delay every request."""
        emu.faults = Faults(latency_ms=40, base_ms=20)
        t = anyio.current_time()
        await client.get("/api/_info/version")
        assert anyio.current_time() - t >= 0.06

    async def test_per_item_and_upload(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Sync items and uploads cost their configured time."""
        emu.faults = Faults(per_item_ms=10, per_upload_ms=80)
        t = anyio.current_time()
        await sync(
            client,
            {"c": upsert("category", *({"name": str(i)} for i in range(10)))},
        )
        assert anyio.current_time() - t >= 0.1
        await _media(client, MEDIA)
        t = anyio.current_time()
        await _upload(client, MEDIA, b"x")
        assert anyio.current_time() - t >= 0.08
        assert emu.requests[-1].items == 1

    async def test_bandwidth(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Bodies queue on one shared link of the given bytes/s."""
        await _media(client, MEDIA, seed_id("m2"))
        emu.faults = Faults(bandwidth_bps=100_000)
        t = anyio.current_time()
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                _upload, client, MEDIA, b"x" * 10_000, "extension=jpg"
            )
            tg.start_soon(
                _upload, client, seed_id("m2"), b"y" * 10_000, "extension=png"
            )
        # 20 kB over 100 kB/s takes at least 0.2 s, also when parallel.
        assert anyio.current_time() - t >= 0.19

    async def test_workers_limit(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """At most workers_limit requests are processed at once."""
        emu.faults = Faults(base_ms=50, workers_limit=2)
        t = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(client.get, "/api/_info/version")
        # 6 requests / 2 workers x 50 ms.
        assert anyio.current_time() - t >= 0.15

    async def test_storm_next_n(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The next N requests get 429 with Retry-After, then normal."""
        emu.faults = Faults(storm_next=2, retry_after="2")
        codes = []
        for _ in range(3):
            r = await client.get("/api/_info/version")
            codes.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["retry-after"] == "2"
        assert codes == [429, 429, 200]

    async def test_storm_503_without_header(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A 503 storm can omit Retry-After."""
        emu.faults = Faults(storm_next=1, storm_status=503, retry_after=None)
        r = await client.get("/api/_info/version")
        assert r.status_code == 503
        assert "retry-after" not in r.headers

    async def test_storm_probability_is_seeded(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A probabilistic storm repeats exactly with the same seed."""

        async def run() -> list[int]:
            emu.faults = Faults(storm_probability=0.5, storm_seed=7)
            return [
                (await client.get("/api/_info/version")).status_code
                for _ in range(20)
            ]

        first = await run()
        assert first == await run()
        assert 0 < first.count(429) < 20

    async def test_storm_spares_auth(self, emu: ShopwareEmulator) -> None:
        """The token endpoint is spared unless storm_auth."""
        emu.faults = Faults(storm_next=1)
        async with raw_client(emu) as c:
            await login(c)
            r = await c.get("/api/_info/version")
        assert r.status_code == 429

    async def test_connection_reset(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A reset surfaces as a transport error and writes nothing."""
        emu.faults = Faults(reset_next=1)
        with pytest.raises(httpx.TransportError):
            await sync(client, {"p": upsert("product", product("RST", emu))})
        assert pid("RST") not in emu.entities["product"]
        r = await sync(client, {"p": upsert("product", product("RST", emu))})
        assert r.status_code == 200

    async def test_slow_drip(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A dripped response arrives whole but slowly."""
        emu.faults = Faults(drip_chunk_bytes=20, drip_interval_ms=20)
        t = anyio.current_time()
        r = await client.post("/api/search/currency", json={})
        assert r.json()["total"] == 1
        chunks = -(-len(r.content) // 20)
        assert anyio.current_time() - t >= (chunks - 1) * 0.02

    async def test_commit_then_timeout_replay(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A timed-out but committed sync, replayed, creates no duplicate."""
        emu.faults = Faults(commit_then_timeout=1, hang_s=30)
        body = {"p": upsert("product", product("CT", emu))}
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.2):
                await sync(client, body)
        assert pid("CT") in emu.entities["product"]
        r = await sync(client, body)
        assert r.status_code == 200
        numbers = [
            p["productNumber"] for p in emu.entities["product"].values()
        ]
        assert numbers.count("CT") == 1

    async def test_faults_reset_on_assignment(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Assigning Faults starts counting afresh; default is all off."""
        emu.faults = Faults(storm_next=5)
        emu.faults = Faults()
        assert (await client.get("/api/_info/version")).status_code == 200

    async def test_request_log(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Requests are logged with route, item count and byte counters."""
        await sync(
            client,
            {"c": upsert("category", {"name": "a"}, {"name": "b"})},
        )
        rec = emu.requests[-1]
        assert (rec.method, rec.route, rec.status, rec.items) == (
            "POST",
            "sync",
            200,
            2,
        )
        assert emu.route_counts["sync"] == 1
        assert emu.route_counts["token"] == 1
        assert emu.bytes_received >= rec.bytes_in > 0


class TestServe:
    def test_real_http(self) -> None:
        """serve() answers real HTTP on loopback."""
        emu = ShopwareEmulator(client_id=CID, client_secret=SECRET)
        with serve(emu) as base, httpx.Client(base_url=base) as c:
            assert base.startswith("http://127.0.0.1:")
            r = c.post(
                "/api/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": SECRET,
                },
            )
            assert r.status_code == 200
            token = r.json()["access_token"]
            r = c.get(
                "/api/_info/version",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200
        assert emu.route_counts["version"] == 1

    def test_reset_drops_connection(self) -> None:
        """On a real socket an injected reset closes the connection."""
        emu = ShopwareEmulator(
            client_id=CID, client_secret=SECRET, faults=Faults(reset_next=1)
        )
        with serve(emu) as base, httpx.Client(base_url=base) as c:
            with pytest.raises(httpx.TransportError):
                c.get("/api/_info/version")
            assert c.get("/api/_info/version").status_code == 401


class TestCommandLine:
    def test_python_m_serves(self) -> None:
        """`python -m ecomsync.testing.shopware6 --port N` serves the
        emulator: a token request over real HTTP succeeds."""
        import socket
        import subprocess
        import sys
        import time

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecomsync.testing.shopware6",
                "--port",
                str(port),
                "--client-id",
                "SWIACLI",
                "--client-secret",
                "cli-secret",
                "--latency-ms",
                "1",
            ]
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/api/oauth/token",
                        json={
                            "grant_type": "client_credentials",
                            "client_id": "SWIACLI",
                            "client_secret": "cli-secret",
                        },
                    )
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "it never listened"
                    time.sleep(0.2)
            assert 200 == response.status_code
            assert "Bearer" == response.json()["token_type"]
        finally:
            server.terminate()
            server.wait(timeout=10)
