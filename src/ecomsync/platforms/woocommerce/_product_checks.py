"""
Checks and small rules of an article's product write: what WooCommerce
would not keep, tax classes it did not take, the attributes a product
keeps.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from ..._contracts import Outcome
from ..._model import Article
from ._attributes import one_attribute, spellings
from ._common import (
    Refused,
    Row,
    fail,
    gtin_problem,
    sku_problem,
    variant_clash,
)


def unkept(article: Article) -> tuple[str, str] | None:
    """
    Why WooCommerce would not keep one of *article*'s numbers or EANs as
    it is, or could not sell each of its variants, and the field, if so.
    """
    for field, number in [("number", article.number)] + [
        (f"variants.{k}.number", v.number)
        for k, v in enumerate(article.variants)
    ]:
        problem = sku_problem(number)
        if problem is not None:
            return problem, field
    for field, ean in [("ean", article.ean)] + [
        (f"variants.{k}.ean", v.ean) for k, v in enumerate(article.variants)
    ]:
        problem = None if ean is None else gtin_problem(ean)
        if problem is not None:
            return problem, field
    return variant_clash(article.variants)


def option_spellings(article: Article) -> dict[str, str]:
    """
    The spelling each option name of *article*'s variants is sent as.
    """
    return spellings(n for v in article.variants for n, _ in v.options)


def not_anothers(
    article: Article, existing: int | None, owner: int | None, own: int
) -> None:
    """
    Refuse *article*'s write to product *existing* if the store links
    that product to another article of the push (item *owner*): the
    merchant gave it this article's SKU by hand.
    """
    if existing is not None and owner is not None and owner != own:
        raise Refused(
            f"SKU {article.number!r} is on product #{existing} in "
            "WooCommerce, which is another article's (its SKU renamed "
            "by hand): not written over; give the product its SKU again "
            "in WooCommerce, or delete it",
            "number",
        )


def no_class(article: Article, slug: str) -> Outcome:
    return fail(
        article.number,
        f"WooCommerce has no tax class {slug!r} for {article.tax_rate} % "
        "tax; add the class under WooCommerce > Settings > Tax or map the "
        "rate to another with WooCommerce(tax_classes=...)",
        "tax_rate",
    )


def class_not_taken(article: Article, sent: str, row: Row) -> Outcome | None:
    """
    The failure of *article* if WooCommerce did not take the tax class
    *sent*: ``WC_Product::set_tax_class`` stores a class the shop does
    not have as the standard one, without a word.  The classes are
    checked before the write (`Products._missing_classes`); this catches
    a class deleted in between.
    """
    taken = str(row.get("tax_class", ""))
    if taken == sent:
        return None
    took = repr(taken) if taken else "the standard class"
    return fail(
        article.number,
        f"WooCommerce has no tax class {sent!r} for {article.tax_rate} % "
        f"tax and took {took} instead; add the class under WooCommerce > "
        "Settings > Tax or map the rate to another with "
        "WooCommerce(tax_classes=...)",
        "tax_rate",
    )


def keep_own_attributes(payload: Row, held: Row) -> None:
    """
    The attributes of an existing product are its variants' options
    (``variation: true``) and the attributes the shop added by hand,
    which stay: WooCommerce replaces the whole list. An article that lost
    its variants loses their variation attributes (``Size: S | M``), or
    WooCommerce would go on listing them on it.
    """
    attributes = held.get("attributes") or []
    wanted = payload.get("attributes") or []
    own = [
        a
        for a in attributes
        if not a.get("variation")
        and not any(
            one_attribute(str(a.get("name") or ""), w["name"]) for w in wanted
        )
    ]
    if wanted or any(a.get("variation") for a in attributes):
        payload["attributes"] = [*wanted, *own]
