"""
The Vendure adapter on real merchant data, against a live Vendure
server: articles renumbered in the ERP, products whose slug is not the
article's, several stock locations and stock held by paid orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import (
    Article,
    ConfigurationError,
    DataType,
    Outcome,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.platforms.vendure import Vendure

from ._vendure_shop import _shop_order, _variants
from .vendure_server import VendureAdmin, VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


def _sizes(prefix: str) -> tuple[Variant, ...]:
    return (
        Variant(number=f"{prefix}-S", options=(("Size", "S"),)),
        Variant(number=f"{prefix}-M", options=(("Size", "M"),)),
    )


async def _stock(admin: VendureAdmin, sku: str) -> dict[str, Any]:
    """
    ``(stockOnHand, stockAllocated)`` per location holding any, and
    ``"sells"``: what the channel sells (Vendure sums its locations).
    """
    data = await admin.gql(
        "query ($s: String!) { productVariants(options: { filter: "
        "{ sku: { eq: $s } } }) { items { stockOnHand stockAllocated "
        "stockLevels { stockLocation { name } stockOnHand stockAllocated }"
        " } } }",
        {"s": sku},
    )
    (variant,) = data["productVariants"]["items"]
    held: dict[str, Any] = {
        s["stockLocation"]["name"]: (s["stockOnHand"], s["stockAllocated"])
        for s in variant["stockLevels"]
        if s["stockOnHand"] or s["stockAllocated"]
    }
    held["sells"] = variant["stockOnHand"] - variant["stockAllocated"]
    return held


async def _location(admin: VendureAdmin, name: str) -> str:
    """
    A new stock location named *name* (Vendure allows a name twice).
    """
    made = await admin.gql(
        "mutation ($n: String!) { createStockLocation(input: "
        '{ name: $n, description: "" }) { id } }',
        {"n": name},
    )
    return str(made["createStockLocation"]["id"])


async def _by_hand(
    admin: VendureAdmin,
    sku: str,
    levels: dict[str, int] | None = None,
    *,
    on_hand: int | None = None,
) -> None:
    """
    Stock entered by hand in the Admin UI: *levels* by location id, or
    a bare *on_hand* (Vendure puts that at its default location).
    """
    (variant,) = await _variants(admin, sku)
    entry: dict[str, Any] = {"id": variant["id"]}
    if levels is not None:
        entry["stockLevels"] = [
            {"stockLocationId": k, "stockOnHand": v} for k, v in levels.items()
        ]
    if on_hand is not None:
        entry["stockOnHand"] = on_hand
    await admin.gql(
        "mutation ($i: [UpdateProductVariantInput!]!) "
        "{ updateProductVariants(input: $i) { id } }",
        {"i": [entry]},
    )


async def _article(shop: Vendure, number: str) -> Outcome:
    """
    Push a plain article *number*; its outcome.
    """
    (made,) = await shop.push(
        DataType.ARTICLES,
        [Outgoing(record=Article(number=number, name=number, price=1))],
    )
    return made


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
        async with fresh_vendure.platform() as shop:
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
        async with fresh_vendure.platform() as shop:
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

    async def test_a_linked_product_deleted_by_hand_is_made_again(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A product the store links but the merchant deleted in Vendure is
        not written to: the article gets a new product with its
        variants.
        """
        tee = Article(
            number="D-1",
            name="Tee",
            price=Decimal("20.00"),
            variants=_sizes("D-1"),
        )
        async with fresh_vendure.platform() as shop:
            (one,) = await shop.push(DataType.ARTICLES, [Outgoing(record=tee)])
            admin = fresh_vendure.admin()
            try:
                await admin.gql(
                    "mutation ($id: ID!) { deleteProduct(id: $id) "
                    "{ result } }",
                    {"id": one.platform_id},
                )
            finally:
                await admin.aclose()
            (two,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=tee, platform_id=one.platform_id)],
            )

        assert two.ok, two.error
        assert two.platform_id != one.platform_id
        assert [(two.platform_id, ["D-1-S", "D-1-M"])] == [
            (p["id"], [v["sku"] for v in p["variants"]])
            for p in await _products(fresh_vendure)
        ]

    async def test_a_variant_moved_to_another_article(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A variant moved in the ERP from one article to another (A-L from
        A to B): B fails at first on ``variants``, naming the SKU and
        the product still holding it, while A lands without it; the
        next push of B lands: one variant A-L, on B's product.
        """
        a = Article(
            number="A",
            name="A",
            price=Decimal("10.00"),
            variants=(
                *_sizes("A"),
                Variant(number="A-L", options=(("Size", "L"),)),
            ),
        )
        b = Article(
            number="B", name="B", price=Decimal("10.00"), variants=_sizes("B")
        )
        moved_a = attrs.evolve(a, variants=a.variants[:2])
        moved_b = attrs.evolve(b, variants=(*b.variants, a.variants[2]))
        async with fresh_vendure.platform() as shop:
            pa, pb = await shop.push(
                DataType.ARTICLES, [Outgoing(record=a), Outgoing(record=b)]
            )
            first = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=moved_b, platform_id=pb.platform_id),
                    Outgoing(record=moved_a, platform_id=pa.platform_id),
                ],
            )
            (again,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=moved_b, platform_id=pb.platform_id)],
            )

        assert ["variants", None] == [o.field for o in first]
        assert "(A-L on variant " in str(first[0].error)
        assert f"of product {pa.platform_id}, B-M" in str(first[0].error)
        assert again.ok, again.error
        assert [
            (pa.platform_id, ["A-S", "A-M"]),
            (pb.platform_id, ["B-S", "B-M", "A-L"]),
        ] == [
            (p["id"], [v["sku"] for v in p["variants"]])
            for p in await _products(fresh_vendure)
        ]


class TestStock:
    """
    What the shop sells is what the ERP has available, whatever else the
    shop's stock locations and open orders hold.
    """

    async def test_a_location_no_warehouse_maps_sells_nothing(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A second stock location with stock entered by hand, which no
        ERP warehouse maps to, is set to sell nothing when the ERP's
        stock is written: Vendure sells the sum of a channel's
        locations, so the shop sold 3 + 5 where the ERP had 3.
        """
        admin = fresh_vendure.admin()
        try:
            north = await _location(admin, "North")
            async with fresh_vendure.platform() as shop:
                made = await _article(shop, "W-1")
                await _by_hand(admin, "W-1", {north: 5})
                (level,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="W-1", quantity=3))],
                )
            held = await _stock(admin, "W-1")
        finally:
            await admin.aclose()

        assert made.ok, made.error
        assert level.ok, level.error
        assert {"Default Stock Location": (3, 0), "sells": 3} == held

    async def test_the_default_location_sells_nothing_with_a_mapping(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        With stock_locations and no stock_location, the default location
        no warehouse maps to and no level goes to is set to sell nothing
        too: stock entered there by hand was sold on top of the ERP's
        (3 + 5); a level without a warehouse still lands there.
        """
        admin = fresh_vendure.admin()
        try:
            await _location(admin, "North")
            async with fresh_vendure.platform(
                stock_locations={"WH-N": "North"}
            ) as shop:
                made = await _article(shop, "W-2")
                await _by_hand(admin, "W-2", on_hand=5)
                (level,) = await shop.push(
                    DataType.STOCK,
                    [
                        Outgoing(
                            record=StockLevel(
                                number="W-2", quantity=3, warehouse="WH-N"
                            )
                        )
                    ],
                )
                held = await _stock(admin, "W-2")
                both = await shop.push(
                    DataType.STOCK,
                    [
                        Outgoing(
                            record=StockLevel(
                                number="W-2", quantity=3, warehouse="WH-N"
                            )
                        ),
                        Outgoing(record=StockLevel(number="W-2", quantity=2)),
                    ],
                )
            held_both = await _stock(admin, "W-2")
        finally:
            await admin.aclose()

        assert made.ok, made.error
        assert level.ok, level.error
        assert {"North": (3, 0), "sells": 3} == held
        # A level without a warehouse goes to the default location.
        assert all(o.ok for o in both), both
        assert {
            "Default Stock Location": (2, 0),
            "North": (3, 0),
            "sells": 5,
        } == held_both

    async def test_units_of_a_paid_order_are_counted_once(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A paid, unfulfilled order allocates 2 units; the ERP, having
        imported it, pushes 8 available of its 10: the shop keeps the 2
        allocated on hand and sells exactly 8, not 6.
        """
        article = Article(number="P-1", name="Pot", price=Decimal("4.00"))
        admin = fresh_vendure.admin()
        try:
            async with fresh_vendure.platform() as shop:
                (made,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=article)]
                )
                (ten,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="P-1", quantity=10))],
                )
                await _shop_order(fresh_vendure.url, str(ten.platform_id))
                ordered = await _stock(admin, "P-1")
                (eight,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="P-1", quantity=8))],
                )
            held = await _stock(admin, "P-1")
        finally:
            await admin.aclose()

        assert [made.ok, ten.ok, eight.ok] == [True, True, True], eight.error
        assert {"Default Stock Location": (10, 2), "sells": 8} == ordered
        assert {"Default Stock Location": (10, 2), "sells": 8} == held

    async def test_the_default_is_the_location_vendure_takes(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Without stock_location the stock goes where Vendure itself puts
        a variant's stock given without a location (the channel's oldest
        location), not to the first one the list returns: Vendure lists
        them in no defined order (here: by id, while "Lager" is older).
        """
        admin = fresh_vendure.admin()
        try:
            lager = await _location(admin, "Lager")
            # As a location moved from another system keeps its date.
            fresh_vendure.sql(
                "UPDATE stock_location SET createdAt = "
                "'2020-01-01 00:00:00.000' WHERE id = ?",
                int(lager),
            )
            async with fresh_vendure.platform() as shop:
                article = await _article(shop, "L-1")
                # Vendure's own default: a number without a location
                await _by_hand(admin, "L-1", on_hand=4)
                vendures = await _stock(admin, "L-1")
                (level,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="L-1", quantity=3))],
                )
            held = await _stock(admin, "L-1")
        finally:
            await admin.aclose()

        assert article.ok, article.error
        assert level.ok, level.error
        assert {"Lager": (4, 0), "sells": 4} == vendures
        assert {"Lager": (3, 0), "sells": 3} == held

    async def test_two_locations_of_one_name(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Two locations named "North" with stock entered by hand: both
        sell nothing once the ERP's stock is written (one of them was
        left selling its 5 on top of the ERP's 3); a mapping to
        "North" is refused, naming both.
        """
        admin = fresh_vendure.admin()
        try:
            norths = [await _location(admin, "North") for _ in range(2)]
            async with fresh_vendure.platform() as shop:
                article = await _article(shop, "N-1")
                await _by_hand(admin, "N-1", dict.fromkeys(norths, 5))
                (level,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="N-1", quantity=3))],
                )
            held = await _stock(admin, "N-1")
            async with fresh_vendure.platform(
                stock_locations={"WH-N": "North"}
            ) as mapped:
                problems = await mapped.check()
                with pytest.raises(ConfigurationError) as refused:
                    await mapped.push(
                        DataType.STOCK,
                        [
                            Outgoing(
                                record=StockLevel(
                                    number="N-1", quantity=1, warehouse="WH-N"
                                )
                            )
                        ],
                    )
            after = await _stock(admin, "N-1")
        finally:
            await admin.aclose()

        assert article.ok, article.error
        assert level.ok, level.error
        assert {"Default Stock Location": (3, 0), "sells": 3} == held
        named = f"'North' (ids {norths[0]}, {norths[1]})"
        assert named in str(refused.value)
        assert [named] == [named for p in problems if named in p]
        assert held == after
