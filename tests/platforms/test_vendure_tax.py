"""
Tax categories against a live Vendure when two share a rate in the
channel's default tax zone ("Reduced Tax" and "Books", both 7 %): no
silent pick of one of them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecomsync import Article, DataType
from ecomsync._contracts import Outgoing

from .vendure_server import VendureAdmin, VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


async def _books(admin: VendureAdmin, *, default: bool = False) -> str:
    """
    A second tax category, "Books", with the 7 % rate "Reduced Tax" has,
    in the channel's default zone; its id.
    """
    data = await admin.gql(
        "{ activeChannel { defaultTaxZone { id } } taxCategories "
        "{ items { id name isDefault } } }"
    )
    reduced = next(
        c for c in data["taxCategories"]["items"] if c["name"] == "Reduced Tax"
    )
    assert not reduced["isDefault"]
    zone = data["activeChannel"]["defaultTaxZone"]["id"]
    made = await admin.gql(
        "mutation ($i: CreateTaxCategoryInput!) { createTaxCategory"
        "(input: $i) { id } }",
        {"i": {"name": "Books", "isDefault": default}},
    )
    books = str(made["createTaxCategory"]["id"])
    await admin.gql(
        "mutation ($i: CreateTaxRateInput!) { createTaxRate(input: $i) "
        "{ id } }",
        {
            "i": {
                "name": "Books 7",
                "enabled": True,
                "value": 7,
                "categoryId": books,
                "zoneId": zone,
            }
        },
    )
    return books


async def _category(admin: VendureAdmin, sku: str) -> str:
    data = await admin.gql(
        "query ($s: String!) { productVariants(options: { filter: "
        "{ sku: { eq: $s } } }) { items { taxCategory { name } } } }",
        {"s": sku},
    )
    return str(data["productVariants"]["items"][0]["taxCategory"]["name"])


def _book(number: str, name: str) -> Article:
    return Article(
        number=number,
        name=name,
        price=Decimal("10.70"),
        tax_rate=Decimal(7),
    )


class TestSharedRate:
    """
    Two tax categories with the article's rate in the default zone.
    """

    async def test_new_article_fails_naming_both(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A new 7 % article fails on tax_rate naming both categories, and
        nothing is made in the shop (Vendure took the first one).
        """
        admin = fresh_vendure.admin()
        try:
            await _books(admin)
            async with fresh_vendure.platform() as shop:
                (outcome,) = await shop.push(
                    DataType.ARTICLES,
                    [Outgoing(record=_book("B-1", "Atlas"))],
                )
            data = await admin.gql(
                '{ products(options: { filter: { slug: { eq: "b-1" } } }) '
                "{ totalItems } }"
            )
        finally:
            await admin.aclose()

        assert not outcome.ok
        assert "tax_rate" == outcome.field
        assert "'Reduced Tax'" in str(outcome.error)
        assert "'Books'" in str(outcome.error)
        assert 0 == data["products"]["totalItems"]

    async def test_variant_keeps_the_merchants_category(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A variant the merchant put in "Books" stays there when the
        article (7 %) is pushed again with a new price; Vendure swapped
        it for the first category with the rate.
        """
        admin = fresh_vendure.admin()
        try:
            async with fresh_vendure.platform() as shop:
                (first,) = await shop.push(
                    DataType.ARTICLES,
                    [Outgoing(record=_book("B-2", "Atlas"))],
                )
            books = await _books(admin)
            data = await admin.gql(
                '{ productVariants(options: { filter: { sku: { eq: "B-2" } } '
                "}) { items { id } } }"
            )
            variant = data["productVariants"]["items"][0]["id"]
            await admin.gql(
                "mutation ($i: [UpdateProductVariantInput!]!) { "
                "updateProductVariants(input: $i) { id } }",
                {"i": [{"id": variant, "taxCategoryId": books}]},
            )
            dearer = Article(
                number="B-2",
                name="Atlas",
                price=Decimal("12.84"),
                tax_rate=Decimal(7),
            )
            async with fresh_vendure.platform() as shop:
                (again,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=dearer)]
                )
            category = await _category(admin, "B-2")
        finally:
            await admin.aclose()

        assert first.ok, first.error
        assert again.ok, again.error
        assert "Books" == category

    async def test_the_default_category_is_taken(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Of two categories with the rate, a new variant takes the one that
        is Vendure's default category.
        """
        admin = fresh_vendure.admin()
        try:
            await _books(admin, default=True)
            async with fresh_vendure.platform() as shop:
                (outcome,) = await shop.push(
                    DataType.ARTICLES,
                    [Outgoing(record=_book("B-3", "Atlas"))],
                )
            category = await _category(admin, "B-3")
        finally:
            await admin.aclose()

        assert outcome.ok, outcome.error
        assert "Books" == category
