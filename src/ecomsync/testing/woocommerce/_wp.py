"""
WordPress and WooCommerce conventions the emulated shop follows: slugs,
collation, money, dates in the site's time zone and GMT, date
arguments, and the limits and enumerations of the REST controllers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from ..._unicode_ci import unicode_520_ci
from ...platforms.woocommerce._attributes import (
    sanitize_title as wp_sanitize_title,
)
from ._errors import invalid_param


Row = dict[str, Any]

#: ``WC_REST_Controller::check_batch_limit`` (filter
#: ``woocommerce_rest_batch_items_limit``, default 100).
BATCH_LIMIT = 100

#: ``WC_REST_Orders_Controller`` (v2) order statuses, ``wc_get_order_statuses``
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
PRODUCT_TYPES = ("simple", "grouped", "external", "variable")
PRODUCT_STATUSES = ("draft", "pending", "private", "publish", "future")

_SCRIPTS = re.compile(r"<(script|style)[^>]*?>.*?</\1>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_LONE_LT = re.compile(r"<(?=[^a-zA-Z/!?]|$)")
_WHITE = re.compile(r"[\r\n\t ]+")
_OCTET = re.compile(r"%[a-fA-F0-9]{2}")
#: What PHP's ``trim`` takes off: not a no-break or ideographic space.
_PHP_TRIM = " \t\n\r\0\x0b"


def sanitize_text_field(text: str) -> str:
    """
    WordPress's ``sanitize_text_field`` (what ``wc_clean`` does to an
    SKU): a lone ``<`` becomes ``&lt;``, tags are stripped (script and
    style with their content), runs of white space become one space, the
    text is trimmed and ``%xx`` octets are removed.
    """
    cleaned = text
    if "<" in cleaned:
        cleaned = _LONE_LT.sub("&lt;", cleaned)
        cleaned = _TAG.sub("", _SCRIPTS.sub("", cleaned))
    cleaned = _WHITE.sub(" ", cleaned).strip(_PHP_TRIM)
    found = False
    while match := _OCTET.search(cleaned):
        cleaned = cleaned.replace(match.group(0), "")
        found = True
    if found:
        cleaned = re.sub(" +", " ", cleaned).strip(_PHP_TRIM)
    return cleaned


def sanitize_title(text: str, *, locale: str = "en_US") -> str:
    """
    WordPress' ``sanitize_title`` ('save' context, through
    ``sanitize_title_with_dashes``) on a site in *locale*: the letters of
    ``remove_accents`` folded (``Ø`` to ``o``, ``ß`` to ``s``; ``oe``
    and ``ss`` on a German site), lower case, ``/`` and white space
    dashes, other ASCII punctuation dropped, letters of other scripts
    kept percent-encoded (``Размер``: ``%d1%80%d0%b0...``).
    """
    return wp_sanitize_title(text, locale)


def collate(text: str) -> str:
    """
    A value as MySQL's ``utf8mb4_unicode_520_ci`` compares it (WordPress'
    default collation): case, accents, invisible characters and trailing
    spaces ignored, ``Ø`` is ``O``, ``Æ`` is ``AE``, but ``Й`` is not
    ``И`` (`ecomsync._unicode_ci.unicode_520_ci`).
    """
    return unicode_520_ci(text)


def money(value: Any) -> str:
    """
    ``wc_format_decimal``: a price as WooCommerce stores and answers it
    (a string; empty for no price).
    """
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return ""
    if not number.is_finite():
        return ""
    # wc_format_decimal keeps trailing zeros (trim_zeros is false).
    text = str(value).strip()
    return text if "e" not in text.lower() else format(number, "f")


def wp_dates(at: datetime, tz: tzinfo) -> tuple[str, str]:
    """
    *at* as WordPress stores it: site-local and GMT, without zone.
    """
    local = at.astimezone(tz).replace(tzinfo=None, microsecond=0)
    gmt = at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return local.isoformat(), gmt.isoformat()


def as_int(value: Any) -> int:
    """
    ``absint``-like: *value* as an integer, 0 when it is none.
    """
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_date_param(name: str, value: str) -> datetime:
    """
    ``rest_parse_date`` for a ``date-time`` argument; naive results are
    interpreted by the caller in the column's time zone.
    """
    text = value.strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise invalid_param(
            name, "Invalid date.", "rest_invalid_date"
        ) from None


def in_window(
    column: str,
    *,
    after: datetime | None,
    before: datetime | None,
    tz: tzinfo,
    gmt: bool,
) -> bool:
    """
    ``WP_Date_Query`` on one column (``after``/``before`` exclusive, as
    WooCommerce does not set ``inclusive``).
    """
    value = datetime.fromisoformat(column)
    zone = UTC if gmt else tz

    def local(d: datetime) -> datetime:
        if d.tzinfo is not None:
            d = d.astimezone(zone).replace(tzinfo=None)
        return d

    if after is not None and not value > local(after):
        return False
    return before is None or value < local(before)


def day(n: int) -> timedelta:
    return timedelta(days=n)
