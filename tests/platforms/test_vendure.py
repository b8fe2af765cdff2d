"""
The Vendure adapter against a live Vendure server (started by the
fixtures in `tests.platforms.vendure_server`): the platform contract,
end to end, credentials and stock.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    Only,
    OrderState,
    OrderStatus,
    Outgoing,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.events import RecordFailed
from ecomsync.exceptions import AuthenticationError
from ecomsync.platforms.vendure import Vendure
from ecomsync.testing._platform_contract import PlatformContract

from ._vendure_shop import (
    VendureHooks,
    _CountingTransport,
    _png,
    _shop_order,
)
from .vendure_server import VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


class TestVendureContract(VendureHooks, PlatformContract):
    """
    `Vendure` honours every clause of the platform contract.
    """


class TestEndToEnd:
    """
    MemoryErp -> Synchronizer -> Vendure, and orders back.
    """

    async def test_all_five_types_and_a_quiet_second_run(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        Catalogue, stock, a shop order and its shipment round-trip; a second
        run with no changes sends no write to Vendure.
        """
        erp = MemoryErp(
            [
                Category(number="100", name="Werkzeug"),
                Category(number="110", name="Bohrer", parent="100"),
                Article(
                    number="A-1",
                    name="Akkuschrauber",
                    price=Decimal("119.00"),
                    categories=("110",),
                    media=(
                        MediaRef(
                            key="img-1",
                            filename="schrauber.png",
                            mime_type="image/png",
                        ),
                    ),
                ),
                Article(
                    number="A-2",
                    name="Hammer",
                    price=Decimal("11.90"),
                    categories=("100",),
                ),
                StockLevel(number="A-1", quantity=10),
                StockLevel(number="A-2", quantity=4),
            ],
            media={"img-1": _png((200, 30, 30))},
        )
        transport = _CountingTransport()
        vendure = fresh_vendure.platform(transport=transport)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=erp,
            platforms={"vendure": vendure},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )
        catalogue = {
            DataType.CATEGORIES: All(),
            DataType.ARTICLES: All(),
            DataType.STOCK: All(),
        }

        async def run(types: dict[DataType, Any]) -> list[Any]:
            async with sync.run(SyncSpec(types=types)) as events:
                seen = [event async for event in events]
            failed = [e for e in seen if isinstance(e, RecordFailed)]
            assert not failed, failed
            return seen

        admin = fresh_vendure.admin()
        try:
            await run(catalogue)
            data = await admin.gql(
                "{ productVariants(options: { filter: "
                '{ sku: { eq: "A-1" } } })'
                " { items { id priceWithTax stockOnHand product "
                "{ featuredAsset { id } } } } }"
            )
            (variant,) = data["productVariants"]["items"]
            assert 11900 == variant["priceWithTax"]
            assert 10 == variant["stockOnHand"]
            assert variant["product"]["featuredAsset"] is not None

            code = await _shop_order(fresh_vendure.url, variant["id"])
            await run({DataType.ADDRESSES_AND_ORDERS: All()})
            assert code in erp.orders
            assert "max@example.com" == erp.orders[code].customer.email

            erp.put(
                OrderStatus(
                    number=code,
                    state=OrderState.SHIPPED,
                    tracking_numbers=("JJD0001",),
                )
            )
            await run({DataType.ORDER_STATUS: All()})
            data = await admin.gql(
                "query ($c: String!) { orders(options: { filter: "
                "{ code: { eq: $c } } }) { items { state fulfillments "
                "{ trackingCode } } } }",
                {"c": code},
            )
            (order,) = data["orders"]["items"]
            assert "Shipped" == order["state"]
            assert "JJD0001" == order["fulfillments"][0]["trackingCode"]

            before = transport.mutations
            await run(catalogue)
            assert before == transport.mutations
        finally:
            await admin.aclose()
            await vendure.aclose()
            await store.aclose()


class TestCredentials:
    """
    Credentials: both auth methods, never shown.
    """

    def test_repr_hides_credentials(self) -> None:
        """
        Neither the API key nor the password appears in a repr.
        """
        with_key = Vendure("http://127.0.0.1:1", api_key="sekrit-key")
        with_login = Vendure(
            "http://127.0.0.1:1", username="admin", password="sekrit-pw"
        )

        assert "sekrit" not in repr(with_key)
        assert "sekrit" not in repr(with_login)

    async def test_bearer_login_works(
        self, vendure_server: VendureServer
    ) -> None:
        """
        An administrator's username and password work instead of a key.
        """
        async with Vendure(
            vendure_server.url, username="superadmin", password="superadmin"
        ) as shop:
            batches = [
                b
                async for b in shop.fetch_orders(
                    Only({"NO-SUCH-ORDER"}), batch_size=10
                )
            ]

        assert [] == batches

    async def test_refused_key_stops_without_showing_it(
        self, vendure_server: VendureServer
    ) -> None:
        """
        A wrong API key raises AuthenticationError that does not name it.
        """
        async with Vendure(
            vendure_server.url, api_key="wrong-key-123"
        ) as shop:
            with pytest.raises(AuthenticationError) as caught:
                await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="X", quantity=1))],
                )

        assert "wrong-key-123" not in str(caught.value)


class TestStock:
    """
    Stock on hand allows for what open orders hold.
    """

    async def test_allocation_of_open_orders_is_added(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        With 2 units allocated to a paid order, ERP stock 8 becomes 10 on
        hand, so the shop still sells exactly 8.
        """
        async with fresh_vendure.platform() as shop:
            (made,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="S-1", name="S", price=10))],
            )
            (first,) = await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="S-1", quantity=10))],
            )
            await _shop_order(fresh_vendure.url, str(first.platform_id))
            (second,) = await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="S-1", quantity=8))],
            )
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(
                '{ productVariants(options: { filter: { sku: { eq: "S-1" } }'
                " }) { items { stockOnHand stockAllocated } } }"
            )
        finally:
            await admin.aclose()

        assert [True, True, True] == [made.ok, first.ok, second.ok]
        assert [{"stockOnHand": 10, "stockAllocated": 2}] == data[
            "productVariants"
        ]["items"]
