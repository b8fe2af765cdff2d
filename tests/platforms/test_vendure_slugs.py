"""
Slugs Vendure gives when the article's own is taken, against a live
Vendure server: Vendure replaces a trailing number ("x-1" taken makes
"x-2", the slug of article X-2), so a product found by an article's
slug may be another article's, and a create whose answer was lost may
have landed under such a slug.  Option group codes two articles share
("T 1", "T-1") likewise.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync import Article, DataType, Outgoing, Variant

from .test_vendure_merchant import _products
from .test_vendure_unsure import _LostAnswers, _mutation
from .vendure_server import VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


async def _hand_made(server: VendureServer, slug: str) -> None:
    """
    A product made by hand in the Admin UI with slug *slug*, a variant
    of SKU ``HAND`` and the name "Hand".
    """
    admin = server.admin()
    try:
        made = await admin.gql(
            "mutation ($s: String!) { createProduct(input: { translations:"
            ' [{ languageCode: en, name: "Hand", slug: $s, description:'
            ' "" }] }) { id slug } }',
            {"s": slug},
        )
        assert made["createProduct"]["slug"] == slug
        await admin.gql(
            "mutation ($p: ID!) { createProductVariants(input: [{ "
            'productId: $p, sku: "HAND", price: 100, translations: '
            '[{ languageCode: en, name: "Hand" }] }]) { id } }',
            {"p": made["createProduct"]["id"]},
        )
    finally:
        await admin.aclose()


def _skus(products: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        p["slug"]: sorted(v["sku"] for v in p["variants"]) for p in products
    }


class TestTakenSlug:
    """
    An article whose slug Vendure gave another article's product makes
    its own product; the other article keeps its variants.
    """

    async def test_suffixed_product_is_not_the_next_numbers(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        X-1's slug is taken by a hand-made product, so Vendure names X-1's
        product "x-2"; article X-2 (same name "Shirt", pushed later) does
        not take that product by its slug and name: X-1 keeps its
        variant, X-2 gets a product of its own.
        """
        await _hand_made(fresh_vendure, "x-1")
        async with fresh_vendure.platform() as shop:
            (one,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(number="X-1", name="Shirt", price=5)
                    )
                ],
            )
            assert one.ok, one.error
            assert _skus(await _products(fresh_vendure))["x-2"] == ["X-1"]
            (two,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(number="X-2", name="Shirt", price=6)
                    )
                ],
            )
            assert two.ok, two.error
        held = _skus(await _products(fresh_vendure))
        assert held["x-1"] == ["HAND"]
        assert held["x-2"] == ["X-1"]
        assert two.platform_id != one.platform_id
        assert ["X-2"] in held.values()

    async def test_suffixed_variant_article_is_not_taken(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        The same with variants whose SKUs do not carry the article's
        number (RED, BLUE of X-1): X-2's push leaves them on X-1's
        product.
        """
        await _hand_made(fresh_vendure, "x-1")
        one = Article(
            number="X-1",
            name="Shirt",
            price=5,
            variants=(
                Variant(number="RED", options=(("Colour", "Red"),)),
                Variant(number="BLUE", options=(("Colour", "Blue"),)),
            ),
        )
        async with fresh_vendure.platform() as shop:
            (made,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=one)]
            )
            assert made.ok, made.error
            (two,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(number="X-2", name="Shirt", price=6)
                    )
                ],
            )
            assert two.ok, two.error
        held = _skus(await _products(fresh_vendure))
        assert held["x-2"] == ["BLUE", "RED"]
        assert ["X-2"] in held.values()


class _Unsent(httpx.AsyncBaseTransport):
    """
    Answers the first mutation *field* with a bare 503 without passing
    it on (a proxy that gave up before Vendure saw it); the rest goes
    to Vendure.
    """

    def __init__(self, field: str = "createProduct") -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.field = field
        self.dropped = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        body = await request.aread()
        if not self.dropped and _mutation(body) == self.field:
            self.dropped += 1
            return httpx.Response(503, text="upstream timed out")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _leftover(server: VendureServer, slug: str, name: str) -> str:
    """
    A product without variants, as an interrupted create leaves it.
    """
    admin = server.admin()
    try:
        made = await admin.gql(
            "mutation ($s: String!, $n: String!) { createProduct(input: "
            "{ translations: [{ languageCode: en, name: $n, slug: $s, "
            'description: "" }] }) { id slug } }',
            {"s": slug, "n": name},
        )
    finally:
        await admin.aclose()
    assert made["createProduct"]["slug"] == slug
    return str(made["createProduct"]["id"])


class TestLostCreate:
    """
    A product create whose answer was lost is looked for among the
    slugs Vendure would have given it, and never found in another
    article's leftover.
    """

    async def test_unsent_create_does_not_take_a_leftover(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        SHIRT-2's interrupted create left an empty product "shirt-2"
        named "Shirt"; SHIRT (same name) is created, the request is lost
        before Vendure sees it: SHIRT gets a product "shirt" of its own,
        the leftover stays empty for SHIRT-2.
        """
        left = await _leftover(fresh_vendure, "shirt-2", "Shirt")
        transport = _Unsent()
        async with fresh_vendure.platform(transport=transport) as shop:
            (made,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(number="SHIRT", name="Shirt", price=5)
                    )
                ],
            )
        assert transport.dropped == 1
        assert made.ok, made.error
        assert made.platform_id != left
        assert _skus(await _products(fresh_vendure)) == {
            "shirt-2": [],
            "shirt": ["SHIRT"],
        }

    async def test_landed_create_under_a_replaced_number_is_found(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        X-1's slug is taken, Vendure makes X-1's product as "x-2", the
        answer is lost: the look finds "x-2" and makes no second
        product.
        """
        await _hand_made(fresh_vendure, "x-1")
        lost = _LostAnswers(only={"createProduct"})
        async with fresh_vendure.platform(transport=lost) as shop:
            (made,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(number="X-1", name="Shirt", price=5)
                    )
                ],
            )
        assert lost.lost == ["createProduct"]
        assert made.ok, made.error
        assert _skus(await _products(fresh_vendure)) == {
            "x-1": ["HAND"],
            "x-2": ["X-1"],
        }


class TestLostOptionGroup:
    """
    An option group create whose answer was lost is never found in a
    group another product has.
    """

    async def test_unsent_group_create_leaves_the_other_products(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        "T 1" and "T-1" are different articles whose group "Size" has
        the same code ("t-1-size"); T-1's group create is lost before
        Vendure sees it: T-1 gets a group of its own, T 1 keeps its.
        """
        sizes = (
            Variant(number="A", options=(("Size", "S"),)),
            Variant(number="B", options=(("Size", "M"),)),
        )
        first = Article(number="T 1", name="Tee", price=5, variants=sizes)
        second = Article(
            number="T-1",
            name="Tee",
            price=5,
            variants=(
                Variant(number="C", options=(("Size", "S"),)),
                Variant(number="D", options=(("Size", "M"),)),
            ),
        )
        async with fresh_vendure.platform() as shop:
            (made,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=first)]
            )
            assert made.ok, made.error
        transport = _Unsent("createProductOptionGroup")
        async with fresh_vendure.platform(transport=transport) as shop:
            (again,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=second)]
            )
        assert transport.dropped == 1
        assert again.ok, again.error
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(
                "{ products { items { id optionGroups { id code } "
                "variants { sku options { group { id } } } } } }"
            )
        finally:
            await admin.aclose()
        groups = {
            sorted(v["sku"] for v in p["variants"])[0]: [
                g["id"] for g in p["optionGroups"]
            ]
            for p in data["products"]["items"]
        }
        assert len(groups["A"]) == 1
        assert len(groups["C"]) == 1
        assert groups["A"] != groups["C"]
