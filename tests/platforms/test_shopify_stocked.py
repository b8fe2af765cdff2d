"""
Shopify stocks an inventory item only at the locations where it was
activated: the variants ecomsync makes are stocked where their stock
goes (one request per push that made some, none at the primary
location), and stock for a location a variant was taken off fails by
name on ``quantity`` instead of stocking it there again.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import Article, DataType, Outgoing, StockLevel, Variant
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopify._stocking import Made, track_new_products
from ecomsync.testing.shopify import ShopifyEmulator

from .._retries import fast_retries
from ._adapters import shopify_emulator, shopify_on


pytestmark = pytest.mark.anyio

TOKEN = "shpat_stocked-S3CR3T"


_fast_retries = fast_retries(2)


def _emu() -> ShopifyEmulator:
    return shopify_emulator(TOKEN)


def _shop(emu: ShopifyEmulator, **kwargs: Any) -> Shopify:
    return shopify_on(emu, TOKEN, **kwargs)


def _articles(*numbers: str, price: int = 1) -> list[Outgoing]:
    return [
        Outgoing(record=Article(number=n, name=n, price=price))
        for n in numbers
    ]


def _stock(
    number: str, quantity: int, warehouse: str | None = None
) -> Outgoing:
    return Outgoing(
        record=StockLevel(
            number=number, quantity=quantity, warehouse=warehouse
        )
    )


SHIRT = Article(
    number="S-1",
    name="Shirt",
    price=1,
    variants=(Variant(number="S-1-S", options=(("Size", "S"),)),),
)
BIGGER = attrs.evolve(
    SHIRT,
    variants=(
        *SHIRT.variants,
        Variant(number="S-1-L", options=(("Size", "L"),)),
    ),
)


def _item(emu: ShopifyEmulator, sku: str) -> int:
    return next(
        v["_item"] for v in emu.shop.variants.values() if v["sku"] == sku
    )


def _stocked(emu: ShopifyEmulator, sku: str) -> dict[str, int]:
    """Where the SKU is stocked: location name -> available."""
    item = _item(emu, sku)
    return {
        emu.shop.locations[loc]["name"]: q["available"]
        for (it, loc), q in emu.shop.levels.items()
        if it == item
    }


def _take_off(emu: ShopifyEmulator, sku: str, location: str) -> None:
    """The merchant unstocks *sku* at *location* (Shopify admin)."""
    n = int(location.rsplit("/", 1)[1])
    del emu.shop.levels[(_item(emu, sku), n)]


class TestMadeByEcomsync:
    @pytest.mark.parametrize("bulk_threshold", [None, 2])
    async def test_stocked_where_the_stock_goes(
        self, bulk_threshold: int | None
    ) -> None:
        """
        With a location and a warehouse map the products an article push
        makes are stocked at every location stock goes to by their
        productSet, with no request more (one by one and in bulk), and
        their stock lands there; a later push of the same articles asks
        nothing more either.
        """
        emu = _emu()
        outlet = emu.shop.add_location("Outlet")
        emu.shop.add_location("Store")
        async with _shop(
            emu,
            bulk_threshold=bulk_threshold,
            location=outlet,
            locations={"WH": "Warehouse", "ST": "Store"},
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles("A-1", "B-1"))
            first = len(emu.requests)
            outcomes = await shop.push(
                DataType.STOCK,
                [
                    _stock("A-1", 5),
                    _stock("A-1", 2, "ST"),
                    _stock("B-1", 3, "WH"),
                ],
            )
            sent = len(emu.requests)
            again = await shop.push(
                DataType.ARTICLES, _articles("A-1", "B-1", price=2)
            )
            later = len(emu.requests) - sent

        assert all(o.ok for o in outcomes), outcomes
        assert {"Warehouse": 0, "Outlet": 5, "Store": 2} == _stocked(
            emu, "A-1"
        )
        assert {"Warehouse": 3, "Outlet": 0, "Store": 0} == _stocked(
            emu, "B-1"
        )
        assert all(o.ok for o in again)
        if bulk_threshold is None:
            # collections, locations, look-up, 2 productSet: the new
            # products are stocked by their productSet
            assert 5 == first
            # look-up, 2 productSet: no activation for variants that exist
            assert 3 == later

    async def test_a_variant_added_to_a_product(self) -> None:
        """
        A variant added to a product that exists is stocked where the
        stock goes by one request more for the push; the variants that
        were there are not touched, one the merchant took off a location
        stays off it.
        """
        emu = _emu()
        outlet = emu.shop.add_location("Outlet")
        async with _shop(emu, location=outlet) as shop:
            await shop.push(DataType.ARTICLES, [Outgoing(record=SHIRT)])
            _take_off(emu, "S-1-S", outlet)
            sent = len(emu.requests)
            landed = await shop.push(
                DataType.ARTICLES, [Outgoing(record=BIGGER)]
            )
            asked = len(emu.requests) - sent
            stock = await shop.push(
                DataType.STOCK, [_stock("S-1-L", 6), _stock("S-1-S", 1)]
            )
        assert landed[0].ok
        assert 3 == asked  # look-up, productSet, one activation
        assert [True, False] == [o.ok for o in stock]
        # Shopify's own stocking at the primary location, and ecomsync's
        assert {"Warehouse": 0, "Outlet": 6} == _stocked(emu, "S-1-L")
        assert {} == _stocked(emu, "S-1-S")

    async def test_nothing_more_at_the_primary_location(self) -> None:
        """
        Without location or locations a new variant is stocked at the
        primary location by Shopify itself: the article push asks no
        more than the look-up and the productSet.
        """
        emu = _emu()
        emu.shop.add_location("Outlet")
        async with _shop(emu) as shop:
            landed = await shop.push(DataType.ARTICLES, _articles("A-1"))
            pushed = len(emu.requests)  # collections, look-up, productSet
            stocked = await shop.push(DataType.STOCK, [_stock("A-1", 4)])
        assert landed[0].ok
        assert stocked[0].ok
        assert 3 == pushed
        assert {"Warehouse": 4} == _stocked(emu, "A-1")

    async def test_refused_activation_fails_the_article(self) -> None:
        """
        A variant added to a product that Shopify does not stock where
        the stock goes fails its article (which has landed) naming the
        SKU, the location and Shopify's reason, instead of passing for
        stockable.
        """
        emu = _emu()
        outlet = emu.shop.add_location("Outlet")
        async with _shop(emu, location=outlet) as shop:
            await shop.push(DataType.ARTICLES, [Outgoing(record=SHIRT)])
            del emu.shop.locations[int(outlet.rsplit("/", 1)[1])]
            (outcome,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=BIGGER)]
            )
        assert ("S-1", False) == (outcome.number, outcome.ok)
        error = outcome.error or ""
        assert "Shopify did not stock its variant 'S-1-L'" in error
        assert outlet in error
        assert "The location was not found." in error


class TestTakenOff:
    async def test_primary_location(self) -> None:
        """
        Stock of a variant the merchant took off the primary location
        fails on quantity naming the record and the location; it is not
        stocked there again, and the rest of the push lands.
        """
        emu = _emu()
        outlet = emu.shop.add_location("Outlet")
        async with _shop(emu) as shop:
            await shop.push(DataType.ARTICLES, _articles("A-1", "B-1"))
        emu.shop.levels[(_item(emu, "A-1"), int(outlet.rsplit("/", 1)[1]))] = {
            "available": 1,
            "on_hand": 1,
        }
        _take_off(emu, "A-1", emu.shop.primary_location)
        async with _shop(emu) as shop:
            failed, landed = await shop.push(
                DataType.STOCK, [_stock("A-1", 7), _stock("B-1", 4)]
            )
        assert ("A-1", "quantity") == (failed.number, failed.field)
        error = failed.error or ""
        assert "'A-1' is not stocked at Shopify location" in error
        assert emu.shop.primary_location in error
        assert "activate it at that location in Shopify" in error
        assert landed.ok
        assert {"Outlet": 1} == _stocked(emu, "A-1")
        assert {"Warehouse": 4} == _stocked(emu, "B-1")

    @pytest.mark.parametrize("bulk_threshold", [None, 2])
    async def test_mapped_location(self, bulk_threshold: int | None) -> None:
        """
        A variant taken off a mapped location is not stocked there again
        by the stock push: that warehouse's level fails on quantity, the
        article's other level lands.
        """
        emu = _emu()
        store = emu.shop.add_location("Store")
        async with _shop(
            emu,
            bulk_threshold=bulk_threshold,
            locations={"WH": "Warehouse", "ST": "Store"},
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles("A-1", "B-1"))
            _take_off(emu, "A-1", store)
            outcomes = await shop.push(
                DataType.STOCK,
                [
                    _stock("A-1", 5, "WH"),
                    _stock("A-1", 2, "ST"),
                    _stock("B-1", 1, "ST"),
                ],
            )
        assert [True, False, True] == [o.ok for o in outcomes]
        assert ("A-1", "quantity") == (outcomes[1].number, outcomes[1].field)
        assert store in (outcomes[1].error or "")
        assert {"Warehouse": 5} == _stocked(emu, "A-1")
        assert {"Warehouse": 0, "Store": 1} == _stocked(emu, "B-1")


class TestTracked:
    def test_new_products_track_their_inventory(self) -> None:
        """The variants of a product the push makes are sent with
        inventoryItem.tracked true; those of a product that exists are
        sent without it (the merchant's choice stays)."""
        todo = [
            (0, "OLD-1", {"input": {"variants": [{"sku": "OLD-1"}]}}),
            (
                1,
                "NEW-1",
                {
                    "input": {
                        "variants": [{"sku": "NEW-1-S"}, {"sku": "NEW-1-M"}]
                    }
                },
            ),
        ]

        track_new_products(
            todo, Made(seen=set(), owners={"OLD-1"}, found={"old-1"})
        )

        assert [
            [v.get("inventoryItem") for v in t[2]["input"]["variants"]]
            for t in todo
        ] == [[None], [{"tracked": True}, {"tracked": True}]]

    async def test_untracked_by_hand_stays_untracked(self) -> None:
        """An article pushed again leaves a variant the merchant stopped
        tracking untracked; a new article's variants are tracked."""
        emu = _emu()
        async with _shop(emu) as shop:
            await shop.push(DataType.ARTICLES, _articles("A-1"))
            (item,) = [
                v["_item"]
                for v in emu.shop.variants.values()
                if v["sku"] == "A-1"
            ]
            emu.shop.untracked.add(item)
            written = await shop.push(
                DataType.ARTICLES, _articles("A-1", "B-1", price=2)
            )

        assert all(o.ok for o in written), written
        assert emu.shop.untracked == {item}

    async def test_a_variant_added_to_a_product_is_tracked(self) -> None:
        """A variant the push adds to a product that exists is sent with
        inventoryItem.tracked true; its existing variant is sent without
        it, so the merchant's untracked choice stays."""
        emu = _emu()
        sent: list[Any] = []

        class Recording(httpx.ASGITransport):
            async def handle_async_request(
                self, request: httpx.Request
            ) -> httpx.Response:
                body = json.loads(await request.aread() or b"null")
                if body and "productSet" in str(body.get("query")):
                    sent.append(body["variables"]["input"]["variants"])
                return await super().handle_async_request(request)

        async with Shopify(
            "https://shop.test", TOKEN, transport=Recording(app=emu.app)
        ) as shop:
            await shop.push(DataType.ARTICLES, [Outgoing(record=SHIRT)])
            emu.shop.untracked.add(_item(emu, "S-1-S"))
            (written,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=BIGGER)]
            )

        assert written.ok, written
        assert [(v["sku"], v.get("inventoryItem")) for v in sent[-1]] == [
            ("S-1-S", None),
            ("S-1-L", {"tracked": True}),
        ]
        assert emu.shop.untracked == {_item(emu, "S-1-S")}


async def test_variant_deleted_by_hand_is_looked_up_again() -> None:
    """
    A long-lived adapter whose article's product the merchant deleted
    and imported again by hand sends that SKU's stock to the new variant
    from the next push on (it sent it to the deleted item, refused, in
    every push until the process restarted).
    """
    emu = _emu()
    async with _shop(emu) as shop:
        await shop.push(DataType.ARTICLES, _articles("A-1"))
        (n,) = emu.shop.products
        emu.shop.delete_product(n)
        title = {"optionName": "Title", "name": "Default Title"}
        again = emu.shop.product_set(
            {
                "title": "A-1, imported again",
                "productOptions": [
                    {"name": "Title", "values": [{"name": "Default Title"}]}
                ],
                "variants": [{"optionValues": [title], "sku": "A-1"}],
            },
            None,
        )
        assert [] == again["userErrors"]
        (first,) = await shop.push(DataType.STOCK, [_stock("A-1", 5)])
        (second,) = await shop.push(DataType.STOCK, [_stock("A-1", 5)])

    primary = int(emu.shop.primary_location.rsplit("/", 1)[1])
    assert second.ok, second
    assert ("A-1", "quantity") == (first.number, first.field)
    assert "deleted in Shopify" in str(first.error)
    assert 5 == emu.shop.levels[(_item(emu, "A-1"), primary)]["available"]


async def test_renamed_option_value_keeps_its_variant() -> None:
    """
    A variant whose option value the ERP renamed (size "L" now "Large",
    the same SKU) is updated in place: it keeps its inventory item and
    its stock (Shopify made it anew at 0, and the ERP's unchanged stock
    was never sent again).
    """
    emu = _emu()
    large = attrs.evolve(BIGGER.variants[1], options=(("Size", "Large"),))
    renamed = attrs.evolve(BIGGER, variants=(BIGGER.variants[0], large))
    async with _shop(emu) as shop:
        await shop.push(DataType.ARTICLES, [Outgoing(record=BIGGER)])
        (stocked,) = await shop.push(DataType.STOCK, [_stock("S-1-L", 5)])
        assert stocked.ok, stocked
        item = _item(emu, "S-1-L")
        (outcome,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=renamed)]
        )

    primary = int(emu.shop.primary_location.rsplit("/", 1)[1])
    assert outcome.ok, outcome
    assert item == _item(emu, "S-1-L")
    assert 5 == emu.shop.levels[(item, primary)]["available"]
    assert ["S", "Large"] == [v["title"] for v in emu.shop.variants.values()]
