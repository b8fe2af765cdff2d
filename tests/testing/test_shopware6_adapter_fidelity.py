"""
The Shopware6 adapter against the emulator's Shopware 6.6 fidelity: the
database errors that come back without a pointer (a duplicate product
number, also one that differs only in case, accents or trailing spaces)
still fail only their own record, with few extra requests.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import httpx
import pytest

from ecomsync import Article, Category, DataType, Outgoing
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import ShopwareEmulator, seed_id

from ._sw6 import login, product, raw_client, sync, upsert


pytestmark = pytest.mark.anyio

BATCH = 100


def _shop(emu: ShopwareEmulator) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        emu.client_secret,
        transport=httpx.ASGITransport(app=emu.app),
        batch_size=BATCH,
    )


def _articles() -> list[Outgoing]:
    return [
        Outgoing(
            record=Article(
                number=f"A-{i:03}", name=f"Artikel {i}", price=Decimal("9.99")
            )
        )
        for i in range(BATCH)
    ]


class TestDuplicateNumberWithoutPointer:
    @pytest.mark.parametrize("foreign", ["A-057", "a-057", "A-057 ", "Ä-057"])
    @pytest.mark.parametrize("position", [0, 57, 99])
    async def test_isolated_within_log2_plus_one_extra_syncs(
        self, emu: ShopwareEmulator, foreign: str, position: int
    ) -> None:
        """A product another party created holds one article's number (by
        the product table's collation): only that article fails, naming
        the number, and the batch of 100 costs at most ceil(log2 100) + 1
        Sync requests more than the one it needs without the clash."""
        foreign = foreign.replace("057", f"{position:03}")
        async with raw_client(emu) as client:
            await login(client)
            r = await sync(
                client,
                {
                    "p": upsert(
                        "product",
                        {
                            **product("x", emu),
                            "id": seed_id("someone else's"),
                            "productNumber": foreign,
                        },
                    )
                },
            )
            assert 200 == r.status_code, r.text
        shop = _shop(emu)
        before = emu.route_counts["sync"]
        try:
            outcomes = await shop.push(DataType.ARTICLES, _articles())
        finally:
            await shop.aclose()
        syncs = emu.route_counts["sync"] - before

        failed = [(o.number, o.error) for o in outcomes if not o.ok]
        assert [f"A-{position:03}"] == [number for number, _ in failed]
        assert foreign.strip() in (failed[0][1] or "") or (
            f"A-{position:03}" in (failed[0][1] or "")
        )
        written = {
            row["productNumber"] for row in emu.entities["product"].values()
        }
        assert {f"A-{i:03}" for i in range(BATCH) if i != position} <= written
        assert syncs - 1 <= math.ceil(math.log2(BATCH)) + 1, syncs


class TestBisectionWithPointers:
    async def test_pointer_errors_found_while_bisecting(self) -> None:
        """A half that fails with a pointer blames that item and keeps
        searching for the pointerless offender in what is left."""
        sent: list[list[str]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/oauth/token":
                return httpx.Response(
                    200,
                    json={
                        "token_type": "Bearer",
                        "expires_in": 600,
                        "access_token": "tok",
                    },
                )
            if request.url.path == "/api/search/sales-channel":
                # Where the top-level categories go: below this one.
                channel = {"id": "2" * 32, "navigationCategoryId": "1" * 32}
                return httpx.Response(200, json={"data": [channel]})
            body = json.loads(request.content)
            key = "ecomsync-categories"
            names = [row["name"] for row in body[key]["payload"]]
            sent.append(names)
            if "NO-POINTER" in names:
                detail = "refused"
                return httpx.Response(
                    400, json={"errors": [{"code": "X", "detail": detail}]}
                )
            if "POINTER" in names:
                index = names.index("POINTER")
                error = {
                    "code": "Y",
                    "detail": "named",
                    "source": {"pointer": f"/{key}/{index}/name"},
                }
                return httpx.Response(400, json={"errors": [error]})
            return httpx.Response(200, json={"data": {}})

        shop = Shopware6(
            "http://shop", "k", "s", transport=httpx.MockTransport(handler)
        )
        names = ["a", "POINTER", "b", "NO-POINTER", "c", "d"]
        try:
            outcomes = await shop.push(
                DataType.CATEGORIES,
                [
                    Outgoing(record=Category(number=f"K-{i}", name=n))
                    for i, n in enumerate(names)
                ],
            )
        finally:
            await shop.aclose()

        assert [
            (True, None),
            (False, "named"),
            (True, None),
            (False, "refused"),
            (True, None),
            (True, None),
        ] == [(o.ok, o.error) for o in outcomes]
        written = {
            n
            for batch in sent
            if "POINTER" not in batch and "NO-POINTER" not in batch
            for n in batch
        }
        assert {"a", "b", "c", "d"} == written
        assert 6 >= len(sent)
