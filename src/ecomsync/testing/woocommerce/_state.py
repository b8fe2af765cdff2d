"""
The emulated shop's tables, ids and clocks, and WordPress media
attachments.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import attrs

from ._wp import (
    Row,
    wp_dates,
)


@attrs.define
class Attachment:
    """
    A WordPress media attachment (``wp/v2/media``).
    """

    id: int
    filename: str
    mime_type: str
    sha256: str
    size: int
    source_url: str
    content: bytes | None = attrs.field(default=None, repr=False)
    #: ``post_name``: the file name's stem, made unique among
    #: attachments with ``-2``, ``-3``, ... (``wp_unique_post_slug``).
    slug: str = ""

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@attrs.define
class ShopState:
    """
    The tables of one emulated shop, its post and term ids, its clock,
    and its media attachments; `Shop` adds WooCommerce's rules.
    """

    timezone: tzinfo = attrs.field(factory=lambda: ZoneInfo("Europe/Berlin"))
    manage_stock: bool = True
    keep_media_bytes: bool = False
    #: URLs an ``images[].src`` may be sideloaded from, with their bytes;
    #: any other URL fails as an unreachable remote image.
    remote_files: dict[str, tuple[bytes, str]] = attrs.field(factory=dict)
    products: dict[int, Row] = attrs.field(factory=dict)
    categories: dict[int, Row] = attrs.field(factory=dict)
    orders: dict[int, Row] = attrs.field(factory=dict)
    notes: dict[int, list[Row]] = attrs.field(factory=dict)
    #: An order's refunds (``shop_order_refund``), newest first.
    #: Keyword-only: the documented `Shop`'s positional arguments keep
    #: their places.
    refunds: dict[int, list[Row]] = attrs.field(factory=dict, kw_only=True)
    #: The units each order's line items took off stock (the line
    #: items' ``_reduced_stock`` meta, which the REST API lists in their
    #: ``meta_data``),
    #: by order id and line item id.
    reduced_stock: dict[int, dict[int, int]] = attrs.field(
        factory=dict, kw_only=True
    )
    customers: dict[int, Row] = attrs.field(factory=dict)
    media: dict[int, Attachment] = attrs.field(factory=dict)
    #: The slugs of the shop's tax classes besides the standard one
    #: (``""``): WooCommerce installs "Reduced rate" and "Zero rate".
    tax_classes: list[str] = attrs.field(
        factory=lambda: ["reduced-rate", "zero-rate"]
    )
    base_url: str = "http://shop.test"
    #: The ``woocommerce_price_num_decimals`` option ("Number of
    #: decimals"): prices are shown and charged rounded to it.
    price_decimals: int = attrs.field(default=2, kw_only=True)
    #: ``woocommerce_currency``.
    currency: str = attrs.field(default="EUR", kw_only=True)
    #: ``woocommerce_calc_taxes`` ("Enable tax rates and calculations")
    #: and ``woocommerce_prices_include_tax`` ("Prices entered with
    #: tax"); on here, as ecomsync's adapter expects by default (a fresh
    #: WooCommerce has both off).
    calc_taxes: bool = attrs.field(default=True, kw_only=True)
    prices_include_tax: bool = attrs.field(default=True, kw_only=True)
    _post_id: int = 100
    _term_id: int = 14  # 15 is "Uncategorized", made below

    # -- ids and clocks -------------------------------------------------

    def next_post_id(self) -> int:
        self._post_id += 1
        return self._post_id

    def take_post_id(self, wanted: int) -> int:
        """
        *wanted* if no post holds it, else the next id: an order placed
        under a number keeps it as its id when it can, and the counter
        moves past it, as WordPress' auto-increment does after an
        insert with an id of its own (``import_id``).
        """
        held = (
            wanted < 1
            or wanted in self.orders
            or wanted in self.products
            or wanted in self.media
            or any(
                r.get("id") == wanted
                for rows in self.refunds.values()
                for r in rows
            )
        )
        if held:
            return self.next_post_id()
        self._post_id = max(self._post_id, wanted)
        return wanted

    def stamp(
        self, row: Row, *, created: bool, at: datetime | None = None
    ) -> None:
        moment = at or datetime.now(UTC)
        local, gmt = wp_dates(moment, self.timezone)
        if created:
            row["date_created"], row["date_created_gmt"] = local, gmt
        row["date_modified"], row["date_modified_gmt"] = local, gmt

    # -- media (WP_REST_Attachments_Controller) ---------------------------

    def add_media(
        self, content: bytes, filename: str, mime_type: str
    ) -> Attachment:
        attachment_id = self.next_post_id()
        name = re.sub(r"[^A-Za-z0-9._-]", "-", filename) or "file"
        base = name.rsplit(".", 1)[0].lower() or "file"
        taken = {a.slug for a in self.media.values()}
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        attachment = Attachment(
            id=attachment_id,
            filename=name,
            mime_type=mime_type,
            sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
            source_url=f"{self.base_url}/wp-content/uploads/{attachment_id}/{name}",
            content=content if self.keep_media_bytes else None,
            slug=slug,
        )
        self.media[attachment_id] = attachment
        return attachment
