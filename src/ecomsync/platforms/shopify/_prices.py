"""
Why an article's prices cannot land in Shopify as they are: another
currency than the shop's, or a price finer than a cent.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

from ..._model import Article


def price_refusal(
    record: Article, currency: str | None
) -> tuple[str, str] | None:
    """
    Why *record*'s prices cannot be written to a shop selling in
    *currency* (``None``: not known), and the field, if they cannot.

    Shopify keeps a variant's price in the shop's currency
    (``Shop.currencyCode``, shopify.dev/docs/api/admin-graphql/latest/
    objects/Shop), with no currency of its own (``ProductVariant.price``
    is a bare ``Money``): a price in another is written as a figure in
    the shop's.  And it keeps prices in the currency's subunit (Liquid's
    ``variant.price``), so a price finer than a cent would be rounded.
    """
    if currency is not None and str(record.currency).upper() != (
        currency.upper()
    ):
        return (
            f"the article is priced in {record.currency}, but the shop "
            f"sells in {currency} (Shopify keeps one price per variant, "
            "in the shop's currency): it would sell the figure as "
            f"{currency}; price it in {currency} in the ERP",
            "currency",
        )
    prices = [("price", record.price)] + [
        (f"variants.{i}.price", v.price)
        for i, v in enumerate(record.variants)
        if v.price is not None
    ]
    for field, price in prices:
        if price.is_finite() and (price * 100) % 1:
            return (
                f"{price} has more than two decimals: Shopify keeps prices "
                "in cents and would round it; round the price in the ERP",
                field,
            )
    return None
