"""
``fileDelete``: a file the merchant deletes in Shopify's Files, and the
products that showed it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._product_set import file_number
from ._views import Row, user_error


if TYPE_CHECKING:
    from ._shop import Shop


def delete_files(shop: Shop, ids: list[str]) -> Row:
    """
    ``fileDelete``: the files named by *ids* go, and so do the products'
    references to them (Shopify removes a deleted file from the products
    that show it, shopify.dev ``fileDelete``).  An id that names no file
    refuses the whole call (``FILE_DOES_NOT_EXIST``).
    """
    numbers = [file_number(i) for i in ids]
    for k, n in enumerate(numbers):
        if n not in shop.files:
            error = user_error(
                ["fileIds", k], "File does not exist", "FILE_DOES_NOT_EXIST"
            )
            return {"deletedFileIds": None, "userErrors": [error]}
    gone = {n for n in numbers if n is not None}
    for n in gone:
        del shop.files[n]
    for product in shop.products.values():
        product["_media"] = [f for f in product["_media"] if f not in gone]
    return {"deletedFileIds": list(ids), "userErrors": []}
