"""
The products the state store links articles to, when the shop holds
none under the article's number: the merchant renamed its SKU by hand.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ._client import RestApi, WooApiError
from ._common import Refused, Row, sku_key


async def linked_products(
    api: RestApi,
    linked: Mapping[int, tuple[str, str]],
    claimed: Collection[str],
) -> dict[int, Row | Refused]:
    """
    For each article of *linked* (its index: its number and the id of
    the product the store links it to), none of whose SKU the shop
    holds: the linked product, which is still the article's whatever
    SKU the merchant gave it (the push writes the number back instead
    of making a second product), or why it cannot be taken: its SKU is
    one of *claimed* (`sku_key` of every SKU of the push), so writing
    the number back would take another article's product.  A product
    deleted, trashed or not a product is left out (a new one is made).
    One request per article, only for these.
    """
    found: dict[int, Row | Refused] = {}
    for i, (number, pid) in linked.items():
        if not pid.isdigit():
            continue
        try:
            row: Row = (await api.call("GET", f"products/{pid}")).json()
        except WooApiError as exc:
            if exc.status == 404:
                continue
            raise
        if (
            not isinstance(row, dict)
            or str(row.get("id")) != pid
            or int(row.get("parent_id") or 0)
            or row.get("status") == "trash"
        ):
            continue
        held = str(row.get("sku") or "")
        if held and sku_key(held) in claimed:
            found[i] = Refused(
                f"product #{pid}, which is article {number!r}'s, has the "
                f"SKU {held!r} in WooCommerce (renamed by hand), which "
                "an article of this push needs: not written back; give "
                "the product its SKU again in WooCommerce, or delete it",
                "number",
            )
            continue
        found[i] = row
    return found
