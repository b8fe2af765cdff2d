"""
`MemoryErp` against the ERP contract suite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import DataType, OrderState
from ecomsync.erp.memory import MemoryErp
from ecomsync.testing._erp_contract import ErpSourceContract
from ecomsync.typing import ErpSource

from .._unnamed_erp import Unnamed


@pytest.fixture(name="source")
def _source() -> MemoryErp:
    seed = ErpSourceContract.seed
    return MemoryErp(seed.records(), media=dict(seed.media))


class TestMemoryErpContract(ErpSourceContract):
    """
    The standard ERP behaviour, in memory.
    """

    async def touch(
        self, source: ErpSource, data_type: DataType, number: str
    ) -> None:
        assert isinstance(source, MemoryErp)
        record = source.get(data_type, number)
        assert record is not None
        source.put(record)

    async def imported_count(
        self, source: ErpSource, order_number: str
    ) -> int:
        assert isinstance(source, MemoryErp)
        return sum(
            (key if isinstance(key, str) else key[1]) == order_number
            for key in source.orders
        )

    async def imported_state(
        self, source: ErpSource, order_number: str
    ) -> OrderState:
        assert isinstance(source, MemoryErp)
        return source.order_states[order_number]

    async def ship(self, source: ErpSource, order_number: str) -> None:
        assert isinstance(source, MemoryErp)
        source.order_states[order_number] = OrderState.SHIPPED


class TestMemoryErpShape:
    @pytest.mark.parametrize(
        ("given", "hint"),
        [
            ({"number": "A-1", "name": "Hammer"}, "Article(**row)"),
            ("A-1", "got str"),
        ],
    )
    def test_wrong_shape_says_what_it_wants(
        self, given: object, hint: str
    ) -> None:
        """Something that is not a record is refused with a message that
        lists the record types it takes (no bare KeyError)."""
        with pytest.raises(TypeError) as info:
            MemoryErp([given])  # type: ignore[list-item]

        assert "Category, Article, StockLevel, OrderStatus" in str(info.value)
        assert hint in str(info.value)

    def test_wrong_shape_names_no_personal_data(self) -> None:
        """An order given to a MemoryErp is refused naming its type and
        number, not its customer's e-mail or name (the record's repr)."""
        from ecomsync.testing import shop_orders

        order = next(iter(shop_orders(1)))

        with pytest.raises(TypeError) as info:
            MemoryErp([order])  # type: ignore[list-item]

        assert f"got Order {order.number!r}" in str(info.value)
        assert order.customer.email not in str(info.value)
        assert order.customer.last_name not in str(info.value)

    def test_naive_change_time_refused(self) -> None:
        """A naive change time is refused when it is given, naming the
        record (it failed the first ChangedSince read with a TypeError);
        the same for an order placed on a MemoryPlatform."""
        from ecomsync import Category, ConfigurationError, MemoryPlatform
        from ecomsync.testing import shop_orders

        naive = datetime(2026, 11, 1, 12, 0)
        erp = MemoryErp()
        order = next(iter(shop_orders(1)))

        with pytest.raises(ConfigurationError, match="'C-1' must be a time"):
            erp.put(Category(number="C-1", name="Werkzeug"), changed_at=naive)
        with pytest.raises(ConfigurationError, match="timezone-aware"):
            MemoryErp([Category(number="C-1", name="W")], clock=lambda: naive)
        with pytest.raises(ConfigurationError, match=order.number):
            MemoryPlatform().place_order(order, changed_at=naive)

    @pytest.mark.parametrize("latency", [-1, float("nan"), float("inf"), "1"])
    def test_latency_out_of_range_refused(self, latency: object) -> None:
        """A latency that is not a finite number of seconds of 0 or more
        is a ConfigurationError naming it (-1 was taken as none)."""
        from ecomsync import ConfigurationError

        with pytest.raises(ConfigurationError, match="MemoryErp latency"):
            MemoryErp(latency=latency)  # type: ignore[arg-type]

    def test_orders_go_to_a_platform(self) -> None:
        """An order handed to the ERP says where orders come from."""
        from ecomsync.testing import shop_orders

        order = next(iter(shop_orders(1)))

        with pytest.raises(TypeError, match="place_order"):
            MemoryErp([order])

    @pytest.mark.anyio
    async def test_imported_order_keeps_its_money(self) -> None:
        """An imported order keeps its shipping and discount, so a host
        can check what its ERP would book."""
        from ecomsync.testing._erp_contract import make_order

        erp = MemoryErp(ErpSourceContract.seed.articles)
        order = make_order(
            shipping_total="4.90", discount_total="10", total="164.78"
        )
        async with erp.session() as session:
            (outcome,) = await session.import_orders([order])

        assert outcome.ok
        kept = erp.orders[order.number]
        assert (Decimal("4.90"), Decimal(10), Decimal("164.78")) == (
            kept.shipping_total,
            kept.discount_total,
            kept.total,
        )

    @pytest.mark.anyio
    async def test_naive_order_time_fails_that_order(self) -> None:
        """An order placed at a naive time fails on ``ordered_at`` alone;
        the orders beside it in the call are imported."""
        from ecomsync.testing._erp_contract import make_order

        erp = MemoryErp(ErpSourceContract.seed.articles)
        first = make_order()
        naive = attrs.evolve(
            first,
            number=first.number + "-2",
            ordered_at=first.ordered_at.replace(tzinfo=None)
            + timedelta(days=1),
        )
        last = attrs.evolve(first, number=first.number + "-3")
        async with erp.session() as session:
            await session.import_orders([first])
            outcomes = await session.import_orders([naive, last])

        assert [False, True] == [o.ok for o in outcomes]
        assert "ordered_at" == outcomes[0].field
        assert "must be timezone-aware" in (outcomes[0].error or "")
        assert {first.number, last.number} == set(erp.orders)

    @pytest.mark.anyio
    async def test_cycle_members_come_last(self) -> None:
        """Categories on a cycle are still read (for the engine to refuse
        by name), after every category that can be ordered."""
        from ecomsync import All, Category

        erp = MemoryErp(
            [
                Category(number="A", name="A", parent="B"),
                Category(number="B", name="B", parent="A"),
                Category(number="C", name="C", parent="D"),
                Category(number="D", name="D"),
            ]
        )
        async with erp.session() as session:
            read = [
                c.number
                async for batch in session.read(
                    DataType.CATEGORIES, All(), batch_size=10
                )
                for c in batch
            ]

        assert ["D", "C", "A", "B"] == read


class TestMemoryErpRows:
    @pytest.mark.anyio
    async def test_two_records_one_number(self) -> None:
        """Like a real ERP it keeps two records with one number; put()
        replaces both, remove() removes both."""
        from ecomsync import All, Article

        old = Article(number="Z-1", name="Old Z", price=1, active=False)
        new = Article(number="Z-1", name="New Z", price=2)
        erp = MemoryErp([old, new])

        async def names() -> list[str]:
            async with erp.session() as session:
                return [
                    a.name  # type: ignore[union-attr]
                    async for batch in session.read(
                        DataType.ARTICLES, All(), batch_size=10
                    )
                    for a in batch
                ]

        assert ["Old Z", "New Z"] == await names()
        assert old == erp.get(DataType.ARTICLES, "Z-1")
        assert "articles=2" in repr(erp)

        erp.put(new)

        assert ["New Z"] == await names()

        erp.add(old)
        erp.remove(DataType.ARTICLES, "Z-1")

        assert [] == await names()
        assert erp.get(DataType.ARTICLES, "Z-1") is None

    def test_stock_per_warehouse(self) -> None:
        """Stock levels of one article in two warehouses are two rows; put
        replaces only the one of its warehouse."""
        from ecomsync import StockLevel

        erp = MemoryErp(
            [
                StockLevel(number="A", quantity=1, warehouse="W1"),
                StockLevel(number="A", quantity=2, warehouse="W2"),
            ]
        )
        erp.put(StockLevel(number="A", quantity=5, warehouse="W1"))

        assert "stock=2" in repr(erp)


def _shirt_erp() -> MemoryErp:
    from ecomsync import Article, StockLevel, Variant

    return MemoryErp(
        [
            Article(
                number="A-100",
                name="Shirt",
                price=Decimal("20.00"),
                variants=(
                    Variant(number="A-100-RED", options=(("Colour", "red"),)),
                    Variant(number="X-7", options=(("Colour", "blue"),)),
                ),
            ),
            Article(number="A-1000", name="Tie", price=Decimal("9.00")),
            StockLevel(number="A-100-RED", quantity=3),
            StockLevel(number="X-7", quantity=4),
            StockLevel(number="A-1000", quantity=5),
        ]
    )


async def _read_numbers(
    erp: MemoryErp, data_type: DataType, numbers: list[str]
) -> list[str]:
    from ecomsync import Only

    async with erp.session() as session:
        count = await session.count(data_type, Only(numbers))
        got = [
            r.number
            async for batch in session.read(
                data_type, Only(numbers), batch_size=10
            )
            for r in batch
        ]
    assert count == len(got)
    return got


class TestMemoryErpOnly:
    @pytest.mark.anyio
    @pytest.mark.parametrize("number", ["A-100-RED", "X-7", "A-100"])
    async def test_variant_number_selects_its_article(
        self, number: str
    ) -> None:
        """Only() with a variant's number (whatever it looks like) selects
        the article that owns the variant, as TrytonErp does: an article
        is pushed whole, with its variants."""
        got = await _read_numbers(_shirt_erp(), DataType.ARTICLES, [number])

        assert ["A-100"] == got

    @pytest.mark.anyio
    async def test_article_number_selects_its_variants_stock(self) -> None:
        """Stock Only() with an article's number selects its variants'
        levels (as TrytonErp does); a variant's number its level alone."""
        erp = _shirt_erp()

        assert ["A-100-RED", "X-7"] == await _read_numbers(
            erp, DataType.STOCK, ["A-100"]
        )
        assert ["X-7"] == await _read_numbers(erp, DataType.STOCK, ["X-7"])


class TestMemoryErpPlatforms:
    @pytest.mark.anyio
    async def test_kept_apart_and_marked(self) -> None:
        """An order kept before its platform was known is its platform's
        when that imports it again (no second order); another platform's
        order and customer with the same numbers are kept apart, under
        (platform, number), and refused there alone."""
        from ecomsync.testing._erp_contract import make_order

        erp = MemoryErp(ErpSourceContract.seed.articles)
        before = make_order()
        woo = attrs.evolve(before, platform="woo")
        shop = attrs.evolve(
            before,
            platform="shop",
            customer=attrs.evolve(before.customer, first_name="Hans"),
            lines=before.lines[:1],
            total=before.lines[0].unit_price,
        )
        number, customer = before.number, before.customer.number
        async with erp.session() as session:
            outcomes = await session.import_orders([before, woo, shop, shop])
            erp.refuse_orders[("shop", number)] = "Kunde gesperrt"
            refused, kept = await session.import_orders([shop, woo])

        assert [f"SO-{number}", f"SO-{number}"] == [
            o.platform_id for o in outcomes[:2]
        ]
        assert [f"SO-shop-{number}"] * 2 == [
            o.platform_id for o in outcomes[2:]
        ]
        assert "woo" == erp.orders[number].platform
        assert shop == erp.orders[("shop", number)]
        assert "Hans" == erp.customers[("shop", customer)].first_name
        assert "Erika" == erp.customers[customer].first_name
        assert OrderState.OPEN is erp.order_states[("shop", number)]
        assert "Kunde gesperrt" == refused.error
        assert kept.ok

    @pytest.mark.anyio
    async def test_older_order_imported_late_leaves_the_newer_customer(
        self,
    ) -> None:
        """An order placed before the customer's newest one, imported
        after it, leaves the customer as the newest order has it (as
        `TrytonErp` leaves the party); before, the last import won."""
        from ecomsync.testing._erp_contract import make_order

        erp = MemoryErp(ErpSourceContract.seed.articles)
        newer = make_order()
        older = attrs.evolve(
            make_order(),
            customer=attrs.evolve(newer.customer, first_name="Hans"),
            ordered_at=newer.ordered_at - timedelta(days=1),
        )
        async with erp.session() as session:
            outcomes = await session.import_orders([newer, older])

        assert all(o.ok for o in outcomes), outcomes
        assert newer.customer == erp.customers[newer.customer.number]


class TestMemoryErpShopCustomers:
    @pytest.mark.anyio
    async def test_another_shop_customer_of_the_number_is_refused(
        self,
    ) -> None:
        """A new order whose customer holds the number of the ERP's
        customer made for another of the shop's customers
        (``Customer.platform_id``) fails on ``customer.number`` naming
        both, not booked onto that customer; the same customer's, one
        giving no id, and another platform's order are imported."""
        from ecomsync.testing._erp_contract import make_order

        erp = MemoryErp(ErpSourceContract.seed.articles)
        first = make_order(platform="shop")
        erika = attrs.evolve(first.customer, platform_id="id-erika")
        max_ = attrs.evolve(erika, first_name="Max", platform_id="id-max")
        orders = [
            attrs.evolve(first, customer=erika),
            attrs.evolve(make_order(platform="shop"), customer=max_),
            attrs.evolve(make_order(platform="shop"), customer=erika),
            attrs.evolve(
                make_order(platform="shop"),
                customer=attrs.evolve(max_, platform_id=None),
            ),
            attrs.evolve(make_order(platform="woo"), customer=max_),
        ]
        async with erp.session() as session:
            outcomes = await session.import_orders(orders)

        assert [True, False, True, True, True] == [o.ok for o in outcomes]
        assert "customer.number" == outcomes[1].field
        assert "id-erika" in str(outcomes[1].error)
        assert "id-max" in str(outcomes[1].error)
        assert orders[1].number not in erp.orders


class TestAdapterWithoutPlatform:
    @pytest.mark.anyio
    async def test_order_status_of_one_platform_skips(self) -> None:
        """An existing contract subclass over an adapter whose ``read``
        takes no ``platform`` skips the one-platform order status test
        naming the keyword (it failed with a TypeError), as the keyword
        is optional for adapters."""
        seed = ErpSourceContract.seed
        source: Any = Unnamed(
            MemoryErp(seed.records(), media=dict(seed.media))
        )

        with pytest.raises(pytest.skip.Exception, match="platform"):
            await TestMemoryErpContract().test_order_status_of_one_platform(
                source, "contract-a"
            )


class TestMemoryErpArticlesSold:
    @pytest.mark.anyio
    async def test_line_must_name_an_active_article_it_sells(self) -> None:
        """A new order's line naming an inactive article, or an article
        with variants instead of one of its variants, fails on that
        line's article_number (as in TrytonErp, which finds a line's
        product by its code among active products); a variant's number
        is sold."""
        from ecomsync import OrderLine
        from ecomsync.testing._erp_contract import make_order

        erp = _shirt_erp()
        tie = erp.get(DataType.ARTICLES, "A-1000")
        assert tie is not None
        erp.put(attrs.evolve(tie, active=False))

        def ordering(number: str) -> Any:
            line = OrderLine(
                article_number=number, name="x", quantity=1, unit_price=20
            )
            return make_order(lines=(line,), total=20)

        orders = [ordering(n) for n in ("A-1000", "A-100", "X-7")]
        async with erp.session() as session:
            outcomes = await session.import_orders(orders)

        assert [False, False, True] == [o.ok for o in outcomes], outcomes
        assert ["lines.0.article_number"] * 2 == [
            o.field for o in outcomes[:2]
        ]
        assert "'A-1000'" in str(outcomes[0].error)
        assert orders[0].number in str(outcomes[0].error)
        assert [orders[2].number] == list(erp.orders)
        assert {orders[2].customer.number} == set(erp.customers)

    @pytest.mark.anyio
    async def test_imported_order_of_a_removed_article_stays_imported(
        self,
    ) -> None:
        """An order imported before its article left the ERP is imported
        again (a retried run) and cancelled as before: only a new order
        needs its articles, as in TrytonErp, which finds the sale
        first."""
        from ecomsync.testing._erp_contract import STANDARD_SEED, make_order

        erp = MemoryErp(STANDARD_SEED.records())
        order = make_order()
        async with erp.session() as session:
            (first,) = await session.import_orders([order])
            erp.remove(DataType.ARTICLES, "A-2")
            again, cancelled = await session.import_orders(
                [order, attrs.evolve(order, state=OrderState.CANCELLED)]
            )

        assert [True] * 3 == [o.ok for o in (first, again, cancelled)]
        assert OrderState.CANCELLED is erp.order_states[order.number]
