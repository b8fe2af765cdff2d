"""
The Shopify emulator's inventory as Shopify keeps it: an item is stocked
only where it was activated (a new variant at its inventoryQuantities'
locations, else at the primary one; a location the shop does not have
is refused), a write elsewhere is
ITEM_NOT_STOCKED_AT_LOCATION before 2026-10, and inventoryActivate and
inventoryBulkToggleActivation stock and unstock it.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecomsync.testing.shopify import ShopifyEmulator

from ._shopify import INVENTORY, PRODUCT_SET, TOKEN, custom, gql, hammer


pytestmark = pytest.mark.anyio

LEVELS = """
query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 10) {
  nodes { location { name } quantities(names: ["available"]) { quantity } }
} } }
"""
TOGGLE = """
mutation($id: ID!, $u: [InventoryBulkToggleActivationInput!]!) {
  inventoryBulkToggleActivation(
    inventoryItemId: $id, inventoryItemUpdates: $u
  ) {
    inventoryLevels { location { name } }
    userErrors { field message code }
  }
}
"""
ACTIVATE = """
mutation($id: ID!, $loc: ID!, $n: Int, $key: String!) {
  inventoryActivate(inventoryItemId: $id, locationId: $loc, available: $n)
    @idempotent(key: $key) {
    inventoryLevel { location { name } }
    userErrors { field message }
  }
}
"""


@pytest.fixture(name="emu")
def _emu() -> ShopifyEmulator:
    return ShopifyEmulator(TOKEN)


async def _item(emu: ShopifyEmulator, data: dict[str, Any]) -> str:
    answer = await gql(emu, PRODUCT_SET, {"input": data, "id": custom("A")})
    product = answer["data"]["productSet"]["product"]
    return str(product["variants"]["nodes"][0]["inventoryItem"]["id"])


async def _levels(emu: ShopifyEmulator, item: str) -> dict[str, int]:
    answer = await gql(emu, LEVELS, {"id": item})
    nodes = answer["data"]["inventoryItem"]["inventoryLevels"]["nodes"]
    return {
        n["location"]["name"]: n["quantities"][0]["quantity"] for n in nodes
    }


async def _set(
    emu: ShopifyEmulator,
    item: str,
    *places: tuple[str, int],
    version: str = "2026-01",
) -> dict[str, Any]:
    answer = await gql(
        emu,
        INVENTORY,
        {
            "key": f"{item}{places}{version}",
            "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": item,
                        "locationId": loc,
                        "quantity": n,
                        "changeFromQuantity": None,
                    }
                    for loc, n in places
                ],
            },
        },
        url=f"/admin/api/{version}/graphql.json",
    )
    result: dict[str, Any] = answer["data"]["inventorySetQuantities"]
    return result


async def test_a_new_variant_is_stocked_at_the_primary_location(
    emu: ShopifyEmulator,
) -> None:
    """
    A variant made without inventoryQuantities is stocked at the primary
    location only, and a location added later stocks nothing.
    """
    emu.shop.add_location("Outlet")
    item = await _item(emu, hammer())
    emu.shop.add_location("Later")
    assert {"Warehouse": 0} == await _levels(emu, item)


async def test_inventory_quantities_choose_the_locations(
    emu: ShopifyEmulator,
) -> None:
    """
    A variant made with inventoryQuantities is stocked where they say
    (with their quantities), not at the primary location.
    """
    outlet = emu.shop.add_location("Outlet")
    data = hammer()
    data["variants"][0]["inventoryQuantities"] = [
        {"locationId": outlet, "name": "available", "quantity": 4}
    ]
    item = await _item(emu, data)
    assert {"Outlet": 4} == await _levels(emu, item)


async def test_inventory_quantities_at_an_unknown_location_are_refused(
    emu: ShopifyEmulator,
) -> None:
    """
    A productSet whose inventoryQuantities name a location the shop does
    not have is a userError on that entry's locationId, and nothing of it
    is written (it was silently dropped: the product made, stocked at the
    known location alone).
    """
    outlet = emu.shop.add_location("Outlet")
    data = hammer()
    data["variants"][0]["inventoryQuantities"] = [
        {"locationId": outlet, "name": "available", "quantity": 4},
        {
            "locationId": "gid://shopify/Location/999",
            "name": "available",
            "quantity": 2,
        },
    ]

    answer = await gql(emu, PRODUCT_SET, {"input": data, "id": custom("A")})

    assert {
        "product": None,
        "userErrors": [
            {
                "field": [
                    "input",
                    "variants",
                    "0",
                    "inventoryQuantities",
                    "1",
                    "locationId",
                ],
                "message": "The specified location could not be found.",
                "code": "INVALID_VARIANT",
            }
        ],
    } == answer["data"]["productSet"]
    assert {} == emu.shop.products
    assert {} == emu.shop.levels


async def test_a_write_where_the_item_is_not_stocked_is_refused(
    emu: ShopifyEmulator,
) -> None:
    """
    inventorySetQuantities at a location that does not stock the item
    is ITEM_NOT_STOCKED_AT_LOCATION on that quantity's locationId, and
    nothing of the call is applied; from 2026-10 it stocks the item.
    """
    outlet = emu.shop.add_location("Outlet")
    item = await _item(emu, hammer())
    primary = emu.shop.primary_location

    refused = await _set(emu, item, (primary, 5), (outlet, 3))
    assert refused["inventoryAdjustmentGroup"] is None
    assert [
        {
            "field": ["input", "quantities", "1", "locationId"],
            "message": "The specified inventory item is not stocked at the "
            "location.",
            "code": "ITEM_NOT_STOCKED_AT_LOCATION",
        }
    ] == refused["userErrors"]
    assert {"Warehouse": 0} == await _levels(emu, item)

    landed = await _set(emu, item, (outlet, 3), version="2026-10")
    assert [] == landed["userErrors"]
    assert {"Warehouse": 0, "Outlet": 3} == await _levels(emu, item)


async def test_a_quantity_beyond_a_billion_is_refused(
    emu: ShopifyEmulator,
) -> None:
    """
    inventorySetQuantities above 1,000,000,000 is INVALID_QUANTITY_TOO_HIGH,
    below its negative INVALID_QUANTITY_TOO_LOW, on that quantity, and
    nothing of the call is applied; a billion itself lands.
    """
    outlet = emu.shop.add_location("Outlet")
    item = await _item(emu, hammer())
    primary = emu.shop.primary_location
    v = "2026-10"  # stocks the item at Outlet too

    high = await _set(emu, item, (primary, 5), (outlet, 10**9 + 1), version=v)
    low = await _set(
        emu, item, (primary, -(10**9) - 1), (outlet, 3), version=v
    )
    landed = await _set(emu, item, (primary, 10**9), version=v)

    assert high["inventoryAdjustmentGroup"] is None
    assert [
        {
            "field": ["input", "quantities", "1", "quantity"],
            "message": "The total quantity can't be higher than "
            "1,000,000,000.",
            "code": "INVALID_QUANTITY_TOO_HIGH",
        }
    ] == high["userErrors"]
    assert [
        {
            "field": ["input", "quantities", "0", "quantity"],
            "message": "The total quantity can't be lower than "
            "-1,000,000,000.",
            "code": "INVALID_QUANTITY_TOO_LOW",
        }
    ] == low["userErrors"]
    assert [] == landed["userErrors"]
    assert {"Warehouse": 10**9} == await _levels(emu, item)


async def test_bulk_toggle_stocks_and_unstocks(emu: ShopifyEmulator) -> None:
    """
    inventoryBulkToggleActivation stocks the item at a location (a write
    there lands), unstocks it (its quantities gone), refuses to unstock
    it from its only location and names an unknown location.
    """
    outlet = emu.shop.add_location("Outlet")
    item = await _item(emu, hammer())
    primary = emu.shop.primary_location

    async def toggle(*updates: tuple[str, bool]) -> dict[str, Any]:
        answer = await gql(
            emu,
            TOGGLE,
            {
                "id": item,
                "u": [
                    {"locationId": loc, "activate": on} for loc, on in updates
                ],
            },
        )
        result: dict[str, Any] = answer["data"][
            "inventoryBulkToggleActivation"
        ]
        return result

    on = await toggle((outlet, True))
    assert ([], [{"location": {"name": "Outlet"}}]) == (
        on["userErrors"],
        on["inventoryLevels"],
    )
    assert [] == (await _set(emu, item, (outlet, 3)))["userErrors"]
    assert [] == (await toggle((primary, False)))["userErrors"]
    assert {"Outlet": 3} == await _levels(emu, item)
    only = await toggle((outlet, False))
    assert ["CANNOT_DEACTIVATE_FROM_ONLY_LOCATION"] == [
        e["code"] for e in only["userErrors"]
    ]
    unknown = await toggle(("gid://shopify/Location/9", True))
    assert [
        (["inventoryItemUpdates", "0", "locationId"], "LOCATION_NOT_FOUND")
    ] == [(e["field"], e["code"]) for e in unknown["userErrors"]]
    assert {"Outlet": 3} == await _levels(emu, item)


async def test_inventory_activate(emu: ShopifyEmulator) -> None:
    """
    inventoryActivate stocks the item with its first available quantity;
    activating it again keeps the quantity; from 2026-04 it needs
    @idempotent.
    """
    outlet = emu.shop.add_location("Outlet")
    item = await _item(emu, hammer())
    first = await gql(
        emu, ACTIVATE, {"id": item, "loc": outlet, "n": 6, "key": "k1"}
    )
    assert {
        "inventoryLevel": {"location": {"name": "Outlet"}},
        "userErrors": [],
    } == (first["data"]["inventoryActivate"])
    await gql(emu, ACTIVATE, {"id": item, "loc": outlet, "n": 1, "key": "k2"})
    assert {"Warehouse": 0, "Outlet": 6} == await _levels(emu, item)
    bare = ACTIVATE.replace("@idempotent(key: $key)", "").replace(
        ", $key: String!", ""
    )
    strict = await gql(
        emu,
        bare,
        {"id": item, "loc": outlet, "n": 1},
        url="/admin/api/2026-04/graphql.json",
    )
    assert "@idempotent" in strict["errors"][0]["message"]
