"""
`ErpSourceContract`: the standard tests every `ErpSource` must pass.

Subclass it in a test module and provide a ``source`` fixture that yields
your `ErpSource` holding `ErpSeed` data (`STANDARD_SEED` unless the
subclass sets ``seed``), and implement the two hooks the suite cannot do
generically:

- ``touch(source, data_type, number)``: change that record *now* without
  changing what it reads as (same values), so ``ChangedSince`` finds it;
- ``imported_count(source, order_number)``: how many ERP orders carry
  that platform order number;
- ``imported_state(source, order_number)``: the `OrderState` of the ERP
  order imported for that platform order number;
- ``ship(source, order_number)``: have the ERP ship that imported order
  (the warehouse sent it), so the ERP can no longer cancel it.

Orders the suite imports are numbered ``WEB-…`` (`IMPORT_PREFIX`); an ERP
that reports imported orders in its order status may list them, the suite
ignores them there.  Needs pytest (an optional test dependency).

.. versionadded:: 26.1.0
.. versionchanged:: 26.1.0
   The ``imported_state`` and ``ship`` hooks, and the tests of orders
   that change in the shop after they were imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import anyio
import attrs
import pytest

from ..._model import (
    Article,
    Category,
    MediaKind,
    Order,
    OrderState,
    Record,
    StockLevel,
    number_key,
)
from ..._spec import (
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    Selection,
)
from ...typing import ErpSession, ErpSource
from ._seed import (
    IMPORT_PREFIX,
    JPEG_MAGIC,
    PNG_MAGIC,
    STANDARD_SEED,
    ErpSeed,
    make_order,
)
from ._seed import png as png


__all__ = ["IMPORT_PREFIX", "STANDARD_SEED", "ErpSeed", "ErpSourceContract"]

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

    async def imported_state(
        self, source: ErpSource, order_number: str
    ) -> OrderState:
        """
        The ERP's state of the order imported as *order_number*.
        """
        raise NotImplementedError

    async def ship(self, source: ErpSource, order_number: str) -> None:
        """
        Ship the ERP order imported as *order_number*: the warehouse sent
        it, so the ERP can no longer cancel it.
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
            magic = {"image/jpeg": JPEG_MAGIC, "image/png": PNG_MAGIC}
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

    @pytest.mark.anyio
    async def test_order_whose_money_does_not_add_up_fails_alone(
        self, source: ErpSource
    ) -> None:
        """An order whose lines, shipping and discounts miss its total
        (a charge the platform adapter does not model) fails on ``total``
        and is not imported; the others are."""
        good1, good2 = make_order(), make_order()
        bad = make_order(total=make_order().total + 5)
        shipped = make_order(
            shipping_total="4.90",
            discount_total="10.00",
            total=make_order().total + Decimal("4.90") - 10,
        )
        async with source.session() as session:
            outcomes = await session.import_orders(
                [good1, bad, shipped, good2]
            )

        assert [o.ok for o in outcomes] == [True, False, True, True], outcomes
        assert "total" == outcomes[1].field
        assert bad.number in str(outcomes[1].number)
        assert await self.imported_count(source, bad.number) == 0
        assert await self.imported_count(source, shipped.number) == 1
        assert await self.imported_count(source, good2.number) == 1

    # -- orders that change in the shop after their import ------------------

    @pytest.mark.anyio
    async def test_order_cancelled_in_the_shop_before_it_shipped(
        self, source: ErpSource
    ) -> None:
        """An imported order cancelled in the shop before it shipped is
        cancelled in the ERP, or (where the ERP cannot cancel it) fails on
        ``state`` naming the order; never ok while the ERP order stands.
        Importing it again changes nothing."""
        order = make_order()
        cancelled = attrs.evolve(order, state=OrderState.CANCELLED)
        async with source.session() as session:
            (first,) = await session.import_orders([order])
            (outcome,) = await session.import_orders([cancelled])
            (again,) = await session.import_orders([cancelled])

        state = await self.imported_state(source, order.number)
        assert first.ok, first
        for answer in (outcome, again):
            assert answer.ok == (state is OrderState.CANCELLED), answer
            if answer.ok:
                assert first.platform_id == answer.platform_id
            else:
                assert "state" == answer.field
                assert order.number in str(answer.error)
        assert await self.imported_count(source, order.number) == 1

    @pytest.mark.anyio
    async def test_order_cancelled_in_the_shop_after_it_shipped(
        self, source: ErpSource
    ) -> None:
        """An order the ERP shipped and the shop then cancelled fails on
        ``state``, naming the order and the ERP order (the merchant must
        take the goods back by hand), every time it is imported again;
        the ERP order stays as it was."""
        order = make_order()
        cancelled = attrs.evolve(order, state=OrderState.CANCELLED)
        async with source.session() as session:
            (first,) = await session.import_orders([order])
        await self.ship(source, order.number)
        before = await self.imported_state(source, order.number)
        async with source.session() as session:
            outcomes = await session.import_orders([cancelled, cancelled])

        assert first.ok, first
        assert before in (OrderState.SHIPPED, OrderState.COMPLETED)
        for outcome in outcomes:
            assert not outcome.ok, outcome
            assert "state" == outcome.field
            assert order.number in str(outcome.error)
            assert str(first.platform_id) in str(outcome.error)
        assert before == await self.imported_state(source, order.number)

    @pytest.mark.anyio
    async def test_order_cancelled_before_its_import(
        self, source: ErpSource
    ) -> None:
        """An order first seen cancelled is imported cancelled: it counts,
        the ERP does not ship it."""
        order = make_order(state=OrderState.CANCELLED)
        async with source.session() as session:
            (outcome,) = await session.import_orders([order])

        assert outcome.ok, outcome
        assert await self.imported_count(source, order.number) == 1
        state = await self.imported_state(source, order.number)
        assert state is OrderState.CANCELLED

    @pytest.mark.anyio
    async def test_order_reopened_in_the_shop_after_its_cancellation(
        self, source: ErpSource
    ) -> None:
        """An order open in the shop again after its ERP order was
        cancelled fails on ``state`` naming the order, every time it is
        imported; the ERP order stays cancelled (never a silent ok while
        the ERP holds it cancelled)."""
        cancelled = make_order(state=OrderState.CANCELLED)
        reopened = attrs.evolve(cancelled, state=OrderState.OPEN)
        async with source.session() as session:
            (first,) = await session.import_orders([cancelled])
            outcomes = await session.import_orders([reopened])
            outcomes += await session.import_orders([reopened])

        assert first.ok, first
        for outcome in outcomes:
            assert ("state", False) == (outcome.field, outcome.ok), outcome
            assert cancelled.number in str(outcome.error)
        assert await self.imported_count(source, cancelled.number) == 1
        state = await self.imported_state(source, cancelled.number)
        assert state is OrderState.CANCELLED

    @pytest.mark.anyio
    async def test_state_the_erp_pushed_back_changes_nothing(
        self, source: ErpSource
    ) -> None:
        """An order read again with the state the ERP pushed to the shop
        (in progress, shipped, completed) imports as before."""
        order = make_order()
        async with source.session() as session:
            outcomes = await session.import_orders(
                [
                    order,
                    *(
                        attrs.evolve(order, state=state)
                        for state in (
                            OrderState.IN_PROGRESS,
                            OrderState.SHIPPED,
                            OrderState.COMPLETED,
                        )
                    ),
                ]
            )

        assert all(o.ok for o in outcomes), outcomes
        assert len({o.platform_id for o in outcomes}) == 1

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("edit", "field"),
        [
            ("quantity", "lines"),
            ("line", "lines"),
            ("street", "shipping"),
            ("billing", "billing"),
            ("charge", "shipping_total total"),
        ],
    )
    async def test_order_edited_in_the_shop_after_its_import(
        self, source: ErpSource, edit: str, field: str
    ) -> None:
        """An order whose lines, addresses or charges changed in the shop
        after its import fails on that field, naming the order; the ERP
        keeps its one order (no silent success while the ERP holds
        something else)."""
        order = make_order()
        one, two = order.lines
        changed = {
            "quantity": attrs.evolve(
                order,
                lines=(one, attrs.evolve(two, quantity=3)),
                total=order.total + two.unit_price,
            ),
            "line": attrs.evolve(
                order, lines=(two,), total=order.total - one.unit_price
            ),
            "street": attrs.evolve(
                order,
                shipping=attrs.evolve(order.shipping, street="Neuer Weg 9"),
            ),
            "billing": attrs.evolve(
                order, billing=attrs.evolve(order.billing, city="Bonn")
            ),
            "charge": attrs.evolve(
                order,
                shipping_total=Decimal("4.90"),
                total=order.total + Decimal("4.90"),
            ),
        }[edit]
        async with source.session() as session:
            (first,) = await session.import_orders([order])
            (outcome,) = await session.import_orders([changed])

        assert first.ok, first
        assert not outcome.ok, outcome
        assert str(outcome.field).split(".")[0] in field.split(), outcome
        assert order.number in str(outcome.error)
        assert await self.imported_count(source, order.number) == 1
