"""
The data `ErpSourceContract` expects an ERP to hold (`ErpSeed`,
`STANDARD_SEED`, with tiny generated PNG images) and the orders it
imports (`make_order`).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from ..._model import (
    Address,
    Article,
    Category,
    Customer,
    MediaRef,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    Record,
    StockLevel,
    Variant,
    number_key,
)
from ..._spec import DataType


#: Order numbers the suite imports start with this.
IMPORT_PREFIX = "WEB-"

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """
    A valid, plain-coloured PNG (no imaging library needed).
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return (
            struct.pack(">I", len(data))
            + body
            + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    return (
        PNG_MAGIC
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _image(key: str) -> MediaRef:
    return MediaRef(key=key, filename=f"{key}.png", mime_type="image/png")


@attrs.frozen(kw_only=True)
class ErpSeed:
    """
    The data an ERP under test holds.

    Attributes:
        categories: A tree (parents referenced by number).
        articles: With categories and images (``media`` keys index
            *media*); one with variants, numbered by its own number and
            a suffix (``A-20-RED``).
        stock: One level per article (per variant, for one with
            variants), in warehouse ``WH``.
        order_status: The ERP's orders, with their states.
        imported: Orders the ERP imported from two platforms, numbered
            ``WEB-…`` (``IMPORT_PREFIX``), each with the platform it came
            from (``OrderStatus.platform``; ``None``: imported before the
            ERP kept platforms); two platforms' orders share a number.
            An ERP holds them as it holds imported orders (Tryton: sales
            marked with their platform), with ``order_status``.
        media: Image contents by `MediaRef.key`.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       *imported*.
    """

    categories: tuple[Category, ...]
    articles: tuple[Article, ...]
    stock: tuple[StockLevel, ...]
    order_status: tuple[OrderStatus, ...]
    imported: tuple[OrderStatus, ...] = ()
    media: Mapping[str, bytes] = attrs.field(factory=dict, hash=False)

    def records(self) -> list[Record]:
        """
        Everything, for ``MemoryErp(seed.records(), media=seed.media)``.
        """
        return [
            *self.categories,
            *self.articles,
            *self.stock,
            *self.order_status,
            *self.imported,
        ]

    def numbers(self, data_type: DataType) -> list[str]:
        """
        The seeded numbers of *data_type*, in natural order.
        """
        records: dict[DataType, Sequence[Record]] = {
            DataType.CATEGORIES: self.categories,
            DataType.ARTICLES: self.articles,
            DataType.STOCK: self.stock,
            DataType.ORDER_STATUS: self.order_status,
        }
        return sorted({r.number for r in records[data_type]}, key=number_key)


#: Numbers are chosen so that text order and natural order differ
#: (``A-2 < A-10``) and a child category's number sorts before its
#: parent's (``C-2`` under ``C-10``); ``A-20`` has two variants.
STANDARD_SEED = ErpSeed(
    categories=(
        Category(number="C-10", name="Clothing"),
        Category(number="C-2", name="Shirts", parent="C-10"),
        Category(number="C-3", name="T-Shirts", parent="C-2"),
        Category(number="C-1", name="Shoes"),
    ),
    articles=(
        Article(
            number="A-1",
            name="Running shoe",
            description="Light and fast.",
            price=Decimal("89.90"),
            categories=("C-1",),
            media=(_image("img-a1-front"), _image("img-a1-side")),
        ),
        Article(
            number="A-2",
            name="Oxford shirt",
            description="Cotton.",
            price=Decimal("39.99"),
            categories=("C-2",),
            media=(_image("img-a2"),),
        ),
        Article(
            number="A-10",
            name="Plain T-shirt",
            price=Decimal("9.95"),
            categories=("C-3",),
        ),
        Article(
            number="A-11",
            name="Trail shoe",
            price=Decimal("119.00"),
            categories=("C-1",),
        ),
        Article(number="B-1", name="Gift card", price=Decimal("25.00")),
        Article(
            number="A-20",
            name="Polo shirt",
            price=Decimal("24.50"),
            categories=("C-3",),
            variants=(
                Variant(number="A-20-BLUE", options=(("Variant", "BLUE"),)),
                Variant(number="A-20-RED", options=(("Variant", "RED"),)),
            ),
        ),
    ),
    stock=(
        StockLevel(number="A-1", quantity=5, warehouse="WH"),
        StockLevel(number="A-2", quantity=0, warehouse="WH"),
        StockLevel(number="A-10", quantity=12, warehouse="WH"),
        StockLevel(number="A-11", quantity=7, warehouse="WH"),
        StockLevel(number="B-1", quantity=100, warehouse="WH"),
        StockLevel(number="A-20-BLUE", quantity=3, warehouse="WH"),
        StockLevel(number="A-20-RED", quantity=0, warehouse="WH"),
    ),
    order_status=(
        OrderStatus(number="SO-1", state=OrderState.OPEN),
        OrderStatus(
            number="SO-2",
            state=OrderState.SHIPPED,
            tracking_numbers=("1Z999AA10123456784",),
        ),
        OrderStatus(number="SO-3", state=OrderState.IN_PROGRESS),
        OrderStatus(number="SO-10", state=OrderState.CANCELLED),
    ),
    # order "1001" of two platforms, "1002" from before platforms were
    # kept, "1003" of one platform only
    imported=(
        OrderStatus(
            number=f"{IMPORT_PREFIX}1001",
            state=OrderState.CANCELLED,
            platform="contract-a",
        ),
        OrderStatus(
            number=f"{IMPORT_PREFIX}1001",
            state=OrderState.OPEN,
            platform="contract-b",
        ),
        OrderStatus(number=f"{IMPORT_PREFIX}1002", state=OrderState.OPEN),
        OrderStatus(
            number=f"{IMPORT_PREFIX}1003",
            state=OrderState.OPEN,
            platform="contract-b",
        ),
    ),
    media={
        "img-a1-front": png(4, 3, (200, 30, 30)),
        "img-a1-side": png(3, 4, (30, 200, 30)),
        "img-a2": png(2, 2, (30, 30, 200)),
    },
)


def _address(**changes: Any) -> Address:
    return attrs.evolve(
        Address(
            first_name="Erika",
            last_name="Mustermann",
            street="Heidestr. 17",
            zip_code="51147",
            city="Köln",
            country="DE",
        ),
        **changes,
    )


def make_order(number: str | None = None, **changes: Any) -> Order:
    """
    A valid order for the standard seed's articles, numbered ``WEB-…``.
    """
    number = number or f"{IMPORT_PREFIX}{uuid.uuid4().hex[:10]}"
    customer = Customer(
        number=f"K-{number}",
        email=f"{number.lower()}@example.com",
        first_name="Erika",
        last_name="Mustermann",
        addresses=(_address(),),
    )
    lines = (
        OrderLine(
            article_number="A-1",
            name="Running shoe",
            quantity=1,
            unit_price=Decimal("89.90"),
        ),
        OrderLine(
            article_number="A-2",
            name="Oxford shirt",
            quantity=2,
            unit_price=Decimal("39.99"),
        ),
    )
    order = Order(
        number=number,
        customer=customer,
        billing=_address(),
        shipping=_address(street="Lieferweg 3", zip_code="50667"),
        lines=lines,
        total=Decimal("169.88"),
        ordered_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
    )
    return attrs.evolve(order, **changes)
