"""
The requests an article push of the Shopware 6 adapter sends, counted in
the emulator's request log: which batches read the shop's products before
writing, and which need not.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MemoryErp,
    Outgoing,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._catalogue import LOOKUP_TTL
from ecomsync.platforms.shopware6._catalogue_rows import held_tax
from ecomsync.platforms.shopware6._mapping import (
    category_id,
    product_id,
    sw_id,
)
from ecomsync.testing._platform_contract import CATEGORIES, article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from ..conftest import flat_catalogue


pytestmark = pytest.mark.anyio

SECRET = "requests-secret"

_fast_retries = fast_retries(3)

SEARCH = "/api/search/product"
TAX = "/api/search/tax"


def _shop(
    emu: ShopwareEmulator,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    sole_writer: bool = True,
) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        SECRET,
        transport=transport or httpx.ASGITransport(app=emu.app),
        sole_writer=sole_writer,
    )


def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIAREQUESTS", client_secret=SECRET)


def _searches(emu: ShopwareEmulator, since: int = 0) -> int:
    return sum(1 for r in list(emu.requests)[since:] if r.path == SEARCH)


async def _categories(shop: Shopware6) -> None:
    await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )


async def _articles(shop: Shopware6, *numbers: str) -> list[bool]:
    outcomes = await shop.push(
        DataType.ARTICLES, [Outgoing(record=article(n)) for n in numbers]
    )
    return [o.ok for o in outcomes]


class _StripAggregations(httpx.AsyncBaseTransport):
    """
    The emulator, with every search answered without its aggregations.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.startswith("/api/search/"):
            return response
        body = json.loads(await response.aread())
        body.pop("aggregations", None)
        return httpx.Response(response.status_code, json=body)


class _Bodies(httpx.AsyncBaseTransport):
    """
    The emulator, keeping the criteria of each product and tax search.
    """

    def __init__(self, emu: ShopwareEmulator) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if request.url.path in (SEARCH, TAX):
            self.bodies.append((request.url.path, json.loads(request.content)))
        return await self.inner.handle_async_request(request)


class TestSoleWriterIntoAnEmptyShop:
    @pytest.mark.parametrize("held", [0, 3])
    async def test_no_search_counts_the_shops_products(
        self, held: int
    ) -> None:
        """
        The first batch learns whether the shop holds any product without
        counting them (a ``COUNT`` over half a million products is a scan
        of the merchant's product table): no ``count`` aggregation and no
        exact total, only a ``terms`` aggregation of one bucket on the
        product ids (in the tax look-up: on the taxes' products, the
        NULL of a tax without any filtered out), which Shopware asks as
        ``GROUP BY id LIMIT 1``.
        """
        emu = _emu()
        if held:
            other = _shop(emu, sole_writer=False)
            await _categories(other)
            await _articles(other, *(f"H-{k}" for k in range(held)))
            await other.aclose()
        sent = _Bodies(emu)
        shop = _shop(emu, sent)
        await _categories(shop)

        for k in range(3):
            assert [True] == await _articles(shop, f"A-{k}")
        await shop.aclose()

        probes = []
        for path, body in sent.bodies:
            assert body.get("total-count-mode") in (None, 0, "none")
            for outer in body.get("aggregations") or []:
                field = "id" if path == SEARCH else "products.id"
                terms = outer
                if path == TAX:
                    assert "filter" == outer["type"]
                    (not_null,) = outer["filter"]
                    assert "not" == not_null["type"]
                    assert [
                        {"type": "equals", "field": field, "value": None}
                    ] == not_null["queries"]
                    terms = outer["aggregation"]
                assert ("terms", field, 1) == (
                    terms["type"],
                    terms["field"],
                    terms["limit"],
                )
                probes.append(path)
        # Asked once, in the first batch's tax look-up.
        assert [TAX] == probes
        # An empty shop: no batch searched; one with products: each.
        searched = [path for path, _ in sent.bodies if path == SEARCH]
        assert (3 if held else 0) == len(searched)

    async def test_no_batch_searches(self) -> None:
        """
        Into a shop without products, no article batch reads the shop's
        products: the first one's tax look-up, which it needs for its new
        products, tells that the shop holds none, and the later ones know
        nothing of theirs can be there.
        """
        emu = _emu()
        shop = _shop(emu)
        await _categories(shop)

        landed = [
            await _articles(shop, f"A-{k}1", f"A-{k}2") for k in range(3)
        ]
        await shop.aclose()

        assert [[True, True]] * 3 == landed
        assert 0 == _searches(emu)
        assert 1 == _reads(emu, 0).count(TAX)
        assert 6 == len(emu.entities["product"])

    async def test_concurrent_batches_wait_for_the_count(self) -> None:
        """
        Batches pushed at once wait for the first one's answer rather than
        each searching.
        """
        emu = _emu()
        shop = _shop(emu)
        await _categories(shop)
        landed: list[list[bool]] = []

        async def push(k: int) -> None:
            landed.append(await _articles(shop, f"A-{k}"))

        async with anyio.create_task_group() as tg:
            for k in range(4):
                tg.start_soon(push, k)
        await shop.aclose()

        assert [[True]] * 4 == landed
        assert 0 == _searches(emu)
        assert 1 == _reads(emu, 0).count(TAX)

    async def test_a_number_sent_before_is_searched(self) -> None:
        """
        An article this adapter wrote before (no store link: say its
        outcome was lost) is read again, so its old category assignment
        is deleted, not kept beside the new one.
        """
        emu = _emu()
        shop = _shop(emu)
        await _categories(shop)
        await _articles(shop, "A-1")
        seen = len(emu.requests)

        moved = article("A-1", categories=("K-3",))
        (outcome,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=moved)]
        )
        await shop.aclose()

        assert outcome.ok
        assert 1 == _searches(emu, seen)
        held = {
            m["categoryId"]
            for m in emu.entities["product_category"].values()
            if m["productId"] == product_id("A-1")
        }
        assert {category_id("K-3")} == held

    async def test_a_variant_numbered_like_an_earlier_article(self) -> None:
        """
        A variant numbered like an article an earlier batch wrote is read
        and fails, however empty the shop was at the start.
        """
        emu = _emu()
        shop = _shop(emu)
        await _categories(shop)
        await _articles(shop, "B-1")
        shirt = article(
            "SHIRT", variants=(Variant(number="B-1", options=(("S", "M"),)),)
        )

        (outcome,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=shirt)]
        )
        await shop.aclose()

        assert "variants.0.number" == outcome.field
        assert 1 == _searches(emu)

    async def test_a_linked_record_is_searched(self) -> None:
        """
        A record the store links to the shop was written before (maybe by
        another process): its batch is read.
        """
        emu = _emu()
        shop = _shop(emu)
        await _categories(shop)
        await _articles(shop, "A-1")
        seen = len(emu.requests)

        linked = Outgoing(record=article("A-2"), platform_id=product_id("A-2"))
        (outcome,) = await shop.push(DataType.ARTICLES, [linked])
        await shop.aclose()

        assert outcome.ok
        assert 1 == _searches(emu, seen)

    async def test_an_answer_without_the_count_searches_every_batch(
        self,
    ) -> None:
        """
        If the first tax look-up does not say whether the shop holds any
        product, every batch is read, as for a shop that holds some.
        """
        emu = _emu()
        shop = _shop(emu, _StripAggregations(httpx.ASGITransport(emu.app)))
        await _categories(shop)

        for k in range(3):
            assert [True] == await _articles(shop, f"A-{k}")
        await shop.aclose()

        assert 3 == _searches(emu)

    async def test_a_failed_first_search_searches_every_batch(
        self,
    ) -> None:
        """
        If the first batch's tax look-up (which asks whether the shop
        holds products) fails, its batch fails and the later batches are
        read, not taken for new.
        """
        emu = _emu()
        failing = {"left": 1}

        class FailOnce(httpx.AsyncBaseTransport):
            async def handle_async_request(
                self, request: httpx.Request
            ) -> httpx.Response:
                if request.url.path == TAX and failing["left"]:
                    failing["left"] -= 1
                    return httpx.Response(
                        400,
                        json={
                            "errors": [
                                {
                                    "status": "400",
                                    "code": "X",
                                    "detail": "no",
                                }
                            ]
                        },
                    )
                return await httpx.ASGITransport(
                    app=emu.app
                ).handle_async_request(request)

        shop = _shop(emu, FailOnce())
        await _categories(shop)
        with pytest.raises(Exception, match="no"):
            await _articles(shop, "A-1")

        assert [True] == await _articles(shop, "A-2")
        assert [True] == await _articles(shop, "A-3")
        await shop.aclose()

        assert 2 == _searches(emu)


class TestOtherWriters:
    async def test_without_the_promise_every_batch_searches(self) -> None:
        """
        By default another process may write products at any time: every
        article batch is read, even into an empty shop, and nothing is
        counted.
        """
        emu = _emu()
        shop = _shop(emu, sole_writer=False)
        await _categories(shop)

        for k in range(3):
            assert [True] == await _articles(shop, f"A-{k}")
        await shop.aclose()

        assert 3 == _searches(emu)

    async def test_another_process_reusing_a_number(self) -> None:
        """
        By default, a number another process wrote after this adapter's
        first batch (its article's variant) is found and fails the
        article that reuses it, instead of overwriting the variant.
        """
        emu = _emu()
        shop = _shop(emu, sole_writer=False)
        await _categories(shop)
        await _articles(shop, "A-1")
        other = _shop(emu, sole_writer=False)
        shirt = article(
            "SHIRT", variants=(Variant(number="B-1", options=(("S", "M"),)),)
        )
        assert [True] == [
            o.ok
            for o in await other.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
        ]
        await other.aclose()

        (outcome,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=article("B-1"))]
        )
        await shop.aclose()

        assert "number" == outcome.field
        assert "variant of another product" in (outcome.error or "")


class TestShopWithProducts:
    async def test_every_batch_searches(self) -> None:
        """
        A shop that already holds products (a lost store, another
        catalogue) has every article batch read before it is written.
        """
        emu = _emu()
        first = _shop(emu)
        await _categories(first)
        await _articles(first, "A-1")
        await first.aclose()
        shop = _shop(emu)
        seen = len(emu.requests)

        for k in range(3):
            assert [True] == await _articles(shop, f"B-{k}")
        await shop.aclose()

        assert 3 == _searches(emu, seen)

    async def test_a_lost_stores_first_batch_is_read(self) -> None:
        """
        A new process whose store was lost (nothing linked) learns from
        its tax look-up that the shop holds products, so its first batch
        is read: the category the ERP took off the article is unassigned,
        not kept beside the new one.
        """
        emu = _emu()
        first = _shop(emu)
        await _categories(first)
        await _articles(first, "A-1")
        await first.aclose()
        shop = _shop(emu)
        seen = len(emu.requests)

        moved = article("A-1", categories=("K-3",))
        (outcome,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=moved)]
        )
        await shop.aclose()

        assert outcome.ok
        assert 1 == _searches(emu, seen)
        held = {
            m["categoryId"]
            for m in emu.entities["product_category"].values()
            if m["productId"] == product_id("A-1")
        }
        assert {category_id("K-3")} == held


def _reads(emu: ShopwareEmulator, since: int) -> list[str]:
    return [
        r.path
        for r in list(emu.requests)[since:]
        if r.path.startswith("/api/search/")
    ]


async def _first_process(emu: ShopwareEmulator) -> None:
    shop = _shop(emu, sole_writer=False)
    await _categories(shop)
    await _articles(shop, "A-1", "A-2")
    await shop.aclose()


class TestTaxOfHeldProducts:
    async def test_a_held_product_keeps_its_tax_without_a_lookup(
        self,
    ) -> None:
        """
        A changed article the shop holds at its rate takes the tax it has,
        read with the product: a new process asks for no tax.
        """
        emu = _emu()
        await _first_process(emu)
        shop = _shop(emu, sole_writer=False)
        seen = len(emu.requests)

        renamed = article("A-1", name="Hammer, new")
        (outcome,) = await shop.push(
            DataType.ARTICLES,
            [Outgoing(record=renamed, platform_id=product_id("A-1"))],
        )
        await shop.aclose()

        assert outcome.ok
        assert "/api/search/tax" not in _reads(emu, seen)
        row = emu.entities["product"][product_id("A-1")]
        assert "Hammer, new" == row["name"]
        assert emu.ids.tax_standard == row["taxId"]

    async def test_a_new_rate_asks_for_its_tax(self) -> None:
        """
        An article whose rate changed asks for the tax of the new rate.
        """
        emu = _emu()
        await _first_process(emu)
        shop = _shop(emu, sole_writer=False)
        seen = len(emu.requests)

        reduced = article("A-1", tax_rate=Decimal(7))
        (outcome,) = await shop.push(
            DataType.ARTICLES,
            [Outgoing(record=reduced, platform_id=product_id("A-1"))],
        )
        await shop.aclose()

        assert outcome.ok
        assert 1 == _reads(emu, seen).count("/api/search/tax")
        row = emu.entities["product"][product_id("A-1")]
        assert emu.ids.tax_reduced == row["taxId"]

    async def test_another_tax_at_the_same_rate_is_kept(self) -> None:
        """
        A product the merchant moved to another tax of the same rate keeps
        it: the rate is what the ERP has.
        """
        emu = _emu()
        await _first_process(emu)
        other = sw_id("tax", "merchant-19")
        shop = _shop(emu, sole_writer=False)
        await shop._api.sync(
            [
                {
                    "key": "tax",
                    "entity": "tax",
                    "action": "upsert",
                    "payload": [{"id": other, "taxRate": 19.0, "name": "19"}],
                },
                {
                    "key": "move",
                    "entity": "product",
                    "action": "upsert",
                    "payload": [{"id": product_id("A-2"), "taxId": other}],
                },
            ]
        )

        outcomes = await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=article(n, name=f"{n}, new"),
                    platform_id=product_id(n),
                )
                for n in ("A-1", "A-2")
            ],
        )
        await shop.aclose()

        assert [True, True] == [o.ok for o in outcomes]
        taxes = {
            n: emu.entities["product"][product_id(n)]["taxId"]
            for n in ("A-1", "A-2")
        }
        assert {"A-1": emu.ids.tax_standard, "A-2": other} == taxes


class TestHeldTax:
    @pytest.mark.parametrize(
        "row",
        [
            None,
            {},
            {"taxId": "t", "tax": None},
            {"taxId": "t", "tax": {"id": "u", "taxRate": 19.0}},
            {"taxId": "t", "tax": {"id": "t", "taxRate": "n/a"}},
            {"taxId": "t", "tax": {"id": "t", "taxRate": 7.0}},
        ],
    )
    def test_no_tax_of_that_rate(self, row: dict[str, object] | None) -> None:
        """
        No tax, one that is not the product's, an unreadable rate or
        another rate: None, so the tax is asked for.
        """
        assert held_tax(row, Decimal(19)) is None

    def test_the_same_rate_written_otherwise(self) -> None:
        """
        19.0 from the shop is the ERP's 19.00.
        """
        row = {"taxId": "t", "tax": {"id": "t", "taxRate": 19.0}}

        assert "t" == held_tax(row, Decimal("19.00"))


class TestLookups:
    async def test_a_new_sales_channel_is_found_within_the_ttl(self) -> None:
        """
        A long-running adapter asks for the sales channels again once the
        answer is older than LOOKUP_TTL, so an article written after that
        is visible in a channel added since; before, it asks nothing.
        """
        emu = _emu()
        shop = _shop(emu, sole_writer=False)
        now = [1000.0]
        shop._catalogue.clock = lambda: now[0]
        await _categories(shop)
        await _articles(shop, "A-1")
        added = sw_id("sales_channel", "new")
        channels = emu.entities["sales_channel"]
        channels[added] = {**next(iter(channels.values())), "id": added}
        seen = len(emu.requests)

        now[0] += LOOKUP_TTL - 1
        await _articles(shop, "A-2")
        looked = _reads(emu, seen).count("/api/search/sales-channel")
        now[0] += 1
        await _articles(shop, "A-3")
        await shop.aclose()

        assert 0 == looked
        assert 1 == _reads(emu, seen).count("/api/search/sales-channel")
        visible = {
            (v["productId"], v["salesChannelId"])
            for v in emu.entities["product_visibility"].values()
        }
        assert (product_id("A-2"), added) not in visible
        assert (product_id("A-3"), added) in visible

    async def test_a_configured_sales_channel_is_not_looked_up(
        self,
    ) -> None:
        """
        With ``sales_channel_id`` articles never ask for the channels, at
        any age, and are visible in that channel only (the categories
        before them asked for that channel's navigation category).
        """
        emu = _emu()
        added = sw_id("sales_channel", "new")
        channels = emu.entities["sales_channel"]
        channels[added] = {**next(iter(channels.values())), "id": added}
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            SECRET,
            transport=httpx.ASGITransport(app=emu.app),
            sales_channel_id=emu.ids.sales_channel,
        )
        now = [1000.0]
        shop._catalogue.clock = lambda: now[0]
        await _categories(shop)
        seen = len(emu.requests)
        await _articles(shop, "A-1")
        now[0] += LOOKUP_TTL
        await _articles(shop, "A-2")
        await shop.aclose()

        assert "/api/search/sales-channel" not in _reads(emu, seen)
        assert {emu.ids.sales_channel} == {
            v["salesChannelId"]
            for v in emu.entities["product_visibility"].values()
        }

    async def test_a_tax_is_looked_up_again_after_the_ttl(self) -> None:
        """
        A tax id is asked for again once older than LOOKUP_TTL: a tax the
        merchant recreated is found, not written as a dead reference.
        """
        emu = _emu()
        shop = _shop(emu, sole_writer=False)
        now = [1000.0]
        shop._catalogue.clock = lambda: now[0]
        await _categories(shop)
        await _articles(shop, "A-1")
        seen = len(emu.requests)

        await _articles(shop, "A-2")
        now[0] += LOOKUP_TTL
        await _articles(shop, "A-3")
        await shop.aclose()

        assert 1 == _reads(emu, seen).count("/api/search/tax")


class TestWholeRuns:
    async def _run(
        self, emu: ShopwareEmulator, erp: MemoryErp, store: Path
    ) -> tuple[int, int]:
        """
        One run of categories, articles and stock in a new process with
        `sole_writer`; (product searches, requests) it sent.
        """
        seen = len(emu.requests)
        platform = _shop(emu)
        state = SqliteStore(store)
        spec = SyncSpec(
            types={
                DataType.CATEGORIES: All(),
                DataType.ARTICLES: All(),
                DataType.STOCK: All(),
            }
        )
        async with Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=state,
            staging=MediaStaging(store.parent / "staging"),
            batch_size=20,
        ) as sync:
            run = await sync.execute(spec)
        await platform.aclose()
        await state.aclose()
        assert RunStatus.SUCCEEDED == run.status, run.failures
        return _searches(emu, seen), len(emu.requests) - seen

    async def test_first_sync_then_a_lost_store(self, tmp_path: Path) -> None:
        """
        A first sync of 5 article batches into an empty shop searches no
        product; the same catalogue with a lost store (a new process, the
        shop full) searches every batch and leaves the shop as it was.
        """
        erp = MemoryErp(flat_catalogue(range(100), number="B-{:03}".format))
        emu = _emu()

        first = await self._run(emu, erp, tmp_path / "first.db")
        shop = _catalogue(emu)
        lost = await self._run(emu, erp, tmp_path / "lost.db")

        assert 0 == first[0]
        assert 5 == lost[0]
        # 5 more searches; one tax look-up in both (it asks whether the
        # shop holds products).
        assert first[1] + 5 == lost[1]
        assert shop == _catalogue(emu)
        assert 100 == len(shop[0])


def _catalogue(
    emu: ShopwareEmulator,
) -> tuple[dict[str, tuple[object, ...]], list[str]]:
    """
    The products (number, name, stock, tax, parent, active) and their
    category assignments.
    """
    fields = ("productNumber", "name", "stock", "taxId", "parentId", "active")
    return (
        {
            k: tuple(v.get(f) for f in fields)
            for k, v in emu.entities["product"].items()
        },
        sorted(emu.entities["product_category"]),
    )
