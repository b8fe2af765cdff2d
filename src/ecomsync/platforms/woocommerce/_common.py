"""
What the WooCommerce parts share: the identifiers the adapter gives ERP
records (category slugs, SKU keys), money as strings, per-item failures
and batch chunks.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from ..._contracts import MediaLink, Outcome
from ..._model import MediaKind, Variant
from ..._unicode_ci import unicode_520_ci
from ...exceptions import ConfigurationError
from .._slugs import slug_parts
from ._attributes import attribute_key, spellings


Row = dict[str, Any]


class Settings(Protocol):
    """
    The adapter's settings as the parts read them, at the time of each
    write (they may change between pushes).
    """

    @property
    def batch_size(self) -> int: ...

    @property
    def prices_include_tax(self) -> bool: ...

    @property
    def allow_backorders(self) -> bool: ...

    @property
    def tax_classes(self) -> Mapping[Decimal, str]: ...


#: WooCommerce's own tax classes (``WC_Install`` creates "Reduced rate"
#: and "Zero rate" beside the standard class ``""``) with Germany's rates.
DEFAULT_TAX_CLASSES: Mapping[Decimal, str] = {
    Decimal(19): "",
    Decimal(7): "reduced-rate",
    Decimal(0): "zero-rate",
}


def tax_classes(value: Mapping[Any, str]) -> dict[Decimal, str]:
    """
    The ``tax_classes`` setting as the adapter uses it: rates as
    Decimals, ``"standard"`` as WooCommerce stores it (``""``).
    """
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "WooCommerce tax_classes must map tax rates to tax class "
            f"slugs, got {value!r}"
        )
    out: dict[Decimal, str] = {}
    for rate, slug in value.items():
        if not isinstance(slug, str):
            raise ConfigurationError(
                f"WooCommerce tax_classes: the class of {rate!r} must be a "
                f"tax class slug (a text), got {slug!r}"
            )
        try:
            key = Decimal(str(rate))
        except ArithmeticError:
            key = Decimal("NaN")
        if not key.is_finite() or not 0 <= key <= 100:
            raise ConfigurationError(
                f"WooCommerce tax_classes: {rate!r} is not a tax rate "
                "(0 to 100)"
            )
        out[key] = "" if slug == "standard" else str(slug)
    return out


def category_slug(number: str) -> str:
    """
    The slug that identifies an ERP category in WooCommerce: readable,
    and unique per exact number (a hash suffix), since WordPress folds
    case and punctuation in slugs.
    """
    readable, digest = slug_parts(number)
    return f"{readable}-{digest}".lstrip("-")


def category_image(media: Sequence[MediaLink]) -> Row:
    """
    A category's ``image`` field for its *media*: the image of the lowest
    position, or ``{"id": 0}``, which removes the image: WooCommerce
    leaves the image of a category sent ``"image": null`` as it is
    (``update_term_meta_fields`` tests ``isset( $request['image'] )``).
    """
    images = sorted(
        (m for m in media if m.kind is MediaKind.IMAGE),
        key=lambda m: m.position,
    )
    return {"id": int(images[0].media_id) if images else 0}


def sku_key(sku: str) -> str:
    """
    An SKU as WooCommerce's lookup and uniqueness check compare it:
    WordPress creates its tables in ``utf8mb4_unicode_520_ci`` (where
    the server has it, as every MySQL from 5.6 and MariaDB 10 do), so
    case, accents, invisible characters (a byte order mark, a zero-width
    space) and trailing spaces do not count, ``Ø`` is ``O`` and ``Æ`` is
    ``AE`` (``unicode_520_ci``).
    """
    return unicode_520_ci(sku)


_WHITE = re.compile(r"[\r\n\t ]+")
_OCTET = re.compile(r"%[a-fA-F0-9]{2}")
#: What PHP's ``trim`` takes off: not a no-break or ideographic space.
_PHP_TRIM = " \t\n\r\0\x0b"


def other_sku(sku: str, row: Row) -> str | None:
    """
    Why the product or variation *row*, found for *sku* by WooCommerce's
    lookup, is not *sku*'s but another number's, if it is not: the
    lookup ignores case, accents and trailing spaces, so ``A-1`` finds
    the product of ``a-1``, and writing to it would overwrite that
    article.
    """
    held = str(row.get("sku") or "")
    if held.rstrip(" ") == sku.rstrip(" "):
        return None
    parent = row.get("parent_id")
    what = (
        f"variation #{row.get('id')} of product #{parent}"
        if parent
        else f"product #{row.get('id')}"
    )
    return (
        f"SKU {sku!r} is the SKU {held!r} of {what} to WooCommerce, which "
        "compares SKUs ignoring case, accents, invisible characters and "
        "trailing spaces; "
        "renumber one of them, or delete the other product"
    )


def wc_clean(text: str) -> str:
    """
    *text* as WooCommerce stores an SKU (``wc_clean``, i.e. WordPress's
    ``sanitize_text_field``): runs of white space one space, trimmed,
    ``%xx`` escapes removed.  Tags and lone ``<`` are rewritten there too;
    this leaves them, `sku_problem` refuses them.
    """
    cleaned = _WHITE.sub(" ", text).strip(_PHP_TRIM)
    found = False
    while match := _OCTET.search(cleaned):
        cleaned = cleaned.replace(match.group(0), "")
        found = True
    if found:
        cleaned = re.sub(" +", " ", cleaned).strip(_PHP_TRIM)
    return cleaned


def sku_problem(sku: str) -> str | None:
    """
    Why *sku* cannot be an SKU that WooCommerce keeps as it is and finds
    again by its number, if it cannot.
    """
    if "," in sku:
        return (
            f"{sku!r} holds a comma: WooCommerce's SKU filter splits on "
            "commas, so the product could not be found by its number; "
            "give it a number without one"
        )
    # Trailing spaces are trimmed too, but lookups ignore them (MySQL's
    # PAD SPACE), so such a product is found again: let them be.
    if "<" in sku or wc_clean(sku) != sku.rstrip(" "):
        return (
            f"WooCommerce would not keep the SKU {sku!r} as it is (it "
            "trims and collapses white space and removes tags and "
            f"%-escapes: {wc_clean(sku)!r}), so the product could not be "
            "found by its number; give it a number without them"
        )
    return None


def variant_clash(variants: Sequence[Variant]) -> tuple[str, str] | None:
    """
    Two of *variants* a customer could not choose between, and the
    field, if there are: WooCommerce matches a choice to the first
    variation whose attributes agree with it (names as `spellings`,
    custom values ignoring case; an attribute a variation lacks is
    "any"), so
    the later one would never be sold, without a word.
    """
    spelt = spellings(n for x in variants for n, _ in x.options)
    for k, x in enumerate(variants):
        for name, value in x.options:
            if not attribute_key(name):
                return (
                    f"option {name!r} of variant {x.number!r} has no "
                    "letter or digit WooCommerce keeps (sanitize_title "
                    "makes it ''), and its variations controller skips "
                    "such an attribute: the variant could not be chosen; "
                    "give the option a name with letters",
                    f"variants.{k}.options",
                )
            if "|" in value:
                return (
                    f"option {name}: {value!r} of variant {x.number!r} holds "
                    "'|', which WooCommerce takes for the border between "
                    "two values of a custom attribute (WC_DELIMITER): the "
                    "variant could not be chosen; give it a value without",
                    f"variants.{k}.options",
                )
        keys = [spelt[n] for n, _ in x.options]
        for i, key in enumerate(keys):
            if (twin := keys.index(key)) < i:
                return (
                    f"options {x.options[twin][0]!r} and "
                    f"{x.options[i][0]!r} of variant {x.number!r} "
                    "are one attribute to WooCommerce (sanitize_title, "
                    "in the site's locale or another's), which would keep "
                    "one of them: the variant could not be chosen as it "
                    "is; give them names apart",
                    f"variants.{k}.options",
                )
    # a blank value is "any", as a missing one
    chosen = [
        {spelt[n]: v.strip().casefold() for n, v in x.options if v.strip()}
        for x in variants
    ]
    pairs: list[tuple[int, int]] = []
    if len({frozenset(c) for c in chosen}) == 1:
        # every variant names the same options: equal values clash
        first: dict[tuple[str, ...], int] = {}
        for j, c in enumerate(chosen):
            i = first.setdefault(tuple(c[n] for n in sorted(c)), j)
            if i != j:
                pairs.append((i, j))
                break
    else:
        pairs = [
            (i, j)
            for j in range(1, len(chosen))
            for i in range(j)
            if all(
                chosen[i][n] == chosen[j][n]
                for n in chosen[i].keys() & chosen[j].keys()
            )
        ][:1]
    if not pairs:
        return None
    i, j = pairs[0]

    def shown(k: int) -> str:
        named = ", ".join(f"{n}: {v}" for n, v in variants[k].options)
        return f"{variants[k].number!r} ({named or 'no options'})"

    return (
        f"variants {shown(i)} and {shown(j)} are one choice to WooCommerce "
        "(it compares options ignoring case; an option a variant lacks "
        f"matches any value): a customer would always get "
        f"{variants[i].number!r} and {variants[j].number!r} would never "
        "be sold; give each variant its own option values",
        f"variants.{j}.options",
    )


def gtin_problem(ean: str) -> str | None:
    """
    Why WooCommerce would not keep *ean* as it is (as its GTIN, UPC, EAN
    or ISBN field), if it would not: it drops every character but digits,
    hyphens and X without a word (``WC_Product::set_global_unique_id``).
    """
    if re.fullmatch(r"[0-9\-]*[0-9Xx]?", ean):
        return None
    kept = re.sub(r"[^0-9Xx\-]", "", ean)
    return (
        f"WooCommerce would not keep the EAN {ean!r} as it is (it keeps "
        f"only digits, hyphens and a final X: {kept!r}); give it one "
        "without other characters"
    )


def money(value: Decimal) -> str:
    """
    A price as WooCommerce takes it: a decimal string.
    """
    return format(value, "f")


def fail(number: str, error: str, field: str | None = None) -> Outcome:
    """
    The outcome of a record that failed, naming the field at fault.
    """
    return Outcome(number=number, error=error, field=field)


def describe(error: Row) -> str:
    """
    A per-item error of a batch answer as text: ``code: message``.
    """
    return f"{error.get('code', '')}: {error.get('message', '')}"


class Refused(Exception):
    """
    A record the adapter will not write, and the field that says why.
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """
    *values* in slices of at most *size*.
    """
    return [values[i : i + size] for i in range(0, len(values), size)]
