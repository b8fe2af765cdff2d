"""
The Shopify emulator in process (through ``httpx.ASGITransport``): the
token check, productSet upserts and userErrors, the cost bucket.
"""

from __future__ import annotations

import pytest

from ecomsync.testing.shopify import ShopifyEmulator

from ._shopify import (
    PRODUCT_SET,
    TOKEN,
    URL,
    Clock,
    client,
    custom,
    gql,
    hammer,
)


pytestmark = pytest.mark.anyio


@pytest.fixture(name="emu")
def _emu() -> ShopifyEmulator:
    return ShopifyEmulator(TOKEN)


class TestAuth:
    @pytest.mark.parametrize("token", [None, "shpat_wrong"])
    async def test_missing_or_wrong_token(
        self, emu: ShopifyEmulator, token: str | None
    ) -> None:
        """
        Without the right X-Shopify-Access-Token the answer is 401 with
        Shopify's error text, and the token is not logged.
        """
        async with client(emu, token) as c:
            r = await c.post(
                URL, json={"query": "{ locations(first: 1) { nodes { id } } }"}
            )

        assert 401 == r.status_code
        assert "Invalid API key or access token" in r.json()["errors"]
        assert 401 == emu.requests[-1].status
        assert "shpat" not in repr(emu.requests[-1])


class TestProductSet:
    async def test_custom_id_upserts(self, emu: ShopifyEmulator) -> None:
        """
        The same customId identifier updates the product it created; its
        variants keep their ids, a variant left out is deleted.
        """
        first = await gql(
            emu, PRODUCT_SET, {"input": hammer(), "id": custom("A")}
        )
        changed = hammer()
        changed["variants"] = changed["variants"][:1]
        changed["variants"][0]["price"] = "11.00"
        second = await gql(
            emu, PRODUCT_SET, {"input": changed, "id": custom("A")}
        )

        p1, p2 = (
            first["data"]["productSet"]["product"],
            second["data"]["productSet"]["product"],
        )
        assert p1["id"] == p2["id"]
        assert p1["id"].startswith("gid://shopify/Product/")
        assert [p1["variants"]["nodes"][0]["id"]] == [
            v["id"] for v in p2["variants"]["nodes"]
        ]
        assert "11.00" == p2["variants"]["nodes"][0]["price"]
        assert 1 == len(emu.shop.products)
        assert 1 == len(emu.shop.variants)

    async def test_user_errors_name_the_field(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        Validation failures are userErrors under HTTP 200 with the field
        path (title, an unknown option, a negative price) and nothing is
        written.
        """
        bad = hammer(title="")
        bad["variants"][0]["optionValues"] = [
            {"optionName": "Colour", "name": "Red"}
        ]
        bad["variants"][1]["price"] = "-1"
        answer = await gql(emu, PRODUCT_SET, {"input": bad, "id": custom("B")})

        errors = answer["data"]["productSet"]["userErrors"]
        assert [
            ["input", "title"],
            ["input", "variants", "0", "optionValues"],
            ["input", "variants", "1", "price"],
        ] == [e["field"] for e in errors]
        assert answer["data"]["productSet"]["product"] is None
        assert {} == emu.shop.products

    async def test_duplicate_handle(self, emu: ShopifyEmulator) -> None:
        """
        A handle another product has is HANDLE_NOT_UNIQUE.
        """
        await gql(
            emu,
            PRODUCT_SET,
            {"input": dict(hammer(), handle="h"), "id": custom("A")},
        )
        answer = await gql(
            emu,
            PRODUCT_SET,
            {"input": dict(hammer(), handle="h"), "id": custom("B")},
        )

        (error,) = answer["data"]["productSet"]["userErrors"]
        assert ("HANDLE_NOT_UNIQUE", ["input", "handle"]) == (
            error["code"],
            error["field"],
        )

    async def test_input_array_over_250(self, emu: ShopifyEmulator) -> None:
        """
        More than 250 variants is refused with MAX_INPUT_SIZE_EXCEEDED.
        """
        big = hammer()
        big["productOptions"][0]["values"] = [
            {"name": str(i)} for i in range(251)
        ]
        big["variants"] = [
            {"optionValues": [{"optionName": "Size", "name": str(i)}]}
            for i in range(251)
        ]
        answer = await gql(emu, PRODUCT_SET, {"input": big, "id": custom("C")})

        assert (
            "MAX_INPUT_SIZE_EXCEEDED"
            == answer["errors"][0]["extensions"]["code"]
        )
        assert {} == emu.shop.products


class TestCost:
    async def test_every_answer_has_cost(self, emu: ShopifyEmulator) -> None:
        """
        A query's cost is charged to the bucket and reported with the
        throttle status; a refused query reports a cost of 0.
        """
        ok = await gql(emu, "{ locations(first: 5) { nodes { id } } }")
        bad = await gql(emu, "{ nope }")

        assert {
            "requestedQueryCost": 7,
            "actualQueryCost": 7,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 1993,
                "restoreRate": 100.0,
            },
        } == ok["extensions"]["cost"]
        assert 0 == bad["extensions"]["cost"]["requestedQueryCost"]

    async def test_max_cost_exceeded(self, emu: ShopifyEmulator) -> None:
        """
        A query over 1,000 points is refused before execution and costs
        nothing.
        """
        answer = await gql(
            emu,
            "{ products(first: 250) { nodes {"
            " variants(first: 10) { nodes { id } } } } }",
        )

        assert "MAX_COST_EXCEEDED" == answer["errors"][0]["extensions"]["code"]
        assert "data" not in answer
        assert (
            2000
            == answer["extensions"]["cost"]["throttleStatus"][
                "currentlyAvailable"
            ]
        )

    async def test_throttled_then_restored(self) -> None:
        """
        When the bucket cannot hold the requested cost the answer is
        THROTTLED under HTTP 200; after (requested - available) /
        restoreRate seconds the same query runs.
        """
        clock = Clock()
        emu = ShopifyEmulator(
            TOKEN, maximum=1000, restore_rate=50, clock=clock
        )
        # 2 + 200 * (1 product + 1 options) = 402
        query = "{ products(first: 200) { nodes { id options { id } } } }"
        for _ in range(2):
            assert "data" in await gql(emu, query)
        throttled = await gql(emu, query)
        cost = throttled["extensions"]["cost"]
        clock.now += (
            cost["requestedQueryCost"]
            - cost["throttleStatus"]["currentlyAvailable"]
        ) / 50
        again = await gql(emu, query)

        assert "THROTTLED" == throttled["errors"][0]["extensions"]["code"]
        assert (402, None, 196) == (
            cost["requestedQueryCost"],
            cost["actualQueryCost"],
            cost["throttleStatus"]["currentlyAvailable"],
        )
        assert "data" in again

    async def test_throttled_as_429_switch(self) -> None:
        """
        throttle_status=429 answers THROTTLED with HTTP 429.
        """
        emu = ShopifyEmulator(
            TOKEN,
            maximum=10,
            restore_rate=1,
            clock=Clock(),
            throttle_status=429,
        )
        async with client(emu) as c:
            r = await c.post(
                URL,
                json={"query": "{ products(first: 100) { nodes { id } } }"},
            )

        assert 429 == r.status_code
        assert "THROTTLED" == r.json()["errors"][0]["extensions"]["code"]


DELETE_FILES = """
mutation($ids: [ID!]!) {
  fileDelete(fileIds: $ids) { deletedFileIds userErrors { field code } }
}
"""
SET_FILES = """
mutation($input: ProductSetInput!, $id: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $id) {
    product { id media(first: 5) { nodes { id } } }
    userErrors { field message code }
  }
}
"""
HELD = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"


class TestFileDeleted:
    """A file the merchant deletes in Shopify's Files."""

    async def test_deleted_file_is_refused_and_reads_null(
        self, emu: ShopifyEmulator
    ) -> None:
        """
        fileDelete takes the file off the products that show it; a
        productSet naming its id is refused on input.files.N.id (not
        written: the product keeps what it had), nodes answers null in
        its place, and deleting it again is FILE_DOES_NOT_EXIST.
        """
        kept = emu.shop.add_file({"originalSource": "https://x.test/k.png"})
        gone = emu.shop.add_file({"originalSource": "https://x.test/g.png"})
        kept_id, gone_id = (emu.shop.files[n]["id"] for n in (kept, gone))
        both = [{"id": kept_id}, {"id": gone_id}]
        made = await gql(
            emu,
            SET_FILES,
            {"input": {**hammer(), "files": both}, "id": custom("A")},
        )
        assert [] == made["data"]["productSet"]["userErrors"]

        deleted = await gql(emu, DELETE_FILES, {"ids": [gone_id]})
        (product,) = emu.shop.products.values()
        assert [kept] == product["_media"]
        again = await gql(
            emu, SET_FILES, {"input": {"files": both}, "id": custom("A")}
        )
        held = await gql(emu, HELD, {"ids": [kept_id, gone_id]})
        twice = await gql(emu, DELETE_FILES, {"ids": [gone_id]})

        assert [gone_id] == deleted["data"]["fileDelete"]["deletedFileIds"]
        answer = again["data"]["productSet"]
        assert answer["product"] is None
        assert [(["input", "files", "1", "id"], "INVALID_INPUT")] == [
            (e["field"], e["code"]) for e in answer["userErrors"]
        ]
        assert [kept] == product["_media"]
        assert gone not in emu.shop.files
        assert [{"id": kept_id}, None] == held["data"]["nodes"]
        assert ["FILE_DOES_NOT_EXIST"] == [
            e["code"] for e in twice["data"]["fileDelete"]["userErrors"]
        ]
