"""
The contract of importing orders: idempotent, a bad order fails alone,
two platforms' orders with one number are two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import pytest

from ..._model import OrderStatus, number_key
from ..._selection import _takes_platform
from ..._spec import All, ChangedSince, DataType, Only
from ...typing import ErpSource
from ._base import SourceHooks
from ._seed import make_order


class OrderImportContract(SourceHooks):
    """
    Order imports that are idempotent (also across sessions) and where a
    bad order fails alone; part of `ErpSourceContract`.
    """

    #: Whether the ERP keeps two platforms' same-numbered orders apart
    #: (``Order.platform``); one that serves a single platform may say not.
    separates_platforms: ClassVar[bool] = True

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

    @pytest.mark.anyio
    async def test_odd_prices_import_once(self, source: ErpSource) -> None:
        """Unit prices with more decimals than the currency (19.999; a
        line total over its quantity, 10.00 / 3), a gift at 0 and a
        voucher as a negative line, with a total the shop rounded per
        line, import; again in a later session they are the same order,
        not an edit."""
        base = make_order()
        shoe, shirt = base.lines
        odd = make_order(
            lines=(
                attrs.evolve(shoe, quantity=3, unit_price="19.999"),
                attrs.evolve(shirt, quantity=3, unit_price=Decimal(10) / 3),
                attrs.evolve(shoe, name="Gift", unit_price=0),
                attrs.evolve(
                    shirt, name="Voucher", quantity=1, unit_price="-5.00"
                ),
            ),
            total="65.00",
        )
        async with source.session() as session:
            (first,) = await session.import_orders([odd])
        async with source.session() as session:
            (again,) = await session.import_orders([odd])

        assert first.ok, first
        assert first == again
        assert await self.imported_count(source, odd.number) == 1

    @pytest.mark.anyio
    async def test_order_of_unknown_article_fails_alone(
        self, source: ErpSource
    ) -> None:
        """An order with a line naming no article the ERP holds (an SKU
        made in the shop) fails on that line's ``article_number``, naming
        the SKU, and is not imported; the others are."""
        good1, good2 = make_order(), make_order()
        base = make_order()
        stray = attrs.evolve(base.lines[1], article_number="NO-SUCH-ART")
        bad = attrs.evolve(base, lines=(base.lines[0], stray))
        async with source.session() as session:
            outcomes = await session.import_orders([good1, bad, good2])

        assert [True, False, True] == [o.ok for o in outcomes], outcomes
        assert bad.number == outcomes[1].number
        assert "lines.1.article_number" == outcomes[1].field
        assert "NO-SUCH-ART" in str(outcomes[1].error)
        assert await self.imported_count(source, bad.number) == 0
        assert await self.imported_count(source, good2.number) == 1

    @pytest.mark.anyio
    async def test_order_of_customer_without_number_fails_alone(
        self, source: ErpSource
    ) -> None:
        """An order whose customer has no customer number (blank) fails on
        ``customer.number`` and is not imported: the ERP finds the
        customer by it, so every such order would be booked on the first
        one's customer."""
        good = make_order()
        bad = [
            attrs.evolve(
                make_order(), customer=attrs.evolve(good.customer, number=n)
            )
            for n in ("", "  ")
        ]
        async with source.session() as session:
            outcomes = await session.import_orders([bad[0], good, bad[1]])

        assert [False, True, False] == [o.ok for o in outcomes], outcomes
        assert ["customer.number"] * 2 == [
            outcomes[0].field,
            outcomes[2].field,
        ]
        assert await self.imported_count(source, bad[0].number) == 0
        assert await self.imported_count(source, bad[1].number) == 0

    @pytest.mark.anyio
    async def test_two_platforms_same_numbers_stay_apart(
        self, source: ErpSource
    ) -> None:
        """Two platforms' orders with one number, of customers with one
        number (``Order.platform``), are two ERP orders: the second is
        neither taken for the first nor judged "changed in the shop"
        against it; imported again, each is its own, unchanged."""
        if not self.separates_platforms:
            pytest.skip("this ERP serves one platform (separates_platforms)")
        first = make_order(platform="contract-a")
        line = first.lines[0]
        second = attrs.evolve(
            first,
            platform="contract-b",
            customer=attrs.evolve(first.customer, first_name="Hans"),
            lines=(line,),
            total=line.unit_price * line.quantity,
        )
        async with source.session() as session:
            (a,) = await session.import_orders([first])
            (b,) = await session.import_orders([second])
            again = await session.import_orders([first, second])

        assert [True] * 4 == [o.ok for o in (a, b, *again)], (a, b, again)
        assert a.platform_id != b.platform_id
        assert [a.platform_id, b.platform_id] == [o.platform_id for o in again]
        assert await self.imported_count(source, first.number) == 2

    @pytest.mark.anyio
    @pytest.mark.parametrize("platform", ["contract-a", "contract-b"])
    async def test_order_status_of_one_platform(
        self, source: ErpSource, platform: str
    ) -> None:
        """Order status read and counted for one platform (``platform=``)
        holds that platform's orders and those imported before the ERP
        kept platforms, of one number the platform's own: never another
        platform's order, which the engine would push to this platform's
        order with that number."""
        if not self.separates_platforms:
            pytest.skip("this ERP serves one platform (separates_platforms)")
        # ErpSession does not name the keyword: adapters of old lack it
        reader: Any
        async with source.session() as reader:
            if not _takes_platform(reader.read):
                pytest.skip(
                    "the session's read takes no 'platform' keyword "
                    "(optional: the engine keeps the platform's own "
                    "statuses of what it reads)"
                )
            # a count without the keyword counts every platform's
            counts = _takes_platform(reader.count)
            imported = self.seed.imported
            assert {"contract-a", "contract-b"} <= {
                s.platform for s in imported
            }, "the seed needs orders imported from contract-a and contract-b"
            numbers = sorted({s.number for s in imported}, key=number_key)
            own = {s.number: s for s in imported if s.platform is None}
            own |= {s.number: s for s in imported if s.platform == platform}
            expected = [own[n] for n in numbers if n in own]
            got = [
                status
                async for batch in reader.read(
                    DataType.ORDER_STATUS,
                    Only(numbers),
                    batch_size=1,
                    platform=platform,
                )
                for status in batch
            ]
            count = (
                await reader.count(
                    DataType.ORDER_STATUS, Only(numbers), platform=platform
                )
                if counts
                else None
            )
            every = [
                status
                async for batch in reader.read(
                    DataType.ORDER_STATUS,
                    All(),
                    batch_size=2,
                    platform=platform,
                )
                for status in batch
            ]
            every_count = (
                await reader.count(
                    DataType.ORDER_STATUS, All(), platform=platform
                )
                if counts
                else None
            )
            since = [
                status
                async for batch in reader.read(
                    DataType.ORDER_STATUS,
                    ChangedSince(datetime(2000, 1, 1, tzinfo=UTC)),
                    batch_size=100,
                    platform=platform,
                )
                for status in batch
            ]

        assert expected == got
        assert count in (None, len(got))
        assert all(isinstance(s, OrderStatus) for s in every)
        assert [] == [s for s in every if s.platform not in (None, platform)]
        assert expected == [s for s in every if s.number in numbers]
        assert every_count in (None, len(every))
        assert expected == [s for s in since if s.number in numbers]
