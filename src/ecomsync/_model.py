"""
The records that move between an ERP and a platform: pure data, no I/O.

Records are frozen attrs classes and deliberately lenient on construction:
an ERP may hand us anything, and a bad record must fail *alone* with an
error naming its field, not blow up the batch it came in.  `problems()`
is where records are judged; the engine calls it before sending.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import attrs


__all__ = [
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
    "Record",
    "StockLevel",
    "Variant",
]

#: Texts longer than this (in UTF-8 bytes) are refused: no shop takes them.
MAX_TEXT_BYTES = 1_000_000


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _opt_decimal(value: Any) -> Decimal | None:
    return None if value is None else _decimal(value)


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
    price: Decimal | None = attrs.field(default=None, converter=_opt_decimal)
    ean: str | None = None


@attrs.frozen(kw_only=True)
class Article:
    """
    An article with its gross *price* in *currency*, texts, categories
    (by number), variants and media.

    .. versionadded:: 26.1.0
    """

    number: str
    name: str
    price: Decimal = attrs.field(converter=_decimal)
    description: str = ""
    tax_rate: Decimal = attrs.field(default=Decimal(19), converter=_decimal)
    currency: str = "EUR"
    categories: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    variants: tuple[Variant, ...] = attrs.field(default=(), converter=_tuple)
    media: tuple[MediaRef, ...] = attrs.field(default=(), converter=_tuple)
    active: bool = True
    ean: str | None = None


@attrs.frozen(kw_only=True)
class StockLevel:
    """
    Available stock of an article, in a warehouse where the ERP has them.

    .. versionadded:: 26.1.0
    """

    number: str
    quantity: int
    warehouse: str | None = None


@attrs.frozen(kw_only=True)
class Address:
    """
    A postal address; *country* is an ISO 3166-1 alpha-2 code.

    .. versionadded:: 26.1.0
    """

    first_name: str
    last_name: str
    street: str
    zip_code: str
    city: str
    country: str = "DE"
    company: str = ""
    phone: str = ""


@attrs.frozen(kw_only=True)
class Customer:
    """
    A shop customer; *number* is the shop's customer number.

    .. versionadded:: 26.1.0
    """

    number: str
    email: str
    first_name: str
    last_name: str
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen(kw_only=True)
class OrderLine:
    """
    One line of an order.

    .. versionadded:: 26.1.0
    """

    article_number: str
    name: str
    quantity: int
    unit_price: Decimal = attrs.field(converter=_decimal)


@attrs.frozen(kw_only=True)
class Order:
    """
    An order placed on a platform; *number* is the platform's order number,
    which makes importing it into the ERP idempotent.

    .. versionadded:: 26.1.0
    """

    number: str
    customer: Customer
    billing: Address
    shipping: Address
    lines: tuple[OrderLine, ...] = attrs.field(converter=_tuple)
    total: Decimal = attrs.field(converter=_decimal)
    ordered_at: datetime
    currency: str = "EUR"
    state: OrderState = OrderState.OPEN


@attrs.frozen(kw_only=True)
class OrderStatus:
    """
    The ERP's state of an order, pushed back to the platform.

    .. versionadded:: 26.1.0
    """

    number: str
    state: OrderState
    tracking_numbers: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple
    )


Record: TypeAlias = Category | Article | StockLevel | Order | OrderStatus


# -- judging and fingerprinting records ---------------------------------

_COUNTRY = re.compile(r"^[A-Z]{2}$")


@attrs.frozen
class Problem:
    """
    What is wrong with a record: the *field* (a dotted path) and why.
    """

    field: str
    reason: str


def _text_problems(path: str, value: object) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(path, f"must be text, got {type(value).__name__}")]
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return [Problem(path, "is not valid UTF-8 text")]
    if size > MAX_TEXT_BYTES:
        return [
            Problem(path, f"is {size:,} bytes, more than {MAX_TEXT_BYTES:,}")
        ]
    return []


def problems(record: Record) -> list[Problem]:
    """
    Everything wrong with *record*, empty if it may be sent.
    """
    found: list[Problem] = []
    number = getattr(record, "number", None)
    if not isinstance(number, str) or not number.strip():
        found.append(Problem("number", "is missing"))
    else:
        found += _text_problems("number", number)
    for name in ("name", "description", "email"):
        if hasattr(record, name):
            found += _text_problems(name, getattr(record, name))
    if isinstance(record, Article):
        if record.price < 0:
            found.append(Problem("price", f"is negative ({record.price})"))
        if not 0 <= record.tax_rate <= 100:
            found.append(
                Problem("tax_rate", f"{record.tax_rate} is not a rate")
            )
        for i, variant in enumerate(record.variants):
            if not variant.number.strip():
                found.append(Problem(f"variants.{i}.number", "is missing"))
            if variant.price is not None and variant.price < 0:
                found.append(Problem(f"variants.{i}.price", "is negative"))
    elif isinstance(record, StockLevel):
        if not isinstance(record.quantity, int):
            found.append(Problem("quantity", "must be a whole number"))
    elif isinstance(record, Order):
        for i, line in enumerate(record.lines):
            if line.quantity <= 0:
                found.append(Problem(f"lines.{i}.quantity", "must be > 0"))
        for name, address in (
            ("billing", record.billing),
            ("shipping", record.shipping),
        ):
            if not _COUNTRY.match(address.country):
                found.append(
                    Problem(f"{name}.country", "is not an ISO country code")
                )
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def to_plain(record: Record) -> dict[str, Any]:
    """
    *record* as JSON-able data (Decimals as text), for checksums and stores.
    """
    return {
        "type": type(record).__name__,
        **_plain(attrs.asdict(record, recurse=True)),
    }


def checksum(record: Record) -> str:
    """
    A fingerprint of everything about *record* that a platform would see.

    An order's state is left out: it is what *we* push back to the shop
    (order status), so it must not make the order look new to import.
    """
    plain = to_plain(record)
    if isinstance(record, Order):
        plain.pop("state", None)
    blob = json.dumps(plain, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def content_hash(content: bytes) -> str:
    """
    The identity of a media file's *content*: its SHA-256, in hex.

    Staged files are named by it, a platform's copy is found again by it,
    and `MediaLink.sha256` carries it: hash media here and nowhere else.
    """
    return hashlib.sha256(content).hexdigest()


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


def number_key(number: str) -> tuple[tuple[int, int | str], ...]:
    """
    The order of record numbers for `NumberRange`: natural order.

    Runs of digits compare as numbers, everything else as text, so
    ``A-2 < A-10 < B-1``.  Sources that cannot sort like this say so.
    """
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.findall(r"\d+|\D+", number)
    )
