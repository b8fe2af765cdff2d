"""
The products the state store links articles to, when the shop holds
none under the article's number: the merchant renamed its SKU by hand.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from ._client import MAX_PER_PAGE, RestApi
from ._common import Refused, Row, sku_key


async def listed_products(api: RestApi, ids: Iterable[str]) -> dict[str, Row]:
    """
    The products of *ids* the products list shows, by id: one
    ``products?include=<ids>`` request per 100 ids (``per_page`` may not
    exceed 100).  WooCommerce's list (``WC_REST_Products_Controller::
    prepare_objects_query``, status ``any`` by default) holds products
    of post type ``product`` only, and WordPress' ``any`` leaves out the
    trash: a variation, a trashed product and an id no product has are
    not listed.
    """
    wanted = sorted({i for i in ids if i.isdigit()}, key=int)
    found: dict[str, Row] = {}
    for k in range(0, len(wanted), MAX_PER_PAGE):
        params = {"include": ",".join(wanted[k : k + MAX_PER_PAGE])}
        async for rows in api.pages("products", params, per_page=MAX_PER_PAGE):
            for row in rows:
                if isinstance(row, dict) and str(row.get("id")) in wanted:
                    found[str(row["id"])] = row
    return found


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
    deleted, trashed or not a product (a variation) is left out (a new
    one is made): the products list shows none of them
    (`listed_products`, one request per 100 articles, only for these).
    """
    products = await listed_products(api, (p for _, p in linked.values()))
    found: dict[int, Row | Refused] = {}
    for i, (number, pid) in linked.items():
        row = products.get(pid)
        if (
            row is None
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
