"""
The Shopify emulator's bulk operations as Shopify runs them (nothing at
creation, a share per poll, results out of order, cancellation and
failure with partial data), its product indexes, and orderCancel.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecomsync.testing.shopify import ShopifyEmulator

from ._shopify import (
    BULK_RUN,
    PRODUCT_SET,
    TOKEN,
    client,
    custom,
    gql,
    hammer,
)


pytestmark = pytest.mark.anyio

POLL = """
query($id: ID!) { bulkOperation(id: $id) {
  status errorCode objectCount url partialDataUrl } }
"""
CANCEL = """
mutation($id: ID!) { bulkOperationCancel(id: $id) {
  bulkOperation { status } userErrors { field message code } } }
"""
ORDER_CANCEL = """
mutation($id: ID!) {
  orderCancel(orderId: $id, reason: OTHER, refund: false, restock: true) {
    job { id done } orderCancelUserErrors { field message code } } }
"""
JOB = "query($id: ID!) { job(id: $id) { id done } }"


def _stage(emu: ShopifyEmulator, count: int) -> str:
    lines = [
        json.dumps(
            {"input": hammer(f"B{i}", title=f"T{i}"), "id": custom(f"B{i}")}
        )
        for i in range(count)
    ]
    emu.shop.staged["tmp/vars.jsonl"] = "\n".join(lines).encode()
    return "tmp/vars.jsonl"


async def _run(emu: ShopifyEmulator, count: int) -> str:
    path = _stage(emu, count)
    answer = await gql(emu, BULK_RUN, {"m": PRODUCT_SET, "path": path})
    op: dict[str, Any] = answer["data"]["bulkOperationRunMutation"]
    assert [] == op["userErrors"]
    return str(op["bulkOperation"]["id"])


async def _poll(emu: ShopifyEmulator, op: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await gql(emu, POLL, {"id": op}))["data"][
        "bulkOperation"
    ]
    return answer


async def _lines(emu: ShopifyEmulator, url: str) -> list[dict[str, Any]]:
    async with client(emu) as c:
        r = await c.get(url)
    assert 200 == r.status_code
    return [json.loads(x) for x in r.text.splitlines()]


class TestBulkProgress:
    async def test_nothing_runs_until_polled(self) -> None:
        """
        Creating the operation writes nothing; each RUNNING poll runs a
        share of the lines; the result file is not in input order and
        every line carries its __lineNumber.
        """
        emu = ShopifyEmulator(TOKEN, bulk_polls=2)
        op = await _run(emu, 6)
        created = len(emu.shop.products)
        first = await _poll(emu, op)
        after_first = len(emu.shop.products)
        await _poll(emu, op)
        done = await _poll(emu, op)
        lines = await _lines(emu, done["url"])

        assert (0, 2) == (created, after_first)
        assert ("RUNNING", "2") == (first["status"], first["objectCount"])
        assert ("COMPLETED", "6") == (done["status"], done["objectCount"])
        numbers = [x["__lineNumber"] for x in lines]
        assert numbers != sorted(numbers)
        assert list(range(6)) == sorted(numbers)

    async def test_cancel_keeps_partial_data(self) -> None:
        """
        bulkOperationCancel stops a running operation: CANCELING, then
        CANCELED with partialDataUrl holding the lines that ran; the
        products of the other lines are not written; cancelling again is
        refused.
        """
        emu = ShopifyEmulator(TOKEN, bulk_polls=2)
        op = await _run(emu, 6)
        await _poll(emu, op)
        canceling = await gql(emu, CANCEL, {"id": op})
        canceled = await _poll(emu, op)
        again = await gql(emu, CANCEL, {"id": op})
        lines = await _lines(emu, canceled["partialDataUrl"])

        assert (
            "CANCELING"
            == canceling["data"]["bulkOperationCancel"]["bulkOperation"][
                "status"
            ]
        )
        assert ("CANCELED", None) == (canceled["status"], canceled["url"])
        assert [0, 1] == sorted(x["__lineNumber"] for x in lines)
        assert 2 == len(emu.shop.products)
        assert (
            "INVALID"
            == again["data"]["bulkOperationCancel"]["userErrors"][0]["code"]
        )

    async def test_failure_keeps_partial_data(self) -> None:
        """
        An operation that fails midway is FAILED with
        INTERNAL_SERVER_ERROR and the lines that ran as partialDataUrl;
        a new operation may start after it.
        """
        emu = ShopifyEmulator(TOKEN, bulk_polls=0)
        emu.bulk_fail_after = 3
        op = await _run(emu, 5)
        failed = await _poll(emu, op)
        lines = await _lines(emu, failed["partialDataUrl"])
        second = await _run(emu, 1)

        assert ("FAILED", "INTERNAL_SERVER_ERROR") == (
            failed["status"],
            failed["errorCode"],
        )
        assert [0, 1, 2] == sorted(x["__lineNumber"] for x in lines)
        assert second.startswith("gid://shopify/BulkOperation/")

    async def test_refusals(self) -> None:
        """
        A mutation with two root fields or one that does not validate is
        INVALID_MUTATION; a variables file over 20 MiB is
        INVALID_STAGED_UPLOAD_FILE; an unknown operation cannot be
        cancelled.
        """
        emu = ShopifyEmulator(TOKEN)
        path = _stage(emu, 1)
        two = (
            "mutation($i: ProductSetInput!) { a: productSet(input: $i) "
            "{ product { id } } b: productSet(input: $i) { product { id } } }"
        )
        invalid = "mutation { productSet(input: {}) { nope } }"
        codes = []
        for mutation in (two, invalid):
            answer = await gql(emu, BULK_RUN, {"m": mutation, "path": path})
            codes.append(
                answer["data"]["bulkOperationRunMutation"]["userErrors"][0][
                    "code"
                ]
            )
        emu.shop.staged[path] = b"{}\n" * (7 * 1024 * 1024)
        big = await gql(emu, BULK_RUN, {"m": PRODUCT_SET, "path": path})
        unknown = await gql(
            emu, CANCEL, {"id": "gid://shopify/BulkOperation/1"}
        )

        assert ["INVALID_MUTATION"] * 2 == codes
        assert (
            "INVALID_STAGED_UPLOAD_FILE"
            == big["data"]["bulkOperationRunMutation"]["userErrors"][0]["code"]
        )
        assert (
            "NOT_FOUND"
            == unknown["data"]["bulkOperationCancel"]["userErrors"][0]["code"]
        )


class TestIndexes:
    def test_identifiers_follow_changes(self) -> None:
        """
        A product found by handle or customId is found by its new values
        after an update and by none after deletion.
        """
        shop = ShopifyEmulator(TOKEN).shop
        shop.product_set(
            dict(hammer("A"), handle="old"),
            {"customId": custom("A")["customId"]},
        )
        (n,) = shop.products
        shop.product_set(
            {
                "handle": "new",
                "metafields": [
                    {"namespace": "erp", "key": "no", "value": "B"}
                ],
            },
            {"handle": "old"},
        )
        found = [
            shop.find_product(i)[0]
            for i in (
                {"handle": "old"},
                {"handle": "new"},
                custom("A"),
                custom("B"),
            )
        ]
        shop.delete_product(n)

        assert [None, n, None, n] == found
        assert (None, None) == (
            shop.find_product({"handle": "new"})[0],
            shop.find_product(custom("B"))[0],
        )
        assert {} == shop.levels
        assert {} == shop.variants

    def test_upserts_scan_no_table(self) -> None:
        """
        With 1,000 products in the shop, upserting by customId, by handle
        and by id (creating, updating, a title whose handle is taken,
        replaced variants) never walks the product or variant tables, so
        a catalogue of 10,000 is written in linear time.
        """
        shop = ShopifyEmulator(TOKEN).shop
        for i in range(1000):
            shop.product_set(hammer(f"P{i}"), custom(f"P{i}"))
        first = min(shop.products)
        shop.products = _NoScan(shop.products)
        shop.variants = _NoScan(shop.variants)

        created = shop.product_set(hammer("NEW"), custom("NEW"))
        updated = shop.product_set(hammer("P1", title="Else"), custom("P1"))
        by_handle = shop.product_set({"title": "x"}, {"handle": "hammer"})
        by_id = shop.product_set(
            {"variants": [], "productOptions": []},
            {"id": f"gid://shopify/Product/{first}"},
        )

        assert [[], [], [], []] == [
            a["userErrors"] for a in (created, updated, by_handle, by_id)
        ]
        assert 1001 == len(shop.products)
        assert "hammer-1000" == created["product"]["handle"]


class _NoScan(dict[int, Any]):
    """
    A table that refuses to be walked.
    """

    def _refuse(self, *_: Any) -> Any:
        raise AssertionError("the table was scanned")

    __iter__ = items = values = keys = _refuse  # type: ignore[assignment]


class TestOrderCancel:
    async def test_cancel_once(self) -> None:
        """
        orderCancel answers a job that is not done, the order not
        cancelled yet (Shopify cancels it in that job); once ``job``
        says done, cancelledAt is set and the fulfillment orders closed.
        Cancelling again or an unknown order is an orderCancelUserError.
        """
        emu = ShopifyEmulator(TOKEN, cancel_job_reads=1)
        order = emu.place_order([("SKU-1", 1, "5.00")])
        done = await gql(emu, ORDER_CANCEL, {"id": order})
        row = next(iter(emu.shop.orders.values()))
        answer = done["data"]["orderCancel"]
        job = answer["job"]["id"]
        assert ([], False) == (
            answer["orderCancelUserErrors"],
            answer["job"]["done"],
        )
        assert row["cancelledAt"] is None
        polls = [
            (await gql(emu, JOB, {"id": job}))["data"]["job"]["done"]
            for _ in range(2)
        ]
        again = await gql(emu, ORDER_CANCEL, {"id": order})
        unknown = await gql(emu, ORDER_CANCEL, {"id": "gid://shopify/Order/9"})

        assert [False, True] == polls
        assert row["cancelledAt"] is not None
        assert "OTHER" == row["cancelReason"]
        assert {"CLOSED"} == {
            f["status"] for f in emu.shop.fulfillment_orders.values()
        }
        assert [["INVALID"], ["NOT_FOUND"]] == [
            [
                e["code"]
                for e in a["data"]["orderCancel"]["orderCancelUserErrors"]
            ]
            for a in (again, unknown)
        ]

    async def test_failing_job_leaves_the_order_open(self) -> None:
        """
        A cancellation job that fails ends done with the order open.
        """
        emu = ShopifyEmulator(TOKEN)
        order = emu.place_order([("SKU-1", 1, "5.00")])
        emu.failing_cancels.add(order)
        job = (await gql(emu, ORDER_CANCEL, {"id": order}))["data"][
            "orderCancel"
        ]["job"]["id"]

        polled = await gql(emu, JOB, {"id": job})

        assert polled["data"]["job"]["done"] is True
        assert next(iter(emu.shop.orders.values()))["cancelledAt"] is None

    async def test_fulfilled_order_is_refused(self) -> None:
        """
        An order with a fulfillment cannot be cancelled.
        """
        emu = ShopifyEmulator(TOKEN)
        order = emu.place_order([("SKU-1", 1, "5.00")])
        (fo,) = emu.shop.fulfillment_orders.values()
        emu.fulfil(
            {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}
        )
        refused = await gql(emu, ORDER_CANCEL, {"id": order})

        assert (
            "INVALID"
            == refused["data"]["orderCancel"]["orderCancelUserErrors"][0][
                "code"
            ]
        )
        assert next(iter(emu.shop.orders.values()))["cancelledAt"] is None
