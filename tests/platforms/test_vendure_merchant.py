"""
The Vendure adapter on real merchant data, against a live Vendure
server: articles renumbered in the ERP, products whose slug is not the
article's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import Article, DataType, Outgoing, Variant
from ecomsync.platforms.vendure import Vendure

from .test_vendure_catalogue import _variants
from .vendure_server import VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


def _sizes(prefix: str) -> tuple[Variant, ...]:
    return (
        Variant(number=f"{prefix}-S", options=(("Size", "S"),)),
        Variant(number=f"{prefix}-M", options=(("Size", "M"),)),
    )


async def _products(server: VendureServer) -> list[dict[str, Any]]:
    admin = server.admin()
    try:
        data = await admin.gql(
            "{ products(options: { sort: { id: ASC } }) { items"
            " { id slug name variants { sku } } } }"
        )
    finally:
        await admin.aclose()
    items: list[dict[str, Any]] = data["products"]["items"]
    return items


class TestLinkedProduct:
    """
    The product the state store links an article to stays its product,
    whatever its slug.
    """

    async def test_renumbered_article_keeps_its_product(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An article renumbered in the ERP (SHIRT -> TEE, its variants
        kept, so found by SKU: the store links TEE to the product with
        the slug "shirt") that then renames its variants (TEE-S, TEE-M)
        stays its product: the store's link names it, though neither
        its SKUs nor its slug nor its variants' prefix lead there (a
        second product was made, the old one kept the old variants).
        """
        shirt = Article(
            number="SHIRT",
            name="Shirt",
            price=Decimal("20.00"),
            variants=_sizes("X"),
        )
        tee = attrs.evolve(shirt, number="TEE")
        renamed = attrs.evolve(tee, name="Tee", variants=_sizes("TEE"))
        async with Vendure(
            fresh_vendure.url, api_key=fresh_vendure.api_key
        ) as shop:
            (one,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            # a new number: the store has no link for it yet
            (two,) = await shop.push(DataType.ARTICLES, [Outgoing(record=tee)])
            # the engine sends the link the second push recorded
            (three,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=renamed, platform_id=two.platform_id)],
            )

        assert [one.ok, two.ok, three.ok] == [True, True, True], three.error
        assert one.platform_id == two.platform_id == three.platform_id
        assert [
            {
                "id": one.platform_id,
                "slug": "shirt",
                "name": "Tee",
                "variants": [{"sku": "TEE-S"}, {"sku": "TEE-M"}],
            }
        ] == await _products(fresh_vendure)

    async def test_linked_product_whose_slug_another_has(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An article whose product got another slug at creation ("t-2":
        the article "T 1" already had "t-1") and whose variants are then
        all replaced keeps that product, found by the store's link; the
        other article's product is left alone.
        """
        plate = Article(number="T 1", name="Plate", price=Decimal("5.00"))
        tee = Article(
            number="T-1",
            name="Tee",
            price=Decimal("20.00"),
            variants=_sizes("RED"),
        )
        blue = attrs.evolve(tee, variants=_sizes("BLUE"))
        async with Vendure(
            fresh_vendure.url, api_key=fresh_vendure.api_key
        ) as shop:
            (first,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=plate)]
            )
            (one,) = await shop.push(DataType.ARTICLES, [Outgoing(record=tee)])
            (two,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=blue, platform_id=one.platform_id)],
            )
        admin = fresh_vendure.admin()
        try:
            variants = await _variants(admin, "BLUE-S", "BLUE-M", "RED-S")
        finally:
            await admin.aclose()

        assert two.ok, two.error
        assert one.platform_id == two.platform_id
        assert [("BLUE-S", one.platform_id), ("BLUE-M", one.platform_id)] == [
            (v["sku"], v["product"]["id"]) for v in variants
        ]
        assert [
            (first.platform_id, ["T 1"]),
            (one.platform_id, ["BLUE-S", "BLUE-M"]),
        ] == [
            (p["id"], [v["sku"] for v in p["variants"]])
            for p in await _products(fresh_vendure)
        ]
