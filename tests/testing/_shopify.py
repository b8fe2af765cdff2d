"""
Helpers of the Shopify emulator tests: a token, a stepping clock, an
in-process client and GraphQL documents.
"""

from __future__ import annotations

from typing import Any

import httpx

from ecomsync.testing.shopify import ShopifyEmulator


TOKEN = "shpat_test"
URL = "/admin/api/2026-01/graphql.json"

PRODUCT_SET = """
mutation($input: ProductSetInput!, $id: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $id) {
    product { id handle variants(first: 10) { nodes {
      id sku price inventoryItem { id } } } }
    userErrors { field message code }
  }
}
"""
INVENTORY = """
mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def client(
    emu: ShopifyEmulator, token: str | None = TOKEN
) -> httpx.AsyncClient:
    headers = {"X-Shopify-Access-Token": token} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="https://shop.test",
        headers=headers,
    )


async def gql(
    emu: ShopifyEmulator,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    url: str = URL,
) -> dict[str, Any]:
    async with client(emu) as c:
        r = await c.post(url, json={"query": query, "variables": variables})
    assert 200 == r.status_code
    answer: dict[str, Any] = r.json()
    return answer


def hammer(sku: str = "SW-1", *, title: str = "Hammer") -> dict[str, Any]:
    return {
        "title": title,
        "productOptions": [
            {"name": "Size", "values": [{"name": "S"}, {"name": "M"}]}
        ],
        "variants": [
            {
                "optionValues": [{"optionName": "Size", "name": "S"}],
                "sku": f"{sku}-S",
                "price": "9.50",
            },
            {
                "optionValues": [{"optionName": "Size", "name": "M"}],
                "sku": f"{sku}-M",
                "price": "10.00",
            },
        ],
    }


def custom(value: str) -> dict[str, Any]:
    return {"customId": {"namespace": "erp", "key": "no", "value": value}}


STAGED = """
mutation($i: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $i) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { message }
  }
}
"""
FILE_CREATE = """
mutation($f: [FileCreateInput!]!) {
  fileCreate(files: $f) { files { id fileStatus } userErrors { message } }
}
"""
FULFIL = """
mutation($f: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $f) {
    fulfillment { status trackingInfo { company number } }
    userErrors { field message }
  }
}
"""
BULK_UPLOAD = """
mutation {
  stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES,
      filename: "vars.jsonl", mimeType: "text/jsonl", httpMethod: POST}]) {
    stagedTargets { url parameters { name value } }
    userErrors { message }
  }
}
"""
BULK_RUN = """
mutation($m: String!, $path: String!) {
  bulkOperationRunMutation(mutation: $m, stagedUploadPath: $path) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""
POLL = """
query($id: ID!) { bulkOperation(id: $id) { status url objectCount } }
"""
