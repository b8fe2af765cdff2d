"""
The Shopify emulator's smaller paths: collections and products by
identifier, deletions, variants and inventory items, customers, files,
paging errors, PUT uploads, bulk refusals, inventory and fulfillment
refusals, the command line's parser and ready line.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.testing.shopify.__main__ import READY, _parser, ready_line

from ._shopify import (
    BULK_RUN,
    FULFIL,
    INVENTORY,
    PRODUCT_SET,
    STAGED,
    TOKEN,
    client,
    custom,
    gql,
    hammer,
)


pytestmark = pytest.mark.anyio


@pytest.fixture(name="emu")
def _emu() -> ShopifyEmulator:
    return ShopifyEmulator(TOKEN)


async def _product(emu: ShopifyEmulator) -> dict[str, object]:
    answer = await gql(
        emu, PRODUCT_SET, {"input": hammer(), "id": custom("A")}
    )
    product: dict[str, object] = answer["data"]["productSet"]["product"]
    return product


async def test_collections_update_delete(emu: ShopifyEmulator) -> None:
    """
    A collection is created, renamed, listed and deleted; a blank title,
    a taken handle and an unknown id are userErrors.
    """
    write = (
        "mutation($i: CollectionInput!) { %s(input: $i) {"
        " collection { id title } userErrors { field code } } }"
    )
    made = await gql(
        emu, write % "collectionCreate", {"i": {"title": "A", "handle": "h"}}
    )
    cid = made["data"]["collectionCreate"]["collection"]["id"]
    renamed = await gql(
        emu, write % "collectionUpdate", {"i": {"id": cid, "title": "B"}}
    )
    blank = await gql(emu, write % "collectionCreate", {"i": {"title": " "}})
    taken = await gql(
        emu, write % "collectionCreate", {"i": {"title": "C", "handle": "h"}}
    )
    unknown = await gql(
        emu,
        write % "collectionUpdate",
        {"i": {"id": "gid://shopify/Collection/9"}},
    )
    listed = await gql(emu, "{ collections(first: 5) { nodes { title } } }")
    one = await gql(
        emu, "query($id: ID!) { collection(id: $id) { title } }", {"id": cid}
    )
    delete = (
        "mutation($i: ProductDeleteInput!) { collectionDelete(input: $i) {"
        " deletedCollectionId userErrors { code } } }"
    )
    gone = await gql(emu, delete, {"i": {"id": cid}})
    again = await gql(emu, delete, {"i": {"id": cid}})

    assert "B" == renamed["data"]["collectionUpdate"]["collection"]["title"]
    assert ["BLANK", "TAKEN", "NOT_FOUND"] == [
        a["data"][k]["userErrors"][0]["code"]
        for a, k in (
            (blank, "collectionCreate"),
            (taken, "collectionCreate"),
            (unknown, "collectionUpdate"),
        )
    ]
    assert [{"title": "B"}] == listed["data"]["collections"]["nodes"]
    assert {"title": "B"} == one["data"]["collection"]
    assert cid == gone["data"]["collectionDelete"]["deletedCollectionId"]
    assert (
        "NOT_FOUND"
        == again["data"]["collectionDelete"]["userErrors"][0]["code"]
    )


async def test_products_by_identifier_and_delete(emu: ShopifyEmulator) -> None:
    """
    A product is found by customId, handle and id, listed with a filter,
    its variant and inventory item read, and deleted; an unknown id is
    PRODUCT_DOES_NOT_EXIST.
    """
    product = await _product(emu)
    pid = product["id"]
    by = (
        "query($i: ProductIdentifierInput!) {"
        " productByIdentifier(identifier: $i) { id } }"
    )
    found = [
        (await gql(emu, by, {"i": ident}))["data"]["productByIdentifier"]
        for ident in (
            custom("A"),
            {"handle": "hammer"},
            {"id": pid},
        )
    ]
    listed = await gql(
        emu,
        "{ products(first: 5, sortKey: UPDATED_AT, reverse: true, query: "
        "\"updated_at:>'2000-01-01'\") { nodes { id metafield(namespace: "
        '"erp", key: "no") { value } } } }',
    )
    variant = product["variants"]["nodes"][0]  # type: ignore[index]
    read = await gql(
        emu,
        "query($v: ID!, $i: ID!) { productVariant(id: $v) { sku product { id "
        "} }"
        " inventoryItem(id: $i) { sku inventoryLevels(first: 5) { nodes { "
        'quantities(names: ["available"]) { quantity } } } } }',
        {"v": variant["id"], "i": variant["inventoryItem"]["id"]},
    )
    missing = await gql(
        emu,
        PRODUCT_SET,
        {"input": hammer(), "id": {"id": "gid://shopify/Product/1"}},
    )
    by_input = await gql(
        emu,
        PRODUCT_SET,
        {"input": dict(hammer(), id="gid://shopify/Product/2")},
    )
    delete = (
        "mutation($i: ProductDeleteInput!) { productDelete(input: $i) {"
        " deletedProductId userErrors { code } } }"
    )
    gone = await gql(emu, delete, {"i": {"id": pid}})
    again = await gql(emu, delete, {"i": {"id": pid}})

    assert [{"id": pid}] * 3 == found
    assert [{"id": pid, "metafield": {"value": "A"}}] == listed["data"][
        "products"
    ]["nodes"]
    assert pid == read["data"]["productVariant"]["product"]["id"]
    assert [{"quantities": [{"quantity": 0}]}] == read["data"][
        "inventoryItem"
    ]["inventoryLevels"]["nodes"]
    assert (
        "PRODUCT_DOES_NOT_EXIST"
        == missing["data"]["productSet"]["userErrors"][0]["code"]
    )
    assert ["input", "id"] == by_input["data"]["productSet"]["userErrors"][0][
        "field"
    ]
    assert pid == gone["data"]["productDelete"]["deletedProductId"]
    assert (
        "NOT_FOUND" == again["data"]["productDelete"]["userErrors"][0]["code"]
    )
    assert {} == emu.shop.variants


async def test_paging_refusals(emu: ShopifyEmulator) -> None:
    """
    A connection without first and a cursor that is not one are errors.
    """
    no_first = await gql(emu, "{ locations { nodes { id } } }")
    bad_cursor = await gql(
        emu, '{ locations(first: 1, after: "!!") { nodes { id } } }'
    )

    assert "first or last" in no_first["errors"][0]["message"]
    assert "Invalid cursor" in bad_cursor["errors"][0]["message"]


async def test_customers_and_current_bulk(emu: ShopifyEmulator) -> None:
    """
    Customers filter by updated_at; no bulk operation yet is null.
    """
    emu.place_order(
        [("A", 1, "1.00")], updated_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    answer = await gql(
        emu,
        "{ customers(first: 5, query: \"updated_at:<'2027-01-01'\") { nodes "
        "{ email } }"
        " currentBulkOperation(type: MUTATION) { id } files(first: 5) { "
        "nodes { id } } }",
    )

    assert [{"email": "buyer@example.com"}] == answer["data"]["customers"][
        "nodes"
    ]
    assert answer["data"]["currentBulkOperation"] is None
    assert [] == answer["data"]["files"]["nodes"]


async def test_put_upload_and_bad_form(emu: ShopifyEmulator) -> None:
    """
    A PUT target takes the body; a POST without key and file is 400; an
    unknown key is 404; fileCreate refuses a source that is not a URL.
    """
    staged = await gql(
        emu,
        STAGED,
        {
            "i": [
                {
                    "resource": "FILE",
                    "filename": "a.pdf",
                    "mimeType": "application/pdf",
                    "httpMethod": "PUT",
                }
            ]
        },
    )
    target = staged["data"]["stagedUploadsCreate"]["stagedTargets"][0]
    async with client(emu) as c:
        put = await c.put(target["url"], content=b"%PDF")
        got = await c.get(target["resourceUrl"])
        bad = await c.post(
            "/_staged/upload", data={"x": "1"}, files={"y": ("a", b"")}
        )
        unknown = await c.get("/_staged/tmp/0/none")
        other = await c.get("/elsewhere")
    created = await gql(
        emu,
        "mutation($f: [FileCreateInput!]!) { fileCreate(files: $f) { files { "
        "id } userErrors { field } } }",
        {"f": [{"originalSource": "file.png"}]},
    )

    assert (200, b"%PDF") == (put.status_code, got.content)
    assert (400, 404, 404) == (
        bad.status_code,
        unknown.status_code,
        other.status_code,
    )
    assert ["files", "0", "originalSource"] == created["data"]["fileCreate"][
        "userErrors"
    ][0]["field"]


async def test_bulk_refusals(emu: ShopifyEmulator) -> None:
    """
    A JSONL line that is not an object, or not JSON, is
    INVALID_STAGED_UPLOAD_FILE; a mutation that does not parse is
    INVALID_MUTATION.
    """
    emu.shop.staged["k1"] = b"[1]\n"
    emu.shop.staged["k2"] = b"{nope\n"
    codes = []
    for mutation, path in (
        (PRODUCT_SET, "k1"),
        (PRODUCT_SET, "k2"),
        ("mutation {", "k1"),
    ):
        answer = await gql(emu, BULK_RUN, {"m": mutation, "path": path})
        codes.append(
            answer["data"]["bulkOperationRunMutation"]["userErrors"][0]["code"]
        )

    assert ["INVALID_STAGED_UPLOAD_FILE"] * 2 + ["INVALID_MUTATION"] == codes


async def test_inventory_refusals(emu: ShopifyEmulator) -> None:
    """
    An unknown location, an unknown item and a wrong quantity name are
    userErrors; nothing is applied.
    """
    product = await _product(emu)
    item = product["variants"]["nodes"][0]["inventoryItem"]["id"]  # type: ignore[index]
    loc = next(iter(emu.shop.locations.values()))["id"]

    async def codes(name: str, item_id: str, location: str) -> list[str]:
        answer = await gql(
            emu,
            INVENTORY,
            {
                "key": f"{name}{item_id}{location}",
                "input": {
                    "name": name,
                    "reason": "correction",
                    "quantities": [
                        {
                            "inventoryItemId": item_id,
                            "locationId": location,
                            "quantity": 1,
                        }
                    ],
                },
            },
        )
        return [
            e["code"]
            for e in answer["data"]["inventorySetQuantities"]["userErrors"]
        ]

    assert ["INVALID_LOCATION"] == await codes(
        "available", item, "gid://shopify/Location/9"
    )
    assert ["INVALID_INVENTORY_ITEM"] == await codes(
        "available", "gid://shopify/InventoryItem/9", loc
    )
    assert ["INVALID_NAME"] == await codes("committed", item, loc)
    emu.shop.add_location("Second")  # stocks nothing (Shopify neither)
    assert 1 == sum(
        1 for (it, _) in emu.shop.levels if item.endswith(f"/{it}")
    )


async def test_fulfillment_refusals(emu: ShopifyEmulator) -> None:
    """
    A tracking URL without a number, an unknown fulfillment order and a
    quantity over the remaining one are userErrors; a partial fulfilment
    leaves the order PARTIALLY_FULFILLED.
    """
    emu.place_order([("A", 2, "1.00")])
    fo = next(iter(emu.shop.fulfillment_orders.values()))["id"]
    line = emu.shop.orders[next(iter(emu.shop.orders))]["_lines"][0][
        "_fo_line"
    ]

    async def fulfil(f: dict[str, object]) -> dict[str, object]:
        answer = await gql(emu, FULFIL, {"f": f})
        result: dict[str, object] = answer["data"]["fulfillmentCreate"]
        return result

    url_only = await fulfil(
        {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo}],
            "trackingInfo": {"url": "https://t.example"},
        }
    )
    unknown = await fulfil(
        {
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/9"}
            ]
        }
    )
    too_many = await fulfil(
        {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fo,
                    "fulfillmentOrderLineItems": [{"id": line, "quantity": 3}],
                }
            ]
        }
    )
    partial = await fulfil(
        {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fo,
                    "fulfillmentOrderLineItems": [{"id": line, "quantity": 1}],
                }
            ]
        }
    )

    assert url_only["userErrors"]
    assert unknown["userErrors"]
    assert too_many["userErrors"]
    assert partial["fulfillment"] is not None
    order = next(iter(emu.shop.orders.values()))
    assert "PARTIALLY_FULFILLED" == order["displayFulfillmentStatus"]


async def test_non_graphql_bodies(emu: ShopifyEmulator) -> None:
    """
    A body without a query is 400; a syntax error is PARSE_ERROR with a
    cost of 0; an unknown operation name is an error.
    """
    async with client(emu) as c:
        r = await c.post(
            "/admin/api/2026-01/graphql.json", content=b"not json"
        )
    parsed = await gql(emu, "{ locations(first: 1) {")
    unknown = await gql(
        emu, "query A { locations(first: 1) { nodes { id } } }"
    )
    named = emu.graphql(
        TOKEN, {"query": "query A { __typename }", "operationName": "B"}
    )

    assert 400 == r.status_code
    assert "PARSE_ERROR" == parsed["errors"][0]["extensions"]["code"]
    assert "data" in unknown
    assert "Unknown operation" in json.dumps(named[1])


def test_command_line_parser() -> None:
    """
    The parser's defaults and the ready line's shape (the token absent).
    """
    args = _parser().parse_args(["--port", "0", "--access-token", "shpat_x"])
    line = ready_line("http://127.0.0.1:1")

    assert (0, "shpat_x", 2000.0, 100.0, 200) == (
        args.port,
        args.access_token,
        args.maximum,
        args.restore_rate,
        args.throttle_status,
    )
    assert line.startswith(f"{READY} base_url=http://127.0.0.1:1 graphql=")
    assert "shpat" not in line


async def test_locations_sorted_by_name_primary_apart(
    emu: ShopifyEmulator,
) -> None:
    """
    locations lists by NAME unless told otherwise; location without an
    id is the primary location.
    """
    outlet = emu.shop.add_location("Amsterdam")
    listed = await gql(
        emu,
        "{ byName: locations(first: 5) { nodes { name } }"
        " byId: locations(first: 5, sortKey: ID, reverse: true)"
        " { nodes { name } } location { name } }",
    )
    data = listed["data"]
    assert [n["name"] for n in data["byName"]["nodes"]] == [
        "Amsterdam",
        "Warehouse",
    ]
    assert [n["name"] for n in data["byId"]["nodes"]] == [
        "Amsterdam",
        "Warehouse",
    ]
    assert data["location"] == {"name": "Warehouse"}
    emu.shop.add_location("Zentrallager", primary=True)
    again = await gql(emu, "{ location { name } }")
    assert again["data"]["location"] == {"name": "Zentrallager"}
    one = await gql(emu, f'{{ location(id: "{outlet}") {{ name }} }}')
    assert one["data"]["location"] == {"name": "Amsterdam"}
