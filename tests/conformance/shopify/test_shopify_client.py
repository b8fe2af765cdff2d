"""
The Shopify emulator's command line driven by Shopify's own Python client
(PyPI ``ShopifyAPI``, its ``GraphQL()`` client), as a host would use it.

``shopify.Session`` always builds ``https://{shop}.myshopify.com``; the
client's documented session flow is kept (``Session`` with the token,
``ShopifyResource.activate_session``) and only the site is pointed at the
emulator afterwards with ``ShopifyResource.set_site`` (pyactiveresource's
public setter, which ``GraphQL()`` reads together with the session's
``X-Shopify-Access-Token`` header).
"""

from __future__ import annotations

import json
import re
import urllib.error
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import shopify  # type: ignore[import-untyped]

from ecomsync.testing.shopify import ShopifyEmulator, serve
from ecomsync.testing.shopify.__main__ import READY

from ..._emulator_process import emulator_process


TOKEN = "shpat_conformance"
VERSION = "2026-01"
_LINE = re.compile(rf"^{READY} base_url=(?P<url>http://\S+) ")

PRODUCT_SET = """
mutation($input: ProductSetInput!, $id: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $id) {
    product { id handle variants(first: 10) {
      nodes { id sku inventoryItem { id } } } }
    userErrors { field message code }
  }
}
"""
STAGED = """
mutation($i: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $i) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { message }
  }
}
"""


@pytest.fixture(name="base_url", scope="module")
def _base_url() -> Iterator[str]:
    with emulator_process("shopify", "--access-token", TOKEN) as ready:
        assert TOKEN not in ready.line
        assert ready.fields["graphql"].startswith(ready.base_url)
        yield ready.base_url


def _client(base_url: str, token: str = TOKEN) -> Any:
    session = shopify.Session("emulator.myshopify.com", VERSION, token)
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.set_site(f"{base_url}/admin/api/{VERSION}")
    return shopify.GraphQL()


def _run(
    gql: Any, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(gql.execute(query, variables))
    return answer


def _hammer(sku: str) -> dict[str, Any]:
    return {
        "input": {
            "title": f"Hammer {sku}",
            "productOptions": [
                {"name": "Title", "values": [{"name": "Default Title"}]}
            ],
            "variants": [
                {
                    "optionValues": [
                        {"optionName": "Title", "name": "Default Title"}
                    ],
                    "sku": sku,
                    "price": "19.99",
                }
            ],
        },
        "id": {"customId": {"namespace": "erp", "key": "no", "value": sku}},
    }


@pytest.fixture(autouse=True)
def _no_session() -> Iterator[None]:
    yield
    shopify.ShopifyResource.clear_session()


class TestAuth:
    @pytest.mark.parametrize("token", ["", "shpat_wrong"])
    def test_missing_or_wrong_token(self, base_url: str, token: str) -> None:
        """
        The client's request with no or a wrong token is refused with 401.
        """
        gql = _client(base_url, token)

        with pytest.raises(urllib.error.HTTPError) as caught:
            gql.execute("{ locations(first: 1) { nodes { id } } }")

        assert 401 == caught.value.code


class TestCatalogue:
    def test_product_set_upsert_and_cost(self, base_url: str) -> None:
        """
        productSet by customId creates then updates one product with GIDs;
        each answer carries extensions.cost with the throttle status.
        """
        gql = _client(base_url)
        first = _run(gql, PRODUCT_SET, _hammer("C-1"))
        second = _run(gql, PRODUCT_SET, _hammer("C-1"))

        p1 = first["data"]["productSet"]["product"]
        p2 = second["data"]["productSet"]["product"]
        assert p1["id"] == p2["id"]
        assert p1["id"].startswith("gid://shopify/Product/")
        cost = second["extensions"]["cost"]
        assert cost["requestedQueryCost"] == cost["actualQueryCost"] > 0
        assert {
            "maximumAvailable",
            "currentlyAvailable",
            "restoreRate",
        } == set(cost["throttleStatus"])

    def test_user_errors_under_200(self, base_url: str) -> None:
        """
        A variant naming an option the product lacks is a userError with
        the field path, not an HTTP error.
        """
        gql = _client(base_url)
        bad = _hammer("C-2")
        bad["input"]["variants"][0]["optionValues"][0]["optionName"] = "Size"
        answer = _run(gql, PRODUCT_SET, bad)

        (error,) = answer["data"]["productSet"]["userErrors"]
        assert ["input", "variants", "0", "optionValues"] == error["field"]

    def test_stock_collections_orders(self, base_url: str) -> None:
        """
        Collections, locations, inventorySetQuantities with @idempotent
        and the orders query the adapter uses run through the client.
        """
        gql = _client(base_url)
        made = _run(
            gql,
            "mutation($i: CollectionInput!) { collectionCreate(input: $i) {"
            " collection { id } userErrors { field message } } }",
            {"i": {"title": "Conformance"}},
        )
        product = _run(gql, PRODUCT_SET, _hammer("C-3"))["data"]["productSet"]
        item = product["product"]["variants"]["nodes"][0]["inventoryItem"]
        loc = _run(gql, "{ locations(first: 5) { nodes { id } } }")
        stock = _run(
            gql,
            "mutation($input: InventorySetQuantitiesInput!, $k: String!) {"
            " inventorySetQuantities(input: $input) @idempotent(key: $k) {"
            " inventoryAdjustmentGroup { changes { delta } }"
            " userErrors { field message code } } }",
            {
                "k": "conformance-1",
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "quantities": [
                        {
                            "inventoryItemId": item["id"],
                            "locationId": loc["data"]["locations"]["nodes"][0][
                                "id"
                            ],
                            "quantity": 4,
                            "changeFromQuantity": None,
                        }
                    ],
                },
            },
        )
        orders = _run(
            gql,
            "query($q: String) { orders(first: 50, sortKey: UPDATED_AT,"
            " query: $q) { pageInfo { hasNextPage endCursor }"
            " nodes { id updatedAt } } }",
            {"q": "updated_at:>='2020-01-01T00:00:00Z'"},
        )

        assert made["data"]["collectionCreate"]["collection"]["id"].startswith(
            "gid://shopify/Collection/"
        )
        group = stock["data"]["inventorySetQuantities"]
        assert [{"delta": 4}] == group["inventoryAdjustmentGroup"]["changes"]
        assert {"hasNextPage": False} == {
            "hasNextPage": orders["data"]["orders"]["pageInfo"]["hasNextPage"]
        }


class TestLimits:
    def test_max_cost_exceeded(self, base_url: str) -> None:
        """
        A query over 1,000 points is MAX_COST_EXCEEDED with its cost.
        """
        gql = _client(base_url)
        answer = _run(
            gql,
            "{ products(first: 250) { nodes { id"
            " variants(first: 250) { nodes { id } } } } }",
        )

        error = answer["errors"][0]
        assert "MAX_COST_EXCEEDED" == error["extensions"]["code"]
        assert answer["extensions"]["cost"]["requestedQueryCost"] > 1000

    def test_throttled_when_empty(self) -> None:
        """
        With the bucket drained the client gets THROTTLED under HTTP 200
        with the throttle status to compute its wait from.
        """
        emu = ShopifyEmulator(TOKEN, maximum=100, restore_rate=0.001)
        query = "{ products(first: 60) { nodes { id } } }"  # 62 points
        with serve(emu) as base_url:
            gql = _client(base_url)
            ok = _run(gql, query)
            throttled = _run(gql, query)

        assert "data" in ok
        assert "THROTTLED" == throttled["errors"][0]["extensions"]["code"]
        status = throttled["extensions"]["cost"]["throttleStatus"]
        assert (100.0, 38, 0.001) == (
            status["maximumAvailable"],
            status["currentlyAvailable"],
            status["restoreRate"],
        )


class TestBulk:
    def test_bulk_mutation_to_result_file(self, base_url: str) -> None:
        """
        Staged upload of a JSONL, bulkOperationRunMutation, polling
        bulkOperation until COMPLETED, and the result file downloads with
        one line per input line (in any order, by __lineNumber).
        """
        gql = _client(base_url)
        staged = _run(
            gql,
            STAGED,
            {
                "i": [
                    {
                        "resource": "BULK_MUTATION_VARIABLES",
                        "filename": "vars.jsonl",
                        "mimeType": "text/jsonl",
                        "httpMethod": "POST",
                    }
                ]
            },
        )
        target = staged["data"]["stagedUploadsCreate"]["stagedTargets"][0]
        form = {p["name"]: p["value"] for p in target["parameters"]}
        jsonl = "\n".join(json.dumps(_hammer(f"B-{i}")) for i in range(5))
        upload = httpx.post(
            target["url"], data=form, files={"file": ("vars.jsonl", jsonl)}
        )
        run = _run(
            gql,
            "mutation($m: String!, $p: String!) {"
            " bulkOperationRunMutation(mutation: $m, stagedUploadPath: $p) {"
            " bulkOperation { id status } userErrors { field message } } }",
            {"m": PRODUCT_SET, "p": form["key"]},
        )
        op = run["data"]["bulkOperationRunMutation"]["bulkOperation"]
        poll = "query($id: ID!) { bulkOperation(id: $id) { status url } }"
        statuses = []
        for _ in range(5):
            current = _run(gql, poll, {"id": op["id"]})["data"][
                "bulkOperation"
            ]
            statuses.append(current["status"])
            if current["status"] == "COMPLETED":
                break
        result = httpx.get(current["url"])

        assert 201 == upload.status_code
        assert "COMPLETED" == statuses[-1]
        lines = [json.loads(x) for x in result.text.splitlines()]
        assert list(range(5)) == sorted(x["__lineNumber"] for x in lines)
        assert all(
            x["data"]["productSet"]["product"]["id"].startswith(
                "gid://shopify/Product/"
            )
            for x in lines
        )
