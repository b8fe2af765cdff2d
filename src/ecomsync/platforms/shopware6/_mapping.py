"""
Pure mapping of catalogue records to Shopware 6 entities: deterministic
ids, prices, category and product payloads.  No I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..._model import Article, Category


#: Shopware's system default currency (``Defaults::CURRENCY``).
DEFAULT_CURRENCY_ID = "b7d2554b0ce847cd82f3ac9bd1c0dfca"

#: ``product_visibility.visibility``: search and listing.
VISIBILITY_ALL = 30

#: The product custom field that holds the media ids of an article's
#: documents (data sheets, manuals), in order.
DOCUMENTS_FIELD = "ecomsync_documents"

#: The category custom field that holds the ERP's category number.
NUMBER_FIELD = "ecomsync_number"

_CENT = Decimal("0.01")


def sw_id(entity: str, key: str) -> str:
    """
    The deterministic Shopware id of *entity* for *key*: md5 of
    ``ecomsync:{entity}:{key}`` (Shopware's ``Uuid::fromStringToHex``
    does the same), so a replayed request can never create a duplicate.
    """
    return hashlib.md5(  # noqa: S324 -- an id, not a secret
        f"ecomsync:{entity}:{key}".encode()
    ).hexdigest()


def net_of(gross: Decimal, tax_rate: Decimal, places: int = 2) -> Decimal:
    """
    The net price for *gross* at *tax_rate* percent, to the cent (to
    *places* decimals where the shop's currency keeps more).
    """
    net = gross * 100 / (100 + tax_rate)
    step = _CENT if places <= 2 else Decimal(1).scaleb(-places)
    return net.quantize(step, rounding=ROUND_HALF_UP)


def price(
    gross: Decimal, tax_rate: Decimal, places: int = 2
) -> list[dict[str, Any]]:
    """
    A Shopware price in the default currency, gross and net linked; the
    net to *places* decimals (at least the cent).
    """
    return [
        {
            "currencyId": DEFAULT_CURRENCY_ID,
            "gross": float(gross),
            "net": float(net_of(gross, tax_rate, places)),
            "linked": True,
        }
    ]


def category_id(number: str) -> str:
    return sw_id("category", number)


def product_id(number: str) -> str:
    """
    Articles and variants share one namespace: both are products.
    """
    return sw_id("product", number)


def group_id(name: str) -> str:
    return sw_id("property_group", name)


def option_id(group: str, value: str) -> str:
    return sw_id("property_group_option", f"{group}\x1f{value}")


def tax_id(rate: Decimal) -> str:
    return sw_id("tax", str(rate.normalize()))


def product_media_id(product: str, media: str) -> str:
    return sw_id("product_media", f"{product}:{media}")


def category_payload(category: Category) -> dict[str, Any]:
    return {
        "id": category_id(category.number),
        "parentId": (
            None if category.parent is None else category_id(category.parent)
        ),
        "name": category.name,
        "description": category.description or None,
        "active": category.active,
        "customFields": {NUMBER_FIELD: category.number},
    }


def visibilities(
    product: str, sales_channels: Sequence[str]
) -> list[dict[str, Any]]:
    return [
        {
            "id": sw_id("product_visibility", f"{product}:{channel}"),
            "productId": product,
            "salesChannelId": channel,
            "visibility": VISIBILITY_ALL,
        }
        for channel in sales_channels
    ]


def article_rows(
    article: Article,
    *,
    tax: str,
    sales_channels: Sequence[str],
    existing: frozenset[str],
    places: int = 2,
) -> dict[str, list[dict[str, Any]]]:
    """
    Rows per entity for one article: property groups and options of its
    variants, the parent product, the variant products.

    *existing* are the product ids already in the shop: only new products
    get ``stock: 0`` (stock belongs to the stock sync).  Net prices keep
    *places* decimals (the shop currency's, at least the cent).
    """
    pid = product_id(article.number)
    groups: dict[str, dict[str, Any]] = {}
    options: dict[str, dict[str, Any]] = {}
    for variant in article.variants:
        for name, value in variant.options:
            gid = group_id(name)
            groups.setdefault(
                gid,
                {
                    "id": gid,
                    "name": name,
                    "displayType": "text",
                    "sortingType": "alphanumeric",
                },
            )
            oid = option_id(name, value)
            options.setdefault(oid, {"id": oid, "groupId": gid, "name": value})
    parent: dict[str, Any] = {
        "id": pid,
        "productNumber": article.number,
        "name": article.name,
        "description": article.description or None,
        "active": article.active,
        "ean": article.ean,
        "taxId": tax,
        "price": price(article.price, article.tax_rate, places),
        "categories": [{"id": category_id(c)} for c in article.categories],
        "visibilities": visibilities(pid, sales_channels),
    }
    if pid not in existing:
        parent["stock"] = 0
    if options:
        parent["configuratorSettings"] = [
            {
                "id": sw_id("product_configurator_setting", f"{pid}:{oid}"),
                "productId": pid,
                "optionId": oid,
            }
            for oid in options
        ]
    children: list[dict[str, Any]] = []
    for variant in article.variants:
        vid = product_id(variant.number)
        child: dict[str, Any] = {
            "id": vid,
            "parentId": pid,
            "productNumber": variant.number,
            "taxId": tax,
            "price": price(
                article.price if variant.price is None else variant.price,
                article.tax_rate,
                places,
            ),
            "ean": variant.ean,
            "options": [
                {"id": option_id(name, value)}
                for name, value in variant.options
            ],
        }
        if vid not in existing:
            child["stock"] = 0
        children.append(child)
    return {
        "property_group": list(groups.values()),
        "property_group_option": list(options.values()),
        "product": [parent, *children],
    }
