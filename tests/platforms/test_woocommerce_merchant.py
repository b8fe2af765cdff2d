"""
WooCommerce with a merchant's real shop settings: stock written where
the shop does not use it is a failure naming the record and the field,
never a success.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import httpx
import pytest

from ecomsync import (
    Article,
    Category,
    DataType,
    Outcome,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

SECRET = "cs_merchant-S3CR3T"


def _shop(emu: WooCommerceEmulator) -> WooCommerce:
    return WooCommerce(
        "http://shop.test",
        "ck_merchant",
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
    )


async def _pushed_again_after_retyping(
    sku: str,
) -> tuple[WooCommerceEmulator, Outcome, Outcome]:
    """
    Article ``A-1`` pushed, its product's SKU retyped to *sku* by the
    merchant, and the article (renamed ``Up2``) pushed again: the shop,
    the first outcome and the second.
    """
    emu = WooCommerceEmulator("ck_merchant", SECRET)
    async with _shop(emu) as woo:
        (first,) = await woo.push(
            DataType.ARTICLES,
            [Outgoing(record=Article(number="A-1", name="Up", price=9))],
        )
        (row,) = emu.shop.products.values()
        row["sku"] = sku
        (again,) = await woo.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=Article(number="A-1", name="Up2", price=9),
                    platform_id=first.platform_id,
                )
            ],
        )
    return emu, first, again


class TestStockManagementOff:
    async def test_stock_fails_when_the_shop_manages_none(self) -> None:
        """
        With WooCommerce's "Enable stock management" off the shop ignores
        stock_quantity and sells without limit: every level fails on
        quantity saying so, for products and variations alike.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET, manage_stock=False)
        shirt = Article(
            number="S-1",
            name="Shirt",
            price=1,
            variants=(Variant(number="S-1-M", options=(("Size", "M"),)),),
        )
        async with _shop(emu) as woo:
            written = await woo.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=Article(number="A-1", name="A", price=1)),
                    Outgoing(record=shirt),
                ],
            )
            assert all(o.ok for o in written), written
            outcomes = await woo.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number="A-1", quantity=5)),
                    Outgoing(record=StockLevel(number="S-1-M", quantity=2)),
                ],
            )
        assert [(o.number, o.field) for o in outcomes] == [
            ("A-1", "quantity"),
            ("S-1-M", "quantity"),
        ]
        for outcome in outcomes:
            assert "stock management" in (outcome.error or "")

    async def test_stock_lands_when_managed(self) -> None:
        """
        With stock management on (the default) the same levels land.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="A", price=1))],
            )
            (outcome,) = await woo.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="A-1", quantity=5))],
            )
        assert outcome.ok
        (row,) = [r for r in emu.shop.products.values() if r["sku"] == "A-1"]
        assert row["stock_quantity"] == 5


class TestStockUnderAnotherSpelling:
    async def test_lookup_compares_skus_as_the_shop_does(self) -> None:
        """
        The emulator's ``?sku=`` filter compares in the table's collation,
        as WooCommerce's ``_sku IN (...)`` query does: ``a-1`` finds the
        product ``A-1``.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="A", price=1))],
            )
        auth = {"consumer_key": "ck_merchant", "consumer_secret": SECRET}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emu.app),
            base_url="https://shop.test/wp-json/wc/v3",
        ) as client:
            answer = await client.get(
                "/products", params={"sku": "a-1", **auth}
            )
        assert [row["sku"] for row in answer.json()] == ["A-1"]

    @pytest.mark.parametrize("other", ["a-1", "\ufeffA-1"])
    async def test_stock_of_another_spelling_fails_by_name(
        self, other: str
    ) -> None:
        """
        ERP articles ``A-1`` and ``a-1`` (or ``A-1`` after a byte order
        mark) are one SKU to WooCommerce: the stock of the other fails
        naming the product that holds ``A-1`` instead of overwriting
        ``A-1``'s stock, in one push or alone.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="A", price=1))],
            )
            both = await woo.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number="A-1", quantity=5)),
                    Outgoing(record=StockLevel(number=other, quantity=0)),
                ],
            )
            alone = await woo.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number=other, quantity=0))],
            )
        (row,) = emu.shop.products.values()
        assert row["stock_quantity"] == 5
        assert [(o.number, o.ok, o.field) for o in both + alone] == [
            ("A-1", True, None),
            (other, False, "number"),
            (other, False, "number"),
        ]
        assert "'A-1'" in (alone[0].error or "")
        assert "invisible characters" in (alone[0].error or "")

    async def test_spellings_in_two_lookup_chunks_find_one_product(
        self,
    ) -> None:
        """
        ``A-1`` and ``a-1`` looked up in two chunks of 40 SKUs both find
        product ``A-1``: it is one product, not two holding the SKU, so
        ``A-1``'s stock lands and ``a-1``'s fails naming ``A-1``.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="A", price=1))],
            )
            # sorted, "A-1" opens the first chunk and "a-1" ends the
            # second
            between = [f"B-{k:02}" for k in range(40)]
            outcomes = await woo.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number=n, quantity=5))
                    for n in ["A-1", *between, "a-1"]
                ],
            )
        (row,) = emu.shop.products.values()
        by_number = {o.number: o for o in outcomes}
        assert 5 == row["stock_quantity"]
        assert by_number["A-1"].ok, by_number["A-1"].error
        assert "number" == by_number["a-1"].field
        assert "holds the SKU 'A-1'" in (by_number["a-1"].error or "")

    async def test_stock_of_its_linked_product_retyped_in_case(
        self,
    ) -> None:
        """
        Stock linked to a product whose SKU the merchant retyped in
        another case lands there: the product is still the level's.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="A", price=1))],
            )
            (first,) = await woo.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="A-1", quantity=5))],
            )
            (row,) = emu.shop.products.values()
            row["sku"] = "a-1"
            (again,) = await woo.push(
                DataType.STOCK,
                [
                    Outgoing(
                        record=StockLevel(number="A-1", quantity=3),
                        platform_id=first.platform_id,
                    )
                ],
            )
        assert (True, first.platform_id) == (again.ok, again.platform_id)
        assert [3] == [r["stock_quantity"] for r in emu.shop.products.values()]


class TestArticleUnderAnotherSpelling:
    async def test_an_article_does_not_take_over_another_spelling(
        self,
    ) -> None:
        """
        A new article ``a-1`` pushed after ``A-1`` landed (another push,
        batch or run) fails on number naming the product, which keeps
        ``A-1``'s SKU, name and price.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="Up", price=9))],
            )
            (outcome,) = await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="a-1", name="Lo", price=1))],
            )
        assert ("a-1", "number") == (outcome.number, outcome.field)
        assert "'A-1'" in (outcome.error or "")
        (row,) = emu.shop.products.values()
        assert ("A-1", "Up", "9") == (
            row["sku"],
            row["name"],
            row["regular_price"],
        )

    async def test_a_variant_does_not_take_over_another_spelling(
        self,
    ) -> None:
        """
        A variant ``a-1`` of another article fails on its number while the
        product ``A-1`` is in the shop; nothing of its article is written.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        shirt = Article(
            number="S-1",
            name="Shirt",
            price=1,
            variants=(Variant(number="a-1", options=(("Size", "M"),)),),
        )
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="Up", price=9))],
            )
            (outcome,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
        assert ("S-1", "variants.0.number") == (outcome.number, outcome.field)
        assert ["A-1"] == [r["sku"] for r in emu.shop.products.values()]

    async def test_a_variant_renamed_in_case_is_renamed_in_place(
        self,
    ) -> None:
        """
        A variant the ERP renamed only in case, in the same article, takes
        its variation along (one variation, the new SKU).
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)

        def shirt(variant: str) -> Article:
            return Article(
                number="S-1",
                name="Shirt",
                price=1,
                variants=(Variant(number=variant, options=(("Size", "M"),)),),
            )

        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES, [Outgoing(record=shirt("S-1-M"))]
            )
            (outcome,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=shirt("s-1-m"))]
            )
        assert outcome.ok, outcome
        variations = [
            r["sku"] for r in emu.shop.products.values() if r["parent_id"]
        ]
        assert ["s-1-m"] == variations

    async def test_its_own_product_retyped_in_case_is_written_back(
        self,
    ) -> None:
        """
        The article's linked product, whose SKU the merchant retyped in
        another case, is still its own: the push writes the ERP's
        spelling back instead of failing.
        """
        emu, first, again = await _pushed_again_after_retyping("a-1")
        assert (True, first.platform_id) == (again.ok, again.platform_id)
        assert [("A-1", "Up2")] == [
            (r["sku"], r["name"]) for r in emu.shop.products.values()
        ]


class TestSkuRenamedInTheShop:
    """
    An article whose linked product the merchant gave another SKU.
    """

    async def test_its_linked_product_is_written_back(self) -> None:
        """
        The merchant renamed the SKU of the article's product by hand
        (``A-1`` to ``OLD-A-1``): the push found no product for ``A-1``
        and made a second one, both on sale.  The linked product is
        still the article's: the push writes ``A-1`` back onto it.
        """
        emu, first, again = await _pushed_again_after_retyping("OLD-A-1")
        assert (True, first.platform_id) == (again.ok, again.platform_id)
        assert [("A-1", "Up2")] == [
            (r["sku"], r["name"]) for r in emu.shop.products.values()
        ]

    async def test_stock_of_a_renamed_product_names_it(self) -> None:
        """
        Stock of an article whose product the merchant renamed failed
        as "not on WooCommerce", which it is: it fails naming the
        product and the SKU it has now, unwritten (that SKU may be
        another article's).
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="A", price=1))],
            )
            (first,) = await woo.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="A-1", quantity=5))],
            )
            (row,) = emu.shop.products.values()
            row["sku"] = "OLD-A-1"
            (again,) = await woo.push(
                DataType.STOCK,
                [
                    Outgoing(
                        record=StockLevel(number="A-1", quantity=3),
                        platform_id=first.platform_id,
                    )
                ],
            )
        assert (False, "number") == (again.ok, again.field)
        assert f"#{first.platform_id}" in (again.error or "")
        assert "'OLD-A-1'" in (again.error or "")
        assert [5] == [r["stock_quantity"] for r in emu.shop.products.values()]

    async def test_renamed_to_another_articles_sku_fails(self) -> None:
        """
        The merchant gave the linked product of ``A-1`` the SKU ``B-1``,
        which article ``B-1`` of the same push needs: ``B-1`` took it
        over.  Both fail on ``number`` naming the product; nothing is
        written over.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            (first,) = await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="A-1", name="A", price=9))],
            )
            pid = int(first.platform_id or 0)
            emu.shop.products[pid]["sku"] = "B-1"
            a1, b1 = await woo.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(number="A-1", name="A2", price=9),
                        platform_id=first.platform_id,
                    ),
                    Outgoing(record=Article(number="B-1", name="B", price=9)),
                ],
            )
        assert [(False, "number")] * 2 == [(o.ok, o.field) for o in (a1, b1)]
        assert f"#{pid}" in (a1.error or "")
        assert f"#{pid}" in (b1.error or "")
        assert "'B-1'" in (a1.error or "")
        assert "A2" not in [r["name"] for r in emu.shop.products.values()]


class TestRenamedInOneRead:
    """
    The products of several articles whose SKUs the merchant renamed are
    read in one request, not one each.
    """

    @staticmethod
    async def _renamed(
        emu: WooCommerceEmulator, woo: WooCommerce, kind: DataType
    ) -> list[Outcome]:
        """
        ``A-1`` ... ``A-3`` pushed (with stock), their SKUs renamed to
        ``OLD-A-n`` by hand, and *kind* pushed again: its outcomes.
        """
        numbers = ["A-1", "A-2", "A-3"]
        firsts = await woo.push(
            DataType.ARTICLES,
            [
                Outgoing(record=Article(number=n, name=n, price=9))
                for n in numbers
            ],
        )
        for row in emu.shop.products.values():
            row["sku"] = f"OLD-{row['sku']}"
        emu.requests.clear()
        records = {
            DataType.ARTICLES: [
                Article(number=n, name=f"{n}!", price=9) for n in numbers
            ],
            DataType.STOCK: [
                StockLevel(number=n, quantity=3) for n in numbers
            ],
        }[kind]
        return await woo.push(
            kind,
            [
                Outgoing(record=r, platform_id=f.platform_id)
                for r, f in zip(records, firsts, strict=True)
            ],
        )

    async def test_renamed_articles_are_written_back(self) -> None:
        """
        Three articles whose products' SKUs the merchant renamed: their
        products were read one ``GET products/<id>`` each.  One
        ``products?include=`` read finds them; each SKU is written back.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            outcomes = await self._renamed(emu, woo, DataType.ARTICLES)

        assert [True] * 3 == [o.ok for o in outcomes]
        assert ["A-1", "A-2", "A-3"] == sorted(
            r["sku"] for r in emu.shop.products.values()
        )
        assert [] == [r for r in emu.requests if r.route == "products_get"]

    async def test_stock_of_renamed_products_names_each(self) -> None:
        """
        Stock of three articles whose products the merchant renamed:
        each product was read with a ``GET products/<id>`` of its own.
        One ``products?include=`` read names each product and its SKU;
        nothing is written.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        async with _shop(emu) as woo:
            outcomes = await self._renamed(emu, woo, DataType.STOCK)

        assert [(False, "number")] * 3 == [(o.ok, o.field) for o in outcomes]
        for outcome in outcomes:
            assert f"'OLD-{outcome.number}'" in (outcome.error or "")
        assert [] == [r for r in emu.requests if r.route == "products_get"]
        assert [r.method for r in emu.requests] == ["GET"] * len(emu.requests)


class TestCategoryCycle:
    async def test_categories_moved_into_a_cycle_fail_unwritten(
        self,
    ) -> None:
        """
        Categories on the shop that the ERP moves into a cycle (each the
        other's parent) fail on parent naming it; the tree stays as it was.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        tools = Category(number="C1", name="Tools")
        pliers = Category(number="C2", name="Pliers", parent="C1")
        async with _shop(emu) as woo:
            await woo.push(
                DataType.CATEGORIES,
                [Outgoing(record=tools), Outgoing(record=pliers)],
            )
            before = {
                t["name"]: t["parent"] for t in emu.shop.categories.values()
            }
            outcomes = await woo.push(
                DataType.CATEGORIES,
                [
                    Outgoing(record=attrs.evolve(tools, parent="C2")),
                    Outgoing(record=attrs.evolve(pliers, parent="C1")),
                ],
            )
        assert [("C1", "parent"), ("C2", "parent")] == [
            (o.number, o.field) for o in outcomes
        ]
        assert all("cycle" in (o.error or "") for o in outcomes)
        assert before == {
            t["name"]: t["parent"] for t in emu.shop.categories.values()
        }


class TestPriceDecimals:
    async def test_a_price_the_shop_would_round_fails_unsent(self) -> None:
        """
        WooCommerce charges prices rounded to its "Number of decimals"
        (2): an article (or variant) priced 9.995 fails on its price
        field saying so, and nothing of it is written; 9.990 lands.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        shirt = Article(
            number="S-1",
            name="Shirt",
            price=Decimal("5"),
            variants=(
                Variant(
                    number="S-1-M",
                    options=(("Size", "M"),),
                    price=Decimal("1.005"),
                ),
            ),
        )
        async with _shop(emu) as woo:
            odd, variant, fine = await woo.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(
                            number="A-1", name="A", price=Decimal("9.995")
                        )
                    ),
                    Outgoing(record=shirt),
                    Outgoing(
                        record=Article(
                            number="A-2", name="B", price=Decimal("9.990")
                        )
                    ),
                ],
            )
        assert ("A-1", "price") == (odd.number, odd.field)
        assert "2 decimals" in (odd.error or "")
        assert ("S-1", "variants.0.price") == (variant.number, variant.field)
        assert fine.ok, fine
        assert ["A-2"] == [r["sku"] for r in emu.shop.products.values()]

    async def test_a_shop_with_three_decimals_takes_them(self) -> None:
        """
        A shop set to 3 decimals takes a price of 9.995 as it is.
        """
        emu = WooCommerceEmulator("ck_merchant", SECRET)
        emu.shop.price_decimals = 3
        async with _shop(emu) as woo:
            (outcome,) = await woo.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(
                            number="A-1", name="A", price=Decimal("9.995")
                        )
                    )
                ],
            )
        assert outcome.ok, outcome
        (row,) = emu.shop.products.values()
        assert "9.995" == row["regular_price"]
