"""
Shopware 6 customers sharing a customer number (Shopware keeps
``customer.customer_number`` without a unique index; a number set by
hand or imported from another system): the ERP finds a customer by its
number, so an order of one is never booked onto the other's customer.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ecomsync import All, DataType, MemoryErp, Only, RunStatus, SyncSpec
from ecomsync.platforms.shopware6 import _order_read
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import pushing, shopware6
from ._shopware6 import SECRET


pytestmark = pytest.mark.anyio

ORDERS = DataType.ADDRESSES_AND_ORDERS
IMPORT = SyncSpec(types={ORDERS: All()})
ERIKA = {
    "email": "erika@example.com",
    "firstName": "Erika",
    "lastName": "Mustermann",
    "customerNumber": "K-7",
}
#: Another customer, given Erika's number by hand.
MAX = {
    "email": "max@example.com",
    "firstName": "Max",
    "lastName": "Muster",
    "customerNumber": "K-7",
}


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIACUSTNUM", client_secret=SECRET)


def _place(
    emu: ShopwareEmulator, number: str, customer: dict[str, Any], minute: int
) -> str:
    return emu.place_order(
        order_number=number,
        customer=customer,
        lines=[{"productNumber": "A-1", "quantity": 1, "unitPrice": 9}],
        created_at=emu.now() + timedelta(minutes=minute),
    )


def _customer_id(emu: ShopwareEmulator, email: str) -> str:
    (found,) = emu.store.find("customer", "email", email)
    return str(found)


def _failures(record: Any) -> list[tuple[str, str | None]]:
    return sorted((f.number, f.field) for f in record.failures)


async def _import(
    emu: ShopwareEmulator,
    erp: MemoryErp,
    tmp_path: Path,
    page: int = 100,
    spec: SyncSpec = IMPORT,
) -> Any:
    async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
        sync.order_page_size = page
        return await sync.execute(spec)


def _only(*numbers: str) -> SyncSpec:
    return SyncSpec(types={ORDERS: Only(numbers)})


class TestSharedCustomerNumber:
    async def test_two_customers_of_one_page_neither_booked(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        Orders of two customers holding one number, on one page: each
        fails on ``customer.number`` naming both customers; neither
        reaches the ERP (neither customer's orders on the other's).
        """
        _place(emu, "6001", ERIKA, 1)
        _place(emu, "6002", MAX, 2)
        _place(
            emu,
            "6003",
            {**ERIKA, "email": "o@x.test", "customerNumber": "K-8"},
            3,
        )

        record = await _import(emu, erp, tmp_path)

        assert [("6001", "customer.number"), ("6002", "customer.number")] == (
            _failures(record)
        )
        for failure in record.failures:
            assert _customer_id(emu, ERIKA["email"]) in failure.message
            assert _customer_id(emu, MAX["email"]) in failure.message
            assert "K-7" in failure.message
        assert "6001" not in erp.orders
        assert "6002" not in erp.orders
        assert "6003" in erp.orders

    async def test_a_later_page_is_not_booked_on_the_first_customer(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        One order a page: the other customer's order with the number of
        one already read fails on ``customer.number``, not booked onto
        the first customer's ERP customer.
        """
        _place(emu, "6011", ERIKA, 1)
        _place(emu, "6012", MAX, 2)

        record = await _import(emu, erp, tmp_path, page=1)

        assert ("6012", "customer.number") in _failures(record)
        assert "6012" not in erp.orders
        assert all(c.email != MAX["email"] for c in erp.customers.values())

    async def test_a_later_run_is_not_booked_on_the_first_customer(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        The other customer's order with the number, placed after the
        first customer's order was imported (a later run), fails on
        ``customer.number`` naming both customers, not booked onto the
        first customer's ERP customer; the first one's next order is
        imported.
        """
        _place(emu, "6031", ERIKA, 1)
        first = await _import(emu, erp, tmp_path)
        _place(emu, "6032", MAX, 2)
        _place(emu, "6033", ERIKA, 3)

        record = await _import(emu, erp, tmp_path, spec=_only("6032"))
        again = await _import(emu, erp, tmp_path, spec=_only("6033"))

        assert RunStatus.SUCCEEDED is first.status, first.failures
        assert [("6032", "customer.number")] == _failures(record)
        (failure,) = record.failures
        assert _customer_id(emu, ERIKA["email"]) in failure.message
        assert _customer_id(emu, MAX["email"]) in failure.message
        assert "K-7" in failure.message
        assert "6032" not in erp.orders
        assert all(c.email != MAX["email"] for c in erp.customers.values())
        assert RunStatus.SUCCEEDED is again.status, again.failures
        assert "6033" in erp.orders

    async def test_one_customer_ordering_again_is_not_refused(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        Two orders of one customer (one customer id) share its number
        as they should: both are imported.
        """
        _place(emu, "6021", ERIKA, 1)
        _place(emu, "6022", ERIKA, 2)

        record = await _import(emu, erp, tmp_path, page=1)

        assert RunStatus.SUCCEEDED is record.status, record.failures
        assert {"6021", "6022"} <= set(erp.orders)


class TestRememberedCustomers:
    def test_a_read_remembers_a_bounded_number_of_customers(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """
        A read remembers at most `REMEMBERED_CUSTOMERS` customer numbers
        (the oldest forgotten), so a read of a million orders does not
        grow with them; a number two customers hold stays known.
        """
        monkeypatch.setattr(_order_read, "REMEMBERED_CUSTOMERS", 3)
        customers = _order_read._Customers()
        customers.note("K-0", "a")
        customers.note("K-0", "b")
        for n in range(1, 10):
            customers.note(f"K-{n}", f"id-{n}")

        assert ["K-7", "K-8", "K-9"] == list(customers.first)
        assert {"K-0": {"a", "b"}} == customers.shared
