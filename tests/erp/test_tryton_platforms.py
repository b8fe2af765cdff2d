"""
Two platforms on one live Tryton: their orders and customers with the
same numbers are two sales and two parties, through the engine, and
sales and parties made before imports named the platform keep matching;
one platform's two customers with one number are not one party.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from ecomsync import (
    DataType,
    MemoryPlatform,
    Only,
    Order,
    OrderState,
    OrderStatus,
    RecordFailed,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.erp._tryton_orders import OrderImporter
from ecomsync.erp._tryton_sales import (
    ADDRESSES_MARK,
    MARK_FIELDS,
    SaleRejected,
    sale_marks,
)
from ecomsync.erp._tryton_shop_order import ORDER_MARK
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing import capture_events
from ecomsync.testing._erp_contract import (
    IMPORT_PREFIX,
    make_order,
)

from .conftest import seeded_erp, start_tryton, stop_tryton, twin_sale


pytestmark = [pytest.mark.anyio, pytest.mark.tryton]

ORDERS = DataType.ADDRESSES_AND_ORDERS
STATUS = DataType.ORDER_STATUS


@pytest.fixture(name="tryton", scope="module")
def _own_tryton(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrytonErp]:
    """
    A Tryton of this module's own, seeded as the contract's: the sales
    these tests leave open hold goods, which the contract's stock test
    on the shared server counted when this module ran first.
    """
    directory = tmp_path_factory.mktemp("tryton-platforms")
    info = start_tryton(directory)
    try:
        yield seeded_erp(info)
    finally:
        stop_tryton(directory)


def _twins() -> tuple[Order, Order]:
    """
    Order "1001…" of customer "1…" on two shops: other people, other
    articles.  Numbered as the contract's imports are, which its order
    status reads of the shared server leave out.
    """
    tag = uuid.uuid4().hex[:8]
    woo = make_order(number=f"{IMPORT_PREFIX}1001-{tag}")
    woo = attrs.evolve(
        woo, customer=attrs.evolve(woo.customer, number=f"1-{tag}")
    )
    shop = attrs.evolve(
        woo,
        customer=attrs.evolve(
            woo.customer, first_name="Hans", email=f"hans-{tag}@example.com"
        ),
        lines=woo.lines[:1],
        total=Decimal("89.90"),
    )
    return woo, shop


async def _sales(erp: TrytonErp, number: str) -> list[dict[str, Any]]:
    async with erp.session() as session:
        return await session.rpc.search_read(
            "sale.sale",
            [["reference", "=", number]],
            ["party", "state", "lines", *MARK_FIELDS],
            order=[["id", "ASC"]],
        )


def _marks(sale: dict[str, Any]) -> list[str]:
    """The marks of *sale* but the digests of what the shop sent."""
    return [
        line
        for line in sale_marks(sale).splitlines()
        if not line.startswith((ADDRESSES_MARK, ORDER_MARK))
    ]


async def _codes(erp: TrytonErp, party: int) -> list[str]:
    async with erp.session() as session:
        rows = await session.rpc.search_read(
            "party.identifier", [["party", "=", party]], ["code"]
        )
    return [row["code"] for row in rows]


async def _merchants_party(erp: TrytonErp, code: str) -> int:
    """A party the merchant keeps *code* on, as an untyped identifier."""
    async with erp.session() as session:
        (party,) = await session.rpc.model(
            "party.party",
            "create",
            [
                {
                    "name": "Someone Else",
                    "identifiers": [["create", [{"code": code}]]],
                }
            ],
        )
    return int(party)


class TestTwoPlatforms:
    async def test_same_numbers_stay_apart(
        self, tryton: TrytonErp, tmp_path: Path
    ) -> None:
        """Order "1001" of customer "1" on two platforms (B's cancelled in
        the shop): two sales, two parties, each sale marked with its
        platform; imported again, both are unchanged (A's not "edited in
        the shop", nor cancelled by B); each platform gets its own
        order's status."""
        woo_order, shop_order = _twins()
        shop_order = attrs.evolve(shop_order, state=OrderState.CANCELLED)
        woo, shop = MemoryPlatform(), MemoryPlatform()
        woo.place_order(woo_order)
        shop.place_order(shop_order)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=tryton, platforms={"woo": woo, "shop": shop}, store=store
        )
        number = woo_order.number

        async def run(platform: str, data_type: DataType) -> Any:
            spec = SyncSpec(
                types={data_type: Only([number])},
                platform=platform,
                force=True,
            )
            async with capture_events(sync, spec) as run:
                pass
            return run

        try:
            runs = [await run("woo", ORDERS), await run("shop", ORDERS)]
            runs += [await run("woo", ORDERS), await run("shop", ORDERS)]
            sales = await _sales(tryton, number)
            runs += [await run("woo", STATUS), await run("shop", STATUS)]
        finally:
            await store.aclose()

        assert [] == [e for r in runs for e in r.of(RecordFailed)]
        assert 2 == len(sales), sales
        assert sales[0]["party"] != sales[1]["party"]
        assert [1, 2] == sorted(len(s["lines"]) for s in sales)
        assert ['Platform (ecomsync): "woo"'] == _marks(sales[0])
        assert ['Platform (ecomsync): "shop"'] == _marks(sales[1])
        assert ["processing", "cancelled"] == [s["state"] for s in sales]
        codes = [await _codes(tryton, s["party"]) for s in sales]
        customer = woo_order.customer.number
        assert [[f"woo:{customer}"], [f"shop:{customer}"]] == codes
        pushed_woo = woo.held(STATUS)[number]
        pushed_shop = shop.held(STATUS)[number]
        assert isinstance(pushed_woo, OrderStatus)
        assert isinstance(pushed_shop, OrderStatus)
        assert OrderState.IN_PROGRESS is pushed_woo.state
        assert OrderState.CANCELLED is pushed_shop.state

    async def test_sale_and_party_from_before_are_kept_and_marked(
        self, tryton: TrytonErp
    ) -> None:
        """A sale and party imported for an order naming no platform
        are the order's and customer's when their platform imports them
        again (no second sale or party after an upgrade), and are marked
        as that platform's, a cancelled twin sale of the order too;
        another platform's order with that number then gets its own sale
        and party (not the twin)."""
        before, shop_order = _twins()
        woo_order = attrs.evolve(before, platform="woo")
        shop_order = attrs.evolve(shop_order, platform="shop")

        async with tryton.session() as session:
            (old,) = await session.import_orders([before])
            twin = await twin_sale(
                session.rpc, int(old.platform_id or 0), before.number
            )
            await session.rpc.model("sale.sale", "cancel", [twin])
            old_sales = await _sales(tryton, before.number)
            (again,) = await session.import_orders([woo_order])
            (other,) = await session.import_orders([shop_order])
            statuses = [
                s
                async for batch in session.read(
                    STATUS, Only([before.number]), batch_size=5
                )
                for s in batch
            ]
        sales = await _sales(tryton, before.number)

        assert (None, None) == (old.error, again.error)
        assert None is other.error
        assert [["Imported (ecomsync)"]] * 2 == [_marks(s) for s in old_sales]
        assert old.platform_id == again.platform_id
        assert other.platform_id not in (old.platform_id, str(twin))
        assert 3 == len(sales)
        assert [['Platform (ecomsync): "woo"']] * 2 == [
            _marks(s) for s in sales[:2]
        ]
        assert sales[0]["party"] == old_sales[0]["party"]
        assert sales[2]["party"] != sales[0]["party"]
        customer = before.customer.number
        assert [f"woo:{customer}"] == await _codes(tryton, sales[0]["party"])
        # the cancelled twin is read as well, as it always was
        assert ["shop", "woo", "woo"] == sorted(
            str(s.platform) for s in statuses if isinstance(s, OrderStatus)
        )


class TestSalesOfOthers:
    async def test_sale_not_imported_is_neither_read_nor_taken(
        self, tryton: TrytonErp
    ) -> None:
        """A sale ecomsync did not import (made by hand for a customer of
        the merchant's, its customer's PO number in ``reference`` equal to
        a shop's order number) is not read as that order's status, for
        any platform or none, and is not taken as the order's sale when
        the order is imported: it gets its own sale.  (A sale without
        marks on the shop customer's own party is the order's: its marks
        were deleted, test_tryton_reimport.py.)"""
        order, _ = _twins()
        order = attrs.evolve(order, platform="woo")
        manual_number = f"{order.number}-po"
        async with tryton.session() as session:
            (ours,) = await session.import_orders([order])
            (theirs,) = await session.rpc.model(
                "party.party",
                "create",
                [
                    {
                        "name": "A Customer Of The Merchant's",
                        "addresses": [["create", [{"street": "Hofweg 1"}]]],
                    }
                ],
            )
            (party,) = await session.rpc.read(
                "party.party", [theirs], ["addresses"]
            )
            (address,) = party["addresses"]
            (manual,) = await session.rpc.model(
                "sale.sale",
                "copy",
                [int(ours.platform_id or 0)],
                {
                    "reference": manual_number,
                    "comment": None,
                    "party": theirs,
                    "invoice_address": address,
                    "shipment_address": address,
                },
            )
            await session.rpc.model("sale.sale", "quote", [manual])
            read = {
                platform: [
                    s
                    async for batch in session.read(
                        STATUS,
                        Only([manual_number]),
                        batch_size=5,
                        platform=platform,
                    )
                    for s in batch
                ]
                for platform in ("woo", None)
            }
            counted = await session.count(
                STATUS, Only([manual_number]), platform="woo"
            )
            (imported,) = await session.import_orders(
                [attrs.evolve(order, number=manual_number)]
            )
            # hold no goods of the shared server's articles
            made = [int(ours.platform_id or 0), int(imported.platform_id or 0)]
            rows = await session.rpc.read("sale.sale", made, ["shipments"])
            await session.rpc.model(
                "stock.shipment.out",
                "cancel",
                [s for row in rows for s in row["shipments"]],
            )
            await session.rpc.model("sale.sale", "cancel", [manual])

        assert {"woo": [], None: []} == read
        assert 0 == counted
        assert None is imported.error
        assert imported.platform_id not in (None, str(manual))

    async def test_party_not_imported_is_not_taken(
        self, tryton: TrytonErp
    ) -> None:
        """A party the merchant keeps a number of their own on (an
        identifier without type from an older system, equal to a shop's
        customer number) is not taken as that shop customer's party: the
        order gets a party of its own, and the merchant's identifier
        stays as it was."""
        order, _ = _twins()
        order = attrs.evolve(order, platform="woo")
        number = order.customer.number
        theirs = await _merchants_party(tryton, number)
        async with tryton.session() as session:
            (imported,) = await session.import_orders([order])
            (sale,) = await session.rpc.read(
                "sale.sale", [int(imported.platform_id or 0)], ["party"]
            )

        assert None is imported.error
        assert theirs != sale["party"]
        assert [number] == await _codes(tryton, theirs)
        assert [f"woo:{number}"] == await _codes(tryton, sale["party"])

    async def test_party_not_imported_is_not_taken_by_a_direct_import(
        self, tryton: TrytonErp
    ) -> None:
        """An order imported outside the engine (no platform, as a host
        calling ``import_orders`` may) does not take the party the
        merchant keeps the customer's number on either: it gets a party
        of its own, which the customer's next order takes again."""
        order, _ = _twins()
        order = attrs.evolve(order, platform=None)
        later = attrs.evolve(order, number=f"{order.number}-2")
        number = order.customer.number
        theirs = await _merchants_party(tryton, number)
        async with tryton.session() as session:
            (imported,) = await session.import_orders([order])
            (again,) = await session.import_orders([later])
            sales = await session.rpc.read(
                "sale.sale",
                [int(imported.platform_id or 0), int(again.platform_id or 0)],
                ["party"],
            )

        assert (None, None) == (imported.error, again.error)
        assert theirs != sales[0]["party"]
        assert sales[0]["party"] == sales[1]["party"]
        assert [number] == await _codes(tryton, theirs)

    async def test_failed_first_import_leaves_no_party(
        self, tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The first order of a new customer that fails (an article
        Tryton does not have; a sale that does not come to the order's
        total) leaves no party behind: retried, it makes no second one,
        and once it goes through the customer has one."""
        order, _ = _twins()
        order = attrs.evolve(order, platform=None)
        unknown = attrs.evolve(order.lines[0], article_number="NO-SUCH")
        bad = attrs.evolve(order, lines=(unknown, *order.lines[1:]))
        number = order.customer.number

        async def taxed(*_: object) -> None:  # a module adding taxes
            raise SaleRejected("Tryton's sale comes to more", "total")

        async with tryton.session() as session:
            failed = await session.import_orders([bad, bad])
            with monkeypatch.context() as patched:
                patched.setattr(OrderImporter, "_check_total", taxed)
                failed += await session.import_orders([order, order])
            made = await session.rpc.search_read(
                "party.identifier", [["code", "=", number]], ["party"]
            )
            (imported,) = await session.import_orders([order])
            after = await session.rpc.search_read(
                "party.identifier", [["code", "=", number]], ["party"]
            )

        assert ["lines.0.article_number"] * 2 + ["total"] * 2 == [
            o.field for o in failed
        ]
        assert [] == made
        assert None is imported.error
        assert 1 == len(after)


def _shop_customers() -> tuple[Order, Order, Order]:
    """
    Orders of Shopware customers Erika, Max (given Erika's customer
    number by hand) and Erika again, each customer with its id.
    """
    tag = uuid.uuid4().hex[:8]
    erika = attrs.evolve(
        make_order().customer, number=f"K-{tag}", platform_id=f"erika-{tag}"
    )
    max_ = attrs.evolve(
        erika,
        first_name="Max",
        email=f"max-{tag}@example.com",
        platform_id=f"max-{tag}",
    )
    first, second, third = (
        attrs.evolve(
            make_order(number=f"{IMPORT_PREFIX}sw-{tag}-{n}", platform="sw"),
            customer=customer,
        )
        for n, customer in ((1, erika), (2, max_), (3, erika))
    )
    return first, second, third


class TestShopCustomersOfOneNumber:
    async def test_another_customer_is_not_booked_on_the_party(
        self, tryton: TrytonErp
    ) -> None:
        """A new order of a Shopware customer holding the number of a
        party made for another customer of the shop (its id kept as an
        identifier) fails on ``customer.number`` naming both ids and
        makes no sale; the first customer's next order is booked on its
        party."""
        erika, max_, again = _shop_customers()

        async with tryton.session() as session:
            outcomes = await session.import_orders([erika, max_, again])
        sales = [await _sales(tryton, o.number) for o in (erika, max_, again)]

        assert [None, "customer.number", None] == [o.field for o in outcomes]
        assert str(erika.customer.platform_id) in str(outcomes[1].error)
        assert str(max_.customer.platform_id) in str(outcomes[1].error)
        assert [1, 0, 1] == [len(s) for s in sales]
        assert sales[0][0]["party"] == sales[2][0]["party"]
        assert [
            f"sw:{erika.customer.number}",
            f"sw\\id:{erika.customer.platform_id}",
        ] == await _codes(tryton, sales[0][0]["party"])

    async def test_a_party_from_before_takes_the_first_id(
        self, tryton: TrytonErp
    ) -> None:
        """A party made before ecomsync kept the shop's ids is given the
        id of the next customer booked on it; another customer's order
        with its number then fails on ``customer.number``."""
        erika, max_, again = _shop_customers()
        unknown = attrs.evolve(
            erika, customer=attrs.evolve(erika.customer, platform_id=None)
        )

        async with tryton.session() as session:
            outcomes = await session.import_orders([unknown, again, max_])
        (sale,) = await _sales(tryton, unknown.number)

        assert [None, None, "customer.number"] == [o.field for o in outcomes]
        assert [
            f"sw:{erika.customer.number}",
            f"sw\\id:{erika.customer.platform_id}",
        ] == await _codes(tryton, sale["party"])

    async def test_a_refused_order_gives_a_party_from_before_no_id(
        self, tryton: TrytonErp
    ) -> None:
        """An order refused after its party was found (a country Tryton
        does not know) leaves a party made before ecomsync kept the
        shop's ids without its customer's id: the next customer booked
        on it takes it, and that customer's order goes in."""
        erika, max_, again = _shop_customers()
        unknown = attrs.evolve(
            erika, customer=attrs.evolve(erika.customer, platform_id=None)
        )
        nowhere = attrs.evolve(
            max_, billing=attrs.evolve(max_.billing, country="XX")
        )

        async with tryton.session() as session:
            outcomes = await session.import_orders([unknown, nowhere, again])
        sales = [
            await _sales(tryton, o.number) for o in (unknown, nowhere, again)
        ]

        assert [None, "billing.country", None] == [o.field for o in outcomes]
        assert [1, 0, 1] == [len(s) for s in sales]
        assert sales[0][0]["party"] == sales[2][0]["party"]
        assert [
            f"sw:{erika.customer.number}",
            f"sw\\id:{erika.customer.platform_id}",
        ] == await _codes(tryton, sales[0][0]["party"])
