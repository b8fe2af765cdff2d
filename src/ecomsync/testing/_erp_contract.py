"""
`ErpSourceContract`: the standard tests every `ErpSource` must pass.

Subclass it in a test module and provide a ``source`` fixture that yields
your `ErpSource` holding `ErpSeed` data (`STANDARD_SEED` unless the
subclass sets ``seed``), and implement the two hooks the suite cannot do
generically:

- ``touch(source, data_type, number)``: change that record *now* without
  changing what it reads as (same values), so ``ChangedSince`` finds it;
- ``imported_count(source, order_number)``: how many ERP orders carry
  that platform order number.

Orders the suite imports are numbered ``WEB-…`` (`IMPORT_PREFIX`); an ERP
that reports imported orders in its order status may list them, the suite
ignores them there.  Needs pytest (an optional test dependency).

.. versionadded:: 26.1.0
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import anyio
import attrs
import pytest

from .._model import (
    Address,
    Article,
    Category,
    Customer,
    MediaKind,
    MediaRef,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    Record,
    StockLevel,
    number_key,
)
from .._spec import (
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    Selection,
)
from ..typing import ErpSession, ErpSource


__all__ = ["IMPORT_PREFIX", "STANDARD_SEED", "ErpSeed", "ErpSourceContract"]

#: Order numbers the suite imports start with this.
IMPORT_PREFIX = "WEB-"

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
        _PNG_MAGIC
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
            *media*).
        stock: One level per article, in warehouse ``WH``.
        order_status: The ERP's orders, with their states.
        media: Image contents by `MediaRef.key`.

    .. versionadded:: 26.1.0
    """

    categories: tuple[Category, ...]
    articles: tuple[Article, ...]
    stock: tuple[StockLevel, ...]
    order_status: tuple[OrderStatus, ...]
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
#: parent's (``C-2`` under ``C-10``).
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
    ),
    stock=(
        StockLevel(number="A-1", quantity=5, warehouse="WH"),
        StockLevel(number="A-2", quantity=0, warehouse="WH"),
        StockLevel(number="A-10", quantity=12, warehouse="WH"),
        StockLevel(number="A-11", quantity=7, warehouse="WH"),
        StockLevel(number="B-1", quantity=100, warehouse="WH"),
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
    media={
        "img-a1-front": png(4, 3, (200, 30, 30)),
        "img-a1-side": png(3, 4, (30, 200, 30)),
        "img-a2": png(2, 2, (30, 30, 200)),
    },
)

_READ_TYPES = (
    DataType.CATEGORIES,
    DataType.ARTICLES,
    DataType.STOCK,
    DataType.ORDER_STATUS,
)
_RANGES = {
    # (first, last) and the expected numbers; text order would differ
    DataType.CATEGORIES: (("C-2", "C-10"), ["C-2", "C-3", "C-10"]),
    DataType.ARTICLES: (("A-2", "A-10"), ["A-2", "A-10"]),
    DataType.STOCK: (("A-2", "A-11"), ["A-2", "A-10", "A-11"]),
    DataType.ORDER_STATUS: (("SO-2", "SO-10"), ["SO-2", "SO-3", "SO-10"]),
}
_ONLY = {
    DataType.CATEGORIES: ["C-3", "C-1"],
    DataType.ARTICLES: ["A-10", "A-1"],
    DataType.STOCK: ["B-1", "A-2"],
    DataType.ORDER_STATUS: ["SO-10", "SO-1"],
}


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


def _numbers(batches: Sequence[Sequence[Record]]) -> list[str]:
    return [record.number for batch in batches for record in batch]


def _visible(data_type: DataType, numbers: list[str]) -> list[str]:
    if data_type is DataType.ORDER_STATUS:
        return [n for n in numbers if not n.startswith(IMPORT_PREFIX)]
    return numbers


class ErpSourceContract:
    """
    Base test class: the behaviour every `ErpSource` promises.

    Subclasses provide the ``source`` fixture and the hooks (see the
    module docstring).

    .. versionadded:: 26.1.0
    """

    seed: ClassVar[ErpSeed] = STANDARD_SEED

    # -- hooks ------------------------------------------------------------

    async def touch(
        self, source: ErpSource, data_type: DataType, number: str
    ) -> None:
        """
        Change record *number* now, keeping its values.
        """
        raise NotImplementedError

    async def imported_count(
        self, source: ErpSource, order_number: str
    ) -> int:
        """
        How many ERP orders carry *order_number*.
        """
        raise NotImplementedError

    def bad_order(self) -> Order:
        """
        An order this ERP refuses (default: a line with quantity 0).
        """
        good = make_order()
        line = attrs.evolve(good.lines[0], quantity=0)
        return attrs.evolve(good, lines=(line, *good.lines[1:]))

    # -- helpers ------------------------------------------------------------

    @staticmethod
    async def read_all(
        session: ErpSession,
        data_type: DataType,
        selection: Selection,
        batch_size: int = 100,
    ) -> list[Sequence[Record]]:
        return [
            batch
            async for batch in session.read(
                data_type, selection, batch_size=batch_size
            )
        ]

    # -- reading: the four selection modes -----------------------------------

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_all(self, source: ErpSource, data_type: DataType) -> None:
        """All() yields every seeded record once, in number order."""
        async with source.session() as session:
            got = _numbers(await self.read_all(session, data_type, All()))

        expected = self.seed.numbers(data_type)
        visible = _visible(data_type, got)
        if data_type is DataType.CATEGORIES:
            assert sorted(visible, key=number_key) == expected, got
        else:
            assert expected == visible, got
            assert sorted(got, key=number_key) == got, "not in number order"

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_number_range(
        self, source: ErpSource, data_type: DataType
    ) -> None:
        """NumberRange is inclusive and uses natural order (A-2 < A-10)."""
        (first, last), expected = _RANGES[data_type]
        async with source.session() as session:
            got = _numbers(
                await self.read_all(
                    session, data_type, NumberRange(first, last)
                )
            )

        if data_type is DataType.CATEGORIES:
            assert sorted(expected, key=number_key) == sorted(
                got, key=number_key
            ), got
        else:
            assert expected == got

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_only(self, source: ErpSource, data_type: DataType) -> None:
        """Only() yields exactly the existing chosen records; unknown ones
        are ignored."""
        wanted = _ONLY[data_type]
        async with source.session() as session:
            got = _numbers(
                await self.read_all(
                    session, data_type, Only([*wanted, "NO-SUCH-1"])
                )
            )

        assert sorted(wanted, key=number_key) == sorted(got, key=number_key)

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_changed_since(
        self, source: ErpSource, data_type: DataType
    ) -> None:
        """ChangedSince yields what changed at or after the moment, nothing
        older, and everything for a moment long past."""
        number = self.seed.numbers(data_type)[1]
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        await anyio.sleep(0.01)
        await self.touch(source, data_type, number)
        future = moment + timedelta(days=1)
        past = datetime(2000, 1, 1, tzinfo=UTC)
        async with source.session() as session:
            changed = _numbers(
                await self.read_all(session, data_type, ChangedSince(moment))
            )
            none = _numbers(
                await self.read_all(session, data_type, ChangedSince(future))
            )
            everything = _numbers(
                await self.read_all(session, data_type, ChangedSince(past))
            )

        assert [number] == _visible(data_type, changed)
        assert none == []
        assert sorted(self.seed.numbers(data_type), key=number_key) == sorted(
            _visible(data_type, everything), key=number_key
        )

    # -- reading: order and content --------------------------------------

    @pytest.mark.anyio
    async def test_categories_parents_first(self, source: ErpSource) -> None:
        """Every category comes after its parent, across batches."""
        async with source.session() as session:
            batches = await self.read_all(
                session, DataType.CATEGORIES, All(), batch_size=1
            )

        seen: set[str] = set()
        for batch in batches:
            for category in batch:
                assert isinstance(category, Category)
                assert category.parent is None or category.parent in seen, (
                    f"{category.number} before its parent {category.parent}"
                )
                seen.add(category.number)
        expected = {c.number: c.parent for c in self.seed.categories}
        assert expected == {
            c.number: c.parent  # type: ignore[union-attr]
            for batch in batches
            for c in batch
        }

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_batches(
        self, source: ErpSource, data_type: DataType
    ) -> None:
        """Batches are full except the last and add up to one big read."""
        async with source.session() as session:
            small = await self.read_all(
                session, data_type, All(), batch_size=2
            )
            big = await self.read_all(
                session, data_type, All(), batch_size=1000
            )

        assert all(len(batch) == 2 for batch in small[:-1])
        assert 1 <= len(small[-1]) <= 2
        assert len(big) == 1
        assert _numbers(big) == _numbers(small)

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    @pytest.mark.parametrize(
        "selection",
        [
            All(),
            NumberRange("A-2", "SO-2"),
            Only(["A-1", "C-1", "SO-1", "nope"]),
            ChangedSince(datetime(2000, 1, 1, tzinfo=UTC)),
        ],
        ids=["all", "range", "only", "since"],
    )
    async def test_count(
        self, source: ErpSource, data_type: DataType, selection: Selection
    ) -> None:
        """count() is what read() yields (or None: unknown)."""
        async with source.session() as session:
            count = await session.count(data_type, selection)
            got = _numbers(await self.read_all(session, data_type, selection))

        assert count is None or len(got) == count

    @pytest.mark.anyio
    async def test_articles(self, source: ErpSource) -> None:
        """Articles carry name, description, gross price, categories and as
        many original images as the ERP holds."""
        async with source.session() as session:
            (batch,) = await self.read_all(session, DataType.ARTICLES, All())

        got = {a.number: a for a in batch if isinstance(a, Article)}
        for want in self.seed.articles:
            have = got[want.number]
            assert want.name == have.name
            assert want.description == have.description
            assert want.price == have.price
            assert want.currency == have.currency
            assert sorted(want.categories) == sorted(have.categories)
            assert have.active
            originals = [m for m in have.media if m.format == "original"]
            assert len(want.media) == len(originals), have.media

    @pytest.mark.anyio
    async def test_stock_levels(self, source: ErpSource) -> None:
        """Stock levels are the seeded quantities available to sell, per
        warehouse or summed (then without a warehouse)."""
        async with source.session() as session:
            (batch,) = await self.read_all(session, DataType.STOCK, All())

        levels = [s for s in batch if isinstance(s, StockLevel)]
        assert {(s.number, s.quantity) for s in self.seed.stock} == {
            (s.number, s.quantity) for s in levels
        }
        seeded = {s.number: s.warehouse for s in self.seed.stock}
        for level in levels:
            assert level.warehouse in (None, seeded[level.number]), level

    @pytest.mark.anyio
    async def test_order_status(self, source: ErpSource) -> None:
        """Order states and tracking numbers are the ERP's."""
        async with source.session() as session:
            batches = await self.read_all(
                session,
                DataType.ORDER_STATUS,
                Only([s.number for s in self.seed.order_status]),
            )

        assert sorted(
            self.seed.order_status, key=lambda s: number_key(s.number)
        ) == [s for batch in batches for s in batch]

    @pytest.mark.anyio
    async def test_read_media(self, source: ErpSource) -> None:
        """Every article image reads as an image of its MIME type."""
        async with source.session() as session:
            (batch,) = await self.read_all(session, DataType.ARTICLES, All())
            refs = [m for a in batch for m in a.media]  # type: ignore[union-attr]
            contents = [await session.read_media(ref) for ref in refs]

        assert refs
        for ref, content in zip(refs, contents, strict=True):
            assert ref.kind is MediaKind.IMAGE
            magic = {"image/jpeg": _JPEG_MAGIC, "image/png": _PNG_MAGIC}
            assert content.startswith(magic[ref.mime_type]), ref

    # -- importing orders ---------------------------------------------------

    @pytest.mark.anyio
    async def test_import_twice_creates_once(self, source: ErpSource) -> None:
        """Importing the same order twice (also within one call) creates
        one ERP order; every outcome is ok with the same id."""
        order = make_order()
        async with source.session() as session:
            first = await session.import_orders([order])
            second = await session.import_orders([order, order])

        assert [o.number for o in first + second] == [order.number] * 3
        assert all(o.ok for o in first + second), first + second
        assert len({o.platform_id for o in first + second}) == 1
        assert await self.imported_count(source, order.number) == 1

    @pytest.mark.anyio
    async def test_import_again_in_new_session(
        self, source: ErpSource
    ) -> None:
        """A re-import in a later session (a retried run) creates nothing."""
        order = make_order()
        async with source.session() as session:
            (first,) = await session.import_orders([order])
        async with source.session() as session:
            (again,) = await session.import_orders([order])

        assert first.ok
        assert first == again
        assert await self.imported_count(source, order.number) == 1

    @pytest.mark.anyio
    async def test_bad_order_fails_alone(self, source: ErpSource) -> None:
        """A refused order gets an error outcome; the others go through."""
        good1, bad, good2 = make_order(), self.bad_order(), make_order()
        async with source.session() as session:
            outcomes = await session.import_orders([good1, bad, good2])

        assert [good1.number, bad.number, good2.number] == [
            o.number for o in outcomes
        ]
        assert [o.ok for o in outcomes] == [True, False, True], outcomes
        assert outcomes[1].error
        assert await self.imported_count(source, good1.number) == 1
        assert await self.imported_count(source, good2.number) == 1
        assert await self.imported_count(source, bad.number) == 0
