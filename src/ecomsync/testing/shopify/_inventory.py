"""
Inventory as Shopify keeps it: an inventory item is stocked only at the
locations where it was activated (a new variant at the locations of its
``inventoryQuantities``, else at the primary location; then
``inventoryActivate`` or ``inventoryBulkToggleActivation``), and
``inventorySetQuantities`` writes only there before API version 2026-10.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import GraphQLError

from ._views import Row, check_input, parse_gid, user_error


if TYPE_CHECKING:
    from ._shop import Shop


#: The first API version where ``changeFromQuantity`` and ``@idempotent``
#: are mandatory on inventorySetQuantities (platform-apis.md §3.7).
STRICT_INVENTORY_VERSION = "2026-04"
#: The first API version where inventory quantities can be set at any
#: location: ITEM_NOT_STOCKED_AT_LOCATION is gone (shopify.dev changelog
#: "Removal of ITEM_NOT_STOCKED_AT_LOCATION error").
STOCK_ANYWHERE_VERSION = "2026-10"
#: The most a quantity set can be, either way (shopify.dev admin-graphql
#: enum InventorySetQuantitiesUserErrorCode: INVALID_QUANTITY_TOO_HIGH,
#: INVALID_QUANTITY_TOO_LOW).
MAX_QUANTITY = 1_000_000_000


def _zero() -> dict[str, int]:
    return {"available": 0, "on_hand": 0}


def stock_variant(shop: Shop, item: int, v: Row, *, new: bool) -> None:
    """
    Stock inventory item *item* of a variant ``productSet`` wrote (*v*):
    a new variant where its ``inventoryQuantities`` say, else at the
    primary location (Shopify stocks a new variant at the shop's default
    location); quantities given for a location stock it there too.
    """
    # productSet refused any location the shop does not have.
    places = [
        (parse_gid(q["locationId"], "Location") or 0, q)
        for q in v.get("inventoryQuantities") or ()
    ]
    primary = parse_gid(shop.primary_location, "Location")
    if new and not places and primary in shop.locations:
        shop.levels[(item, primary)] = _zero()
    for place, q in places:
        level = shop.levels.setdefault((item, place), _zero())
        level[q["name"]] = q["quantity"]


class Inventory:
    """
    The inventory mutations of `ShopifyEmulator` (a mixin over its
    ``shop``).
    """

    shop: Shop

    def _strict(self, key: str | None, version: str) -> None:
        if version >= STRICT_INVENTORY_VERSION and key is None:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation.",
                extensions={"code": "BAD_REQUEST"},
            )

    def set_quantities(
        self, data: Row, key: str | None, version: str = "2026-01"
    ) -> Row:
        check_input("input.quantities", data["quantities"])
        self._strict(key, version)
        if version >= STRICT_INVENTORY_VERSION:
            for i, q in enumerate(data["quantities"]):
                if "changeFromQuantity" not in q:
                    raise GraphQLError(
                        f"Variable input.quantities.{i}.changeFromQuantity is "
                        "required (pass null to skip the check).",
                        extensions={"code": "INVALID_VARIABLE"},
                    )
        if key is not None and key in self.shop.idempotency:
            return self.shop.idempotency[key]
        errs: list[Row] = []
        writes: list[tuple[tuple[int, int], Row]] = []
        for i, q in enumerate(data["quantities"]):
            base: list[str | int] = ["input", "quantities", i]
            item = parse_gid(q["inventoryItemId"], "InventoryItem") or 0
            loc = parse_gid(q["locationId"], "Location")
            if loc is None or loc not in self.shop.locations:
                errs.append(
                    user_error(
                        [*base, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
                continue
            if self.shop.variant_of_item(item) is None:
                errs.append(
                    user_error(
                        [*base, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
                continue
            if abs(q["quantity"]) > MAX_QUANTITY:
                high = q["quantity"] > 0
                errs.append(
                    user_error(
                        [*base, "quantity"],
                        "The total quantity can't be "
                        + (
                            "higher than 1,000,000,000."
                            if high
                            else "lower than -1,000,000,000."
                        ),
                        "INVALID_QUANTITY_TOO_" + ("HIGH" if high else "LOW"),
                    )
                )
                continue
            level = self.shop.levels.get((item, loc))
            if level is None and version < STOCK_ANYWHERE_VERSION:
                errs.append(
                    user_error(
                        [*base, "locationId"],
                        "The specified inventory item is not stocked at the "
                        "location.",
                        "ITEM_NOT_STOCKED_AT_LOCATION",
                    )
                )
                continue
            level = level or {}
            expected = q.get("changeFromQuantity", q.get("compareQuantity"))
            if expected is not None and expected != level.get(data["name"], 0):
                errs.append(
                    user_error(
                        [*base, "changeFromQuantity"],
                        "The specified compare quantity does not match the "
                        "current quantity.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
                continue
            writes.append(((item, loc), q))
        if data["name"] not in ("available", "on_hand"):
            errs.append(
                user_error(
                    ["input", "name"],
                    "The quantity name must be either 'available' or "
                    "'on_hand'.",
                    "INVALID_NAME",
                )
            )
        if errs:
            return {"inventoryAdjustmentGroup": None, "userErrors": errs}
        changes = []
        for place, q in writes:
            # From 2026-10 a write where the item is not stocked stocks it.
            level = self.shop.levels.setdefault(place, _zero())
            delta = q["quantity"] - level.get(data["name"], 0)
            level[data["name"]] = q["quantity"]
            if data["name"] == "available":
                level["on_hand"] = level.get("on_hand", 0) + delta
            changes.append(
                {
                    "name": data["name"],
                    "delta": delta,
                    "quantityAfterChange": q["quantity"],
                }
            )
        answer = {
            "inventoryAdjustmentGroup": {
                "createdAt": self.shop.now(),
                "reason": data["reason"],
                "referenceDocumentUri": data.get("referenceDocumentUri"),
                "changes": changes,
            },
            "userErrors": [],
        }
        if key is not None:
            self.shop.idempotency[key] = answer
        return answer

    def activate(
        self,
        item_id: str,
        location_id: str,
        available: int | None,
        on_hand: int | None,
        *,
        key: str | None,
        version: str = "2026-01",
    ) -> Row:
        """
        ``inventoryActivate``: stock the item at the location, with
        *available* (and *on_hand*, at least *available*) as its first
        quantities; an item already stocked there keeps its quantities.
        """
        self._strict(key, version)
        if key is not None and key in self.shop.idempotency:
            return self.shop.idempotency[key]
        item = parse_gid(item_id, "InventoryItem") or 0
        loc = parse_gid(location_id, "Location")
        if self.shop.variant_of_item(item) is None:
            return _no_level(
                "inventoryItemId", "The inventory item was not found."
            )
        if loc is None or loc not in self.shop.locations:
            return _no_level("locationId", "The location was not found.")
        if (item, loc) not in self.shop.levels:
            first = available or 0
            self.shop.levels[(item, loc)] = {
                "available": first,
                "on_hand": first if on_hand is None else on_hand,
            }
        answer = {
            "inventoryLevel": self.shop.level_view(item, loc),
            "userErrors": [],
        }
        if key is not None:
            self.shop.idempotency[key] = answer
        return answer

    def toggle_activation(self, item_id: str, updates: list[Row]) -> Row:
        """
        ``inventoryBulkToggleActivation``: stock the item at each
        location with ``activate: true``, unstock it (its quantities
        gone) where ``false``; an item stays stocked somewhere.
        """
        check_input("inventoryItemUpdates", updates)
        item = parse_gid(item_id, "InventoryItem") or 0
        if self.shop.variant_of_item(item) is None:
            return _toggle_refused(
                ["inventoryItemId"],
                "The inventory item was not found.",
                "INVENTORY_ITEM_NOT_FOUND",
            )
        places: list[tuple[int, bool]] = []
        for i, u in enumerate(updates):
            loc = parse_gid(u["locationId"], "Location")
            if loc is None or loc not in self.shop.locations:
                return _toggle_refused(
                    ["inventoryItemUpdates", i, "locationId"],
                    "The location was not found.",
                    "LOCATION_NOT_FOUND",
                )
            places.append((loc, u.get("activate") is not False))
        stocked = {loc for (it, loc) in self.shop.levels if it == item}
        after = {loc for loc, on in places if on} | (
            stocked - {loc for loc, on in places if not on}
        )
        if not after:
            return _toggle_refused(
                ["inventoryItemUpdates"],
                "Cannot unstock an inventory item from the only location "
                "at which it is stocked.",
                "CANNOT_DEACTIVATE_FROM_ONLY_LOCATION",
            )
        for loc, on in places:
            if on:
                self.shop.levels.setdefault((item, loc), _zero())
            else:
                self.shop.levels.pop((item, loc), None)
        return {
            "inventoryItem": self.shop.item_view(item),
            "inventoryLevels": [
                self.shop.level_view(item, loc) for loc, on in places if on
            ],
            "userErrors": [],
        }


def _no_level(field: str, message: str) -> Row:
    return {
        "inventoryLevel": None,
        "userErrors": [{"field": [field], "message": message, "code": None}],
    }


def _toggle_refused(field: list[str | int], message: str, code: str) -> Row:
    return {
        "inventoryItem": None,
        "inventoryLevels": None,
        "userErrors": [user_error(field, message, code)],
    }


__all__ = [
    "STOCK_ANYWHERE_VERSION",
    "STRICT_INVENTORY_VERSION",
    "Inventory",
    "stock_variant",
]
