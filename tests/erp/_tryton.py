"""
Helpers of the live Tryton tests: reads, sale marks, shipping a sale, stock
levels, the traps server's ERP.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecomsync import (
    DataType,
)
from ecomsync._spec import Selection
from ecomsync.erp._tryton_sales import (
    ADDRESSES_MARK,
    sale_marks,
)
from ecomsync.erp._tryton_shop_order import ORDER_MARK
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._tryton_seed import (
    set_stock,
)
from ecomsync.typing import ErpSource

from .conftest import (
    make_erp,
)


def _marks(sale: dict[str, Any]) -> list[str]:
    """The marks of *sale* (read with `MARK_FIELDS`) but the digests of
    what the shop sent."""
    return [
        line
        for line in sale_marks(sale).splitlines()
        if not line.startswith((ADDRESSES_MARK, ORDER_MARK))
    ]


def _erp(source: ErpSource) -> TrytonErp:
    assert isinstance(source, TrytonErp)
    return source


async def ship_sale(rpc: Any, order_number: str) -> None:
    """
    Send the customer shipments of the sale of *order_number*: reserve,
    pack, done (the warehouse's work in Tryton).
    """
    (row,) = await rpc.search_read(
        "sale.sale", [["reference", "=", order_number]], ["shipments"]
    )
    shipments = row["shipments"]
    assert shipments, row
    for shipment in await rpc.read(
        "stock.shipment.out",
        shipments,
        ["warehouse_storage", "warehouse_output", "inventory_moves"],
    ):
        # what the shipment takes arrives first, so the stock on hand
        # is what it was once the goods left (other tests count it)
        storage = shipment["warehouse_storage"]
        moves = await rpc.read(
            "stock.move",
            shipment["inventory_moves"],
            ["product", "quantity"],
        )
        wanted = {m["product"]: m["quantity"] for m in moves}
        held = await rpc.read(
            "product.product",
            list(wanted),
            ["quantity"],
            context={"locations": [storage]},
        )
        await set_stock(
            rpc,
            storage,
            {p["id"]: p["quantity"] + wanted[p["id"]] for p in held},
        )
        await rpc.model("stock.shipment.out", "assign_try", [shipment["id"]])
        (state,) = await rpc.read(
            "stock.shipment.out", [shipment["id"]], ["state"]
        )
        assert "assigned" == state["state"], state
        steps = ["pack", "do"]
        if shipment["warehouse_storage"] != shipment["warehouse_output"]:
            steps.insert(0, "pick")
        for step in steps:
            await rpc.model("stock.shipment.out", step, [shipment["id"]])


@pytest.fixture(name="traps")
def traps_erp(traps_server: dict[str, Any]) -> TrytonErp:
    return make_erp(traps_server)


async def _read(
    erp: TrytonErp, data_type: DataType, selection: Selection
) -> list[Any]:
    async with erp.session() as session:
        return [
            record
            async for batch in session.read(data_type, selection, batch_size=3)
            for record in batch
        ]


async def _drop_code(erp: TrytonErp, product: int) -> None:
    """Clear the code a test gave *product*, so that the reads of later
    tests on the shared server do not meet it."""
    async with erp.session() as session:
        await session.rpc.model(
            "product.product", "write", [product], {"suffix_code": None}
        )


def _levels(records: list[Any]) -> dict[Any, int]:
    return {
        (s.number, s.warehouse) if s.warehouse else s.number: s.quantity
        for s in records
    }
