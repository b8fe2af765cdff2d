"""
The Shopify emulator in process: staged uploads and files, inventory,
orders and fulfillment, bulk operations, faults and the request log.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ecomsync.testing.shopify import Faults, ShopifyEmulator

from ._shopify import (
    BULK_RUN,
    BULK_UPLOAD,
    FILE_CREATE,
    FULFIL,
    INVENTORY,
    POLL,
    PRODUCT_SET,
    STAGED,
    TOKEN,
    URL,
    client,
    custom,
    gql,
    hammer,
)


pytestmark = pytest.mark.anyio


@pytest.fixture(name="emu")
def _emu() -> ShopifyEmulator:
    return ShopifyEmulator(TOKEN)


class TestFiles:
    async def test_staged_upload_then_file_ready(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        stagedUploadsCreate gives a POST target; the multipart upload
        lands the bytes, fileCreate from the resourceUrl is PROCESSING
        and READY on the next read.
        """
        staged = await gql(
            emu,
            STAGED,
            {
                "i": [
                    {
                        "resource": "IMAGE",
                        "filename": "a.png",
                        "mimeType": "image/png",
                        "httpMethod": "POST",
                    }
                ]
            },
        )
        target = staged["data"]["stagedUploadsCreate"]["stagedTargets"][0]
        form = {p["name"]: p["value"] for p in target["parameters"]}
        async with client(emu) as c:
            up = await c.post(
                target["url"], data=form, files={"file": ("a.png", b"\x89PNG")}
            )
            created = await gql(
                emu,
                FILE_CREATE,
                {
                    "f": [
                        {
                            "originalSource": target["resourceUrl"],
                            "contentType": "IMAGE",
                        }
                    ]
                },
            )
            (file,) = created["data"]["fileCreate"]["files"]
            read = await gql(
                emu,
                "query($id: ID!) { node(id: $id) { id fileStatus } }",
                {"id": file["id"]},
            )
            fetched = await c.get(target["resourceUrl"])

        assert 201 == up.status_code
        assert "PROCESSING" == file["fileStatus"]
        assert "READY" == read["data"]["node"]["fileStatus"]
        assert b"\x89PNG" == fetched.content

    async def test_file_never_uploaded_fails(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        A file from a staged target that got no bytes ends FAILED.
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
        source = staged["data"]["stagedUploadsCreate"]["stagedTargets"][0][
            "resourceUrl"
        ]
        created = await gql(
            emu,
            FILE_CREATE,
            {"f": [{"originalSource": source, "contentType": "FILE"}]},
        )
        fid = created["data"]["fileCreate"]["files"][0]["id"]
        await gql(emu, "query($id: ID!) { node(id: $id) { id } }", {"id": fid})
        read = await gql(
            emu,
            "query($id: ID!) { node(id: $id) { fileStatus } }",
            {"id": fid},
        )

        assert "FAILED" == read["data"]["node"]["fileStatus"]

    async def test_a_taken_filename_by_duplicate_resolution_mode(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        A filename already in use: APPEND_UUID (the default) adds a file
        with a UUID in its name, RAISE_ERROR refuses with
        FILENAME_ALREADY_EXISTS, REPLACE keeps the file's id; a custom
        filename must keep the source's extension; ``files(query:
        "filename:...")`` finds a file by its name.
        """

        async def create(**extra: Any) -> dict[str, Any]:
            answer = await gql(
                emu,
                "mutation($f: [FileCreateInput!]!) { fileCreate(files: $f) "
                "{ files { id } userErrors { code } } }",
                {
                    "f": [
                        {
                            "originalSource": "https://cdn.test/s/a.png",
                            "contentType": "IMAGE",
                            **extra,
                        }
                    ]
                },
            )
            result: dict[str, Any] = answer["data"]["fileCreate"]
            return result

        first = (await create(filename="x.png"))["files"][0]["id"]
        appended = (await create(filename="x.png"))["files"][0]["id"]
        refused = await create(
            filename="x.png", duplicateResolutionMode="RAISE_ERROR"
        )
        replaced = await create(
            filename="x.png", duplicateResolutionMode="REPLACE"
        )
        mismatched = await create(filename="x.jpg")
        found = await gql(
            emu,
            "query($q: String!) { files(first: 5, query: $q) "
            "{ nodes { id } } }",
            {"q": "filename:'x.png'"},
        )

        assert first != appended
        names = sorted(f["_filename"] for f in emu.shop.files.values())
        assert "x.png" == names[0]
        assert names[1].startswith("x_")
        assert names[1].endswith(".png")
        assert ["FILENAME_ALREADY_EXISTS"] == [
            e["code"] for e in refused["userErrors"]
        ]
        assert [first] == [f["id"] for f in replaced["files"]]
        assert ["MISMATCHED_FILENAME_AND_ORIGINAL_SOURCE"] == [
            e["code"] for e in mismatched["userErrors"]
        ]
        assert [{"id": first}] == found["data"]["files"]["nodes"]
        assert 2 == len(emu.shop.files)


class TestInventory:
    async def _item(self, emu: ShopifyEmulator) -> tuple[str, str]:
        p = await gql(emu, PRODUCT_SET, {"input": hammer(), "id": custom("A")})
        item = p["data"]["productSet"]["product"]["variants"]["nodes"][0][
            "inventoryItem"
        ]["id"]
        loc = await gql(emu, "{ locations(first: 1) { nodes { id } } }")
        return item, loc["data"]["locations"]["nodes"][0]["id"]

    async def test_set_with_stale_check_and_idempotency(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        A quantity is set; a stale changeFromQuantity is
        CHANGE_FROM_QUANTITY_STALE on that quantity; the same idempotency
        key returns the first result without applying twice.
        """
        item, loc = await self._item(emu)

        def body(qty: int, before: int | None) -> dict[str, Any]:
            return {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": item,
                        "locationId": loc,
                        "quantity": qty,
                        "changeFromQuantity": before,
                    }
                ],
            }

        first = await gql(emu, INVENTORY, {"input": body(5, 0), "key": "k1"})
        repeat = await gql(
            emu, INVENTORY, {"input": body(9, None), "key": "k1"}
        )
        stale = await gql(emu, INVENTORY, {"input": body(7, 3), "key": "k2"})

        assert first["data"] == repeat["data"]
        assert (
            5
            == first["data"]["inventorySetQuantities"][
                "inventoryAdjustmentGroup"
            ]["changes"][0]["quantityAfterChange"]
        )
        (error,) = stale["data"]["inventorySetQuantities"]["userErrors"]
        assert (
            "CHANGE_FROM_QUANTITY_STALE",
            ["input", "quantities", "0", "changeFromQuantity"],
        ) == (error["code"], error["field"])
        assert [{"available": 5, "on_hand": 5}] == [
            lv for (it, _), lv in emu.shop.levels.items() if f"/{it}" in item
        ]

    async def test_2026_04_requires_key_and_change_from(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        From 2026-04 a missing @idempotent or a missing changeFromQuantity
        is an error.
        """
        item, loc = await self._item(emu)
        quantities = [
            {"inventoryItemId": item, "locationId": loc, "quantity": 1}
        ]
        url = "/admin/api/2026-04/graphql.json"
        no_key = await gql(
            emu,
            INVENTORY.replace(" @idempotent(key: $key)", "").replace(
                ", $key: String!", ""
            ),
            {
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "quantities": quantities,
                }
            },
            url=url,
        )
        no_from = await gql(
            emu,
            INVENTORY,
            {
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "quantities": quantities,
                },
                "key": "k",
            },
            url=url,
        )

        assert "@idempotent" in no_key["errors"][0]["message"]
        assert "changeFromQuantity" in no_from["errors"][0]["message"]


ORDERS = """
query($q: String, $after: String) {
  orders(first: 1, after: $after, sortKey: UPDATED_AT, query: $q) {
    pageInfo { hasNextPage endCursor }
    nodes { id customer { email } shippingAddress { city }
      lineItems(first: 10) { nodes { sku quantity } }
      fulfillmentOrders(first: 2) { nodes { id status
        lineItems(first: 10) { nodes { id remainingQuantity } } } } }
  }
}
"""


class TestOrders:
    async def test_updated_since_with_cursor_paging(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        updated_at:>= filters, pages follow endCursor, first > 250 is
        refused.
        """
        emu.place_order(
            [("A", 1, "1.00")], updated_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        b = emu.place_order(
            [("B", 2, "2.00")], updated_at=datetime(2026, 2, 1, tzinfo=UTC)
        )
        c = emu.place_order(
            [("C", 3, "3.00")], updated_at=datetime(2026, 3, 1, tzinfo=UTC)
        )
        q = "updated_at:>='2026-01-15T00:00:00Z'"
        page1 = (await gql(emu, ORDERS, {"q": q}))["data"]["orders"]
        page2 = (
            await gql(
                emu, ORDERS, {"q": q, "after": page1["pageInfo"]["endCursor"]}
            )
        )["data"]["orders"]
        too_many = await gql(emu, "{ orders(first: 251) { nodes { id } } }")

        assert [b, c] == [page1["nodes"][0]["id"], page2["nodes"][0]["id"]]
        assert (True, False) == (
            page1["pageInfo"]["hasNextPage"],
            page2["pageInfo"]["hasNextPage"],
        )
        assert "250" in too_many["errors"][0]["message"]

    async def test_fulfillment_with_tracking(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        fulfillmentCreate on the open fulfillment order fulfils its lines,
        closes it and records the tracking; a second one is refused.
        """
        oid = emu.place_order([("A", 2, "1.00")])
        order = (await gql(emu, ORDERS))["data"]["orders"]["nodes"][0]
        fo = order["fulfillmentOrders"]["nodes"][0]
        mutation = FULFIL
        f = {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}],
            "trackingInfo": {"company": "DHL", "number": "123"},
        }
        done = await gql(emu, mutation, {"f": f})
        again = await gql(emu, mutation, {"f": f})
        after = await gql(
            emu,
            "query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }",
            {"id": oid},
        )

        assert [{"company": "DHL", "number": "123"}] == done["data"][
            "fulfillmentCreate"
        ]["fulfillment"]["trackingInfo"]
        assert again["data"]["fulfillmentCreate"]["userErrors"]
        assert (
            "FULFILLED" == after["data"]["order"]["displayFulfillmentStatus"]
        )

    async def test_tracking_info_update(self, emu: ShopifyEmulator) -> None:
        """
        fulfillmentTrackingInfoUpdate replaces a fulfilment's tracking;
        an unknown fulfilment is a userError on fulfillmentId.
        """
        emu.place_order([("A", 1, "1.00")])
        order = (await gql(emu, ORDERS))["data"]["orders"]["nodes"][0]
        fo = order["fulfillmentOrders"]["nodes"][0]
        f = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}
        done = await gql(
            emu,
            "mutation($f: FulfillmentInput!) { fulfillmentCreate("
            "fulfillment: $f) { fulfillment { id } } }",
            {"f": f},
        )
        track = (
            "mutation($id: ID!, $t: FulfillmentTrackingInput!) { "
            "fulfillmentTrackingInfoUpdate(fulfillmentId: $id, "
            "trackingInfoInput: $t) { fulfillment { trackingInfo { number "
            "} } userErrors { field message } } }"
        )
        fid = done["data"]["fulfillmentCreate"]["fulfillment"]["id"]
        given = {"numbers": ["T-1", "T-2"]}
        updated = await gql(emu, track, {"id": fid, "t": given})
        unknown = await gql(
            emu, track, {"id": "gid://shopify/Fulfillment/999", "t": given}
        )

        answer = updated["data"]["fulfillmentTrackingInfoUpdate"]
        assert [{"number": "T-1"}, {"number": "T-2"}] == answer["fulfillment"][
            "trackingInfo"
        ]
        (error,) = unknown["data"]["fulfillmentTrackingInfoUpdate"][
            "userErrors"
        ]
        assert ["fulfillmentId"] == error["field"]


class TestBulk:
    async def test_bulk_product_set(self, emu: ShopifyEmulator) -> None:
        """
        A JSONL of productSet variables runs as one bulk operation: RUNNING
        on the first poll, then COMPLETED with a result file of one line
        per input line by __lineNumber (userErrors included); a second one
        meanwhile is OPERATION_IN_PROGRESS.
        """
        staged = (await gql(emu, BULK_UPLOAD))["data"]["stagedUploadsCreate"][
            "stagedTargets"
        ][0]
        form = {p["name"]: p["value"] for p in staged["parameters"]}
        lines = [
            {"input": hammer(f"S{i}", title=f"T{i}"), "id": custom(f"S{i}")}
            for i in range(3)
        ]
        lines[1]["input"]["title"] = ""
        jsonl = "\n".join(json.dumps(x) for x in lines).encode()
        async with client(emu) as c:
            await c.post(
                staged["url"], data=form, files={"file": ("vars.jsonl", jsonl)}
            )
            run = await gql(
                emu, BULK_RUN, {"m": PRODUCT_SET, "path": form["key"]}
            )
            busy = await gql(
                emu, BULK_RUN, {"m": PRODUCT_SET, "path": form["key"]}
            )
            poll = POLL
            op_id = run["data"]["bulkOperationRunMutation"]["bulkOperation"][
                "id"
            ]
            first = (await gql(emu, poll, {"id": op_id}))["data"][
                "bulkOperation"
            ]
            second = (await gql(emu, poll, {"id": op_id}))["data"][
                "bulkOperation"
            ]
            result = await c.get(second["url"])

        rows = sorted(
            (json.loads(x) for x in result.text.splitlines()),
            key=lambda r: r["__lineNumber"],
        )
        assert ("RUNNING", "COMPLETED") == (first["status"], second["status"])
        assert (
            "OPERATION_IN_PROGRESS"
            == busy["data"]["bulkOperationRunMutation"]["userErrors"][0][
                "code"
            ]
        )
        assert [0, 1, 2] == [r["__lineNumber"] for r in rows]
        assert [[], ["input", "title"], []] == [
            [
                f
                for e in r["data"]["productSet"]["userErrors"]
                for f in e["field"]
            ]
            for r in rows
        ]
        assert 2 == len(emu.shop.products)

    async def test_bulk_without_upload(self, emu: ShopifyEmulator) -> None:
        """
        A stagedUploadPath with no uploaded file is NO_SUCH_FILE; a query
        as the mutation is INVALID_MUTATION.
        """
        missing = await gql(
            emu, BULK_RUN, {"m": PRODUCT_SET, "path": "tmp/1/none.jsonl"}
        )
        query = await gql(
            emu,
            BULK_RUN,
            {"m": "{ locations(first: 1) { nodes { id } } }", "path": "x"},
        )

        assert (
            "NO_SUCH_FILE"
            == missing["data"]["bulkOperationRunMutation"]["userErrors"][0][
                "code"
            ]
        )
        assert (
            "INVALID_MUTATION"
            == query["data"]["bulkOperationRunMutation"]["userErrors"][0][
                "code"
            ]
        )


class TestFaults:
    async def test_storm_then_recovers(self, emu: ShopifyEmulator) -> None:
        """
        A 503 storm answers the next request with Retry-After, and the
        request log records statuses and costs.
        """
        emu.faults = Faults(storm_next=1, storm_status=503, retry_after="2")
        async with client(emu) as c:
            stormy = await c.post(
                URL, json={"query": "{ locations(first: 1) { nodes { id } } }"}
            )
            calm = await c.post(
                URL, json={"query": "{ locations(first: 1) { nodes { id } } }"}
            )

        assert (503, "2") == (
            stormy.status_code,
            stormy.headers["retry-after"],
        )
        assert 200 == calm.status_code
        assert [(503, None), (200, 3)] == [
            (r.status, r.cost) for r in emu.requests
        ]
