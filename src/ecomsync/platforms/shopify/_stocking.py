"""
Stocking the variants an article push makes where their stock goes:
Shopify stocks an inventory item only at the locations where it was
activated, and a new variant only at the primary location unless its
``productSet`` says where.  A new product's variants are stocked by that
``productSet`` (``inventoryQuantities``); variants added to a product
that existed, by ``inventoryBulkToggleActivation``, one request per 50.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..._contracts import Outcome
from ._client import GraphQL, Row, ShopifyApiError


#: Stocks inventory items at locations; %s: variables, aliased mutations.
ACTIVATE = "mutation(%s) { %s }"
ACTIVATION = (
    "a%d: inventoryBulkToggleActivation(inventoryItemId: $i%d,"
    " inventoryItemUpdates: $u%d) { userErrors { field message code } }"
)
#: Inventory items stocked per request (11 points each).
ACTIVATIONS = 50


@attrs.define
class Made:
    """
    The variants a push of articles made: those the SKU look-up did not
    find (*seen*) in products it found (*owners*: their ERP numbers),
    as (outcome index, SKU, inventory item); *stocked*: the articles
    whose new product is stocked by its ``productSet``; *found*: the
    SKUs the look-up found, casefolded; *own*: the GIDs of the variants
    it found by (ERP number of their product, SKU).
    """

    seen: set[str]
    owners: set[str]
    found: set[str] = attrs.field(factory=set)
    own: dict[tuple[str, str], list[str]] = attrs.field(factory=dict)
    items: list[tuple[int, str, str]] = attrs.field(factory=list)
    stocked: set[int] = attrs.field(factory=set)


def stock_new_products(
    todo: Sequence[tuple[int, str, Row]],
    places: Sequence[str],
    made: Made,
) -> None:
    """
    A product the SKU look-up did not find is made by its
    ``productSet``: its variants are stocked at *places* there
    (``inventoryQuantities``, 0 until the stock push), with no request
    more.
    """
    quantities = [
        {"locationId": loc, "name": "available", "quantity": 0}
        for loc in places
    ]
    for i, number, variables in todo:
        if number not in made.owners:
            made.stocked.add(i)
            for v in variables["input"]["variants"]:
                v["inventoryQuantities"] = quantities


def keep_variant_ids(todo: Sequence[tuple[int, str, Row]], made: Made) -> None:
    """
    A variant its article's product holds already is sent with its
    ``id``, so ``productSet`` updates it in place: matched by its option
    values instead, a variant whose option value the ERP renamed (size
    "L" now "Large", same SKU) was made anew, with a new inventory item
    at 0 while the ERP's unchanged stock was never sent again.
    """
    for _, number, variables in todo:
        for v in variables["input"]["variants"]:
            ids = made.own.get((number, v["sku"]), [])
            if len(ids) == 1:  # a copy in the product: left to Shopify
                v["id"] = ids[0]


def track_new_products(
    todo: Sequence[tuple[int, str, Row]], made: Made
) -> None:
    """
    The variants ``productSet`` makes (all of a product the SKU look-up
    did not find, those of a product that exists whose SKU it did not
    find) track their inventory (``inventoryItem.tracked``), as a
    variant must for its stock to count (an untracked one sells without
    limit).  Shopify's reference does not say what ``productSet`` gives a
    new variant, so it is said; a variant that exists keeps what the
    merchant chose for it.
    """
    for _, number, variables in todo:
        new = number not in made.owners
        for v in variables["input"]["variants"]:
            if new or str(v["sku"]).casefold() not in made.found:
                v["inventoryItem"] = {"tracked": True}


async def stock_made(
    api: GraphQL,
    made: Sequence[tuple[int, str, str]],
    locations: Sequence[str],
    outcomes: list[Outcome | None],
) -> None:
    """
    Stock the variants just made in products that existed at
    *locations*, so that their stock can be written there: one request
    per 50 of them.  A variant Shopify does not stock fails its article,
    which has landed, naming the SKU, the locations and Shopify's reason.
    """
    updates = [{"locationId": loc, "activate": True} for loc in locations]
    for start in range(0, len(made), ACTIVATIONS):
        chunk = made[start : start + ACTIVATIONS]
        head = ", ".join(
            f"$i{k}: ID!, $u{k}: [InventoryBulkToggleActivationInput!]!"
            for k in range(len(chunk))
        )
        body = " ".join(ACTIVATION % (k, k, k) for k in range(len(chunk)))
        variables: Row = {}
        for k, (_, _, item) in enumerate(chunk):
            variables[f"i{k}"], variables[f"u{k}"] = item, updates
        try:
            data = await api.call(
                ACTIVATE % (head, body),
                variables,
                cost=11 * len(chunk),
                what="stocking new variants",
                idempotent=True,  # activating twice is activating
            )
            errors = [
                (data.get(f"a{k}") or {}).get("userErrors") or []
                for k in range(len(chunk))
            ]
        except ShopifyApiError as exc:
            errors = [[{"message": str(exc)}]] * len(chunk)
        for (i, sku, _), errs in zip(chunk, errors, strict=True):
            if errs and (done := outcomes[i]) is not None and done.ok:
                why = "; ".join(str(e.get("message")) for e in errs)
                outcomes[i] = Outcome(
                    number=done.number,
                    error=f"{done.number!r} landed, but Shopify did not "
                    f"stock its variant {sku!r} at location "
                    f"{', '.join(locations)}: {why}; its stock there is "
                    "refused until it is activated there in Shopify",
                )


__all__ = [
    "Made",
    "keep_variant_ids",
    "stock_made",
    "stock_new_products",
    "track_new_products",
]
