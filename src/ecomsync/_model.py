"""
The records that move between an ERP and a platform: pure data, no I/O.

Records are frozen attrs classes and deliberately lenient on construction:
an ERP may hand us anything, and a bad record must fail *alone* with an
error naming its field, not blow up the batch it came in.  `problems()`
is where records are judged; the engine calls it before sending.
"""

from __future__ import annotations

import enum
import re
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import attrs

from ._field_checks import Problem
from .exceptions import InvalidRecord


__all__ = [
    "ADDRESS_TEXTS",
    "Address",
    "Article",
    "Category",
    "Customer",
    "MediaKind",
    "MediaRef",
    "Order",
    "OrderLine",
    "OrderState",
    "OrderStatus",
    "Problem",
    "Record",
    "StockLevel",
    "Variant",
]


def _no_country() -> str:
    """
    The country of an `Address` made without one: ``"DE"`` as before,
    with a warning (a deprecation path, not a silent change of behaviour).
    """
    warnings.warn(
        "Address without a country is deprecated: it is taken to be 'DE', "
        "so an address from a platform that gave none becomes German; pass "
        "country= (an ISO 3166-1 alpha-2 code). Omitting it will be an "
        "error in a later release.",
        DeprecationWarning,
        stacklevel=3,
    )
    return "DE"


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _number(value: Any, field: str) -> Decimal:
    """
    *value* as a Decimal, or `InvalidRecord` naming *field*.

    NaN and infinity convert (they are judged by `problems`, so such a
    record fails alone); what is no number at all cannot be built.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return Decimal(str(value).strip())
        except ArithmeticError:
            pass
    record_type, _, name = field.partition(".")
    raise InvalidRecord(
        f"{field} must be a number (a Decimal, int, float or numeric "
        f"text), got {value!r}",
        record_type=record_type,
        field=name,
    )


def _article_price(value: Any) -> Decimal:
    return _number(value, "Article.price")


def _article_tax_rate(value: Any) -> Decimal:
    return _number(value, "Article.tax_rate")


def _variant_price(value: Any) -> Decimal | None:
    return None if value is None else _number(value, "Variant.price")


def _line_unit_price(value: Any) -> Decimal:
    return _number(value, "OrderLine.unit_price")


def _order_total(value: Any) -> Decimal:
    return _number(value, "Order.total")


def _order_shipping(value: Any) -> Decimal:
    return _number(value, "Order.shipping_total")


def _order_discount(value: Any) -> Decimal:
    return _number(value, "Order.discount_total")


class MediaKind(enum.Enum):
    """
    What a media file is for.

    .. versionadded:: 26.1.0
    """

    IMAGE = "image"
    DOCUMENT = "document"


class OrderState(enum.Enum):
    """
    The life of an order, as the ERP sees it.

    .. versionadded:: 26.1.0
    """

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class MediaRef:
    """
    A file the ERP holds for a record: an image format or a document.

    The content is fetched with `ErpSession.read_media`; *filename* is
    metadata only and never becomes a path on disk.

    Attributes:
        key: The ERP's identifier of the file.
        filename: The original file name.
        mime_type: The content type, e.g. ``image/jpeg``.
        kind: Image or document.
        format: The image format the ERP rendered (``original``,
            ``thumbnail``, ...).
        version: Changes whenever the content changes (a hash, a
            timestamp); part of the record's checksum.

    .. versionadded:: 26.1.0
    """

    key: str
    filename: str
    mime_type: str
    kind: MediaKind = MediaKind.IMAGE
    format: str = "original"
    version: str = ""


@attrs.frozen(kw_only=True)
class Category:
    """
    An article category; *parent* is the parent's number.

    .. versionadded:: 26.1.0
    """

    number: str
    name: str
    parent: str | None = None
    position: int = 0
    description: str = ""
    active: bool = True
    media: tuple[MediaRef, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen(kw_only=True)
class Variant:
    """
    One variant of an article: its own number, options and price.

    .. versionadded:: 26.1.0
    """

    number: str
    options: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_tuple
    )
    price: Decimal | None = attrs.field(default=None, converter=_variant_price)
    ean: str | None = None


@attrs.frozen(kw_only=True)
class Article:
    """
    An article with its gross *price* in *currency*, texts, categories
    (by number), variants and media.

    Its *number* and every variant's number must be unique in a read: a
    number claimed twice fails every record claiming it.  An inactive
    article reaches the shop as inactive; it never overwrites an active
    one.  Numeric fields take Decimals, ints, floats or numeric text;
    anything else raises `InvalidRecord` naming the field.

    .. versionadded:: 26.1.0
    """

    number: str
    name: str
    price: Decimal = attrs.field(converter=_article_price)
    description: str = ""
    tax_rate: Decimal = attrs.field(
        default=Decimal(19), converter=_article_tax_rate
    )
    currency: str = "EUR"
    categories: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    variants: tuple[Variant, ...] = attrs.field(default=(), converter=_tuple)
    media: tuple[MediaRef, ...] = attrs.field(default=(), converter=_tuple)
    active: bool = True
    ean: str | None = None


@attrs.frozen(kw_only=True)
class StockLevel:
    """
    What the shop may sell of an article: *available to sell*, i.e. on
    hand minus what open, unshipped orders already hold (the ERP adapter
    computes it).  *warehouse* is ``None`` for the sum over the warehouses
    that count, or the ERP's warehouse code where levels are kept per
    warehouse (for platforms with stock locations).

    A negative *quantity* (oversold) is valid here; whether a platform
    writes it or 0 (and reports the record) is its policy
    (``allow_backorders``).

    .. versionadded:: 26.1.0
    """

    number: str
    quantity: int
    warehouse: str | None = None


@attrs.frozen(kw_only=True)
class Address:
    """
    A postal address; *country* is an ISO 3166-1 alpha-2 code.

    An address made without a *country* is taken to be in Germany
    (``"DE"``, as in every release so far) and warns with a
    `DeprecationWarning`: a library should not make up where a customer
    lives, so omitting it will be an error in a later release.  Pass the
    country; the built-in adapters always do, and an address a platform
    gives without one fails its order on ``billing.country`` or
    ``shipping.country`` ("is missing").

    .. versionadded:: 26.1.0
    .. deprecated:: 26.1.0
       Omitting *country*: it is ``"DE"``, so an address from a platform
       without a country silently becomes German.  Omitting it will be an
       error in a later release.
    """

    first_name: str
    last_name: str
    street: str
    zip_code: str
    city: str
    country: str = attrs.field(factory=_no_country)
    company: str = ""
    phone: str = ""


#: An address's free texts, its personal data (its country is a code):
#: what the order checks refuse control characters in (`_record_checks`)
#: and what the ledger never quotes (`_personal`).
ADDRESS_TEXTS = (
    "first_name",
    "last_name",
    "company",
    "street",
    "zip_code",
    "city",
    "phone",
)


@attrs.frozen(kw_only=True)
class Customer:
    """
    A shop customer; *number* is the shop's customer number.

    *platform_id* is the platform's own id of the customer where that is
    not its *number*: Shopware keeps customer numbers without a unique
    key, so two of its customers can hold one number, while their ids
    differ.  An ERP that finds a customer by its number keeps the id with
    it and refuses (on ``customer.number``) an order whose customer
    number is another customer's of that platform, instead of booking it
    onto the other customer.  ``None`` where the number is the platform's
    id already (Shopify, WooCommerce, Vendure) or where the platform
    gives none (a guest order, a deleted customer); it is no part of the
    order's checksum.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       *platform_id*.
    """

    number: str
    email: str
    first_name: str
    last_name: str
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_tuple)
    platform_id: str | None = None


@attrs.frozen(kw_only=True)
class OrderLine:
    """
    One line of an order.

    *unit_price* is the **gross** price per unit the customer pays for
    this line, tax included, after the discounts that belong to the line
    itself (a product's sale price, a line-level promotion), and before
    order-level ones (a voucher on the whole basket), in the order's
    currency.  Every platform adapter maps it so, whatever the shop keeps
    (Shopware's net-priced orders: net plus the line's tax).

    Rounding: shops round a line's *amount* to the currency's minor unit,
    not its unit price, so *unit_price* is the platform's line amount
    divided by *quantity* and may carry more decimals than the currency
    (10.00 for 3 is 3.3333...); ``unit_price * quantity`` rounded to the
    cent is the line's amount.  ERP adapters round it to what the ERP
    keeps, as long as the line's amount stays the same.

    .. versionadded:: 26.1.0
    """

    article_number: str
    name: str
    quantity: int
    unit_price: Decimal = attrs.field(converter=_line_unit_price)


@attrs.frozen(kw_only=True)
class Order:
    """
    An order placed on a platform; *number* is the platform's order number,
    which makes importing it into the ERP idempotent.

    Money, all gross and in *currency*: *lines* at what the customer pays
    per unit (`OrderLine`), *shipping_total* what they pay for shipping
    (after shipping discounts where the platform applies them there),
    *discount_total* the order-level discounts (vouchers, coupons, cart
    promotions) as a positive amount, and *total* what they pay in all.
    Both are 0 unless the platform has them.  Judging the order holds the
    four together: the lines plus shipping minus discounts must come to
    *total* within the platform's rounding (one minor unit of the
    currency per rounded amount), else the order fails on ``total``
    rather than reaching the ERP with a total the customer did not pay.

    *platform* is the name the order's platform is registered under in
    the `Synchronizer`: the engine fills it in before it hands the order
    to `ErpSession.import_orders` (a platform adapter need not), so an ERP
    that serves several platforms keeps two platforms' order "1001", and
    customer "1", apart.  ``None`` when unknown (an order imported by
    hand); it is no part of the order's checksum.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       *shipping_total* and *discount_total*.
    .. versionchanged:: 26.1.0
       *platform*.
    """

    number: str
    customer: Customer
    billing: Address
    shipping: Address
    lines: tuple[OrderLine, ...] = attrs.field(converter=_tuple)
    total: Decimal = attrs.field(converter=_order_total)
    ordered_at: datetime
    currency: str = "EUR"
    state: OrderState = OrderState.OPEN
    shipping_total: Decimal = attrs.field(
        default=Decimal(0), converter=_order_shipping
    )
    discount_total: Decimal = attrs.field(
        default=Decimal(0), converter=_order_discount
    )
    platform: str | None = None


@attrs.frozen(kw_only=True)
class OrderStatus:
    """
    The ERP's state of an order, pushed back to the platform.

    *platform* is the name of the platform the ERP imported the order
    from (``Order.platform``), where the ERP keeps it: the engine then
    pushes the status to that platform only, and of two statuses with
    one number prefers the one of the run's platform over one that names
    none.  ``None`` (the default): the status goes to whichever platform
    the run is for.  It is no part of the status's checksum.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       *platform*.
    """

    number: str
    state: OrderState
    tracking_numbers: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple
    )
    platform: str | None = None


Record: TypeAlias = Category | Article | StockLevel | Order | OrderStatus


def own_statuses(batch: Sequence[Record], platform: str) -> list[Record]:
    """
    The order statuses of *batch* (whole units: every status of a
    number) that go to *platform*: per number, those the ERP says are
    *platform*'s (``OrderStatus.platform``), else those that name no
    platform (orders imported before the ERP kept it).  Another
    platform's order "1001" is never pushed to this one's "1001".
    """
    by_number: dict[str, list[Record]] = {}
    for record in batch:
        by_number.setdefault(record.number, []).append(record)
    kept: list[Record] = []
    for records in by_number.values():
        named = [r for r in records if _status_platform(r) == platform]
        kept += named or [r for r in records if _status_platform(r) is None]
    return kept


def _status_platform(record: Record) -> str | None:
    return record.platform if isinstance(record, OrderStatus) else None


def parents_first(
    categories: Sequence[Category],
) -> tuple[list[int], dict[int, Problem]]:
    """
    Order *categories* so that every parent comes before its children.

    Returns the indexes (into *categories*) that can be sent, parents
    first and otherwise in their given order, and the indexes that
    cannot, with the `Problem` why.  Every index is in exactly one of the
    two.  A parent that is not among *categories* does not hold its
    child back (it may already be on the platform).

    Cycles are the one thing that cannot be ordered: every category on a
    cycle (a parent chain that comes back to where it started, including
    a category that is its own parent) is invalid, and so is every
    category below one, each with a problem on ``parent`` that names the
    categories of the cycle.  Nothing loops and nothing is dropped.
    """
    index: dict[str, int] = {}
    for i, category in enumerate(categories):
        index.setdefault(category.number, i)

    def parent_of(i: int) -> int | None:
        parent = categories[i].parent
        return None if parent is None else index.get(parent)

    order: list[int] = []
    placed: set[int] = set()
    invalid: dict[int, Problem] = {}
    loop_of: dict[int, str] = {}  # index -> the cycle it is on or under

    for start in range(len(categories)):
        if start in placed or start in invalid:
            continue
        path = [start]
        on_path = {start: 0}
        up = parent_of(start)
        while up is not None and up not in placed and up not in invalid:
            if up in on_path:  # the chain came back: a cycle
                ring = path[on_path[up] :]
                for k, member in enumerate(ring):
                    turn = [*ring[k:], *ring[:k], member]
                    text = " → ".join(categories[j].number for j in turn)
                    loop_of[member] = text
                    invalid[member] = Problem(
                        "parent", f"is on a category cycle: {text}"
                    )
                path = path[: on_path[up]]
                up = ring[0]
                break
            on_path[up] = len(path)
            path.append(up)
            up = parent_of(up)
        if up is not None and up in invalid:
            for member in path:
                loop_of[member] = loop_of[up]
                invalid[member] = Problem(
                    "parent",
                    f"is below a category cycle: {loop_of[up]}",
                )
            continue
        for member in reversed(path):
            placed.add(member)
            order.append(member)
    return order, invalid


_RUNS = re.compile(r"(\d+)|(\D+)")


def number_key(number: str) -> tuple[tuple[int, int, str], ...]:
    """
    The order of record numbers for `NumberRange`: natural order.

    Runs of decimal digits compare as numbers, everything else as text,
    so ``A-2 < A-10 < B-1``.  Digits of every script count (Arabic-Indic,
    fullwidth: they compare as their value); characters that
    only look like digits (superscript ``²``) are text.  Numbers of any
    length compare without converting them to ``int``, so no number can
    make this raise.  Sources that cannot sort like this say so.
    """
    key: list[tuple[int, int, str]] = []
    for digits, text in _RUNS.findall(number):
        if digits:
            value = "".join(
                str(unicodedata.decimal(c)) for c in digits
            ).lstrip("0")
            key.append((0, len(value), value))
        else:
            key.append((1, 0, text))
    return tuple(key)
