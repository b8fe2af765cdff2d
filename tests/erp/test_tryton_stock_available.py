"""
Available stock read from a live Tryton (the traps server): summed or per
warehouse, by article number, held by open orders, in the product's unit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    Only,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.exceptions import (
    ConfigurationError,
)
from ecomsync.testing._tryton_seed import (
    TRAP_STOCK,
    TRAP_STOCK_PER_WAREHOUSE,
    sell,
    set_stock,
    storage_location,
)

from ._tryton import (
    _drop_code,
    _levels,
    _read,
    traps_erp,
)
from .conftest import (
    flour,
    make_erp,
)


pytestmark = pytest.mark.tryton

_traps = traps_erp


class TestStockAvailable:
    """
    Stock is available to sell: on hand minus what open orders hold.
    """

    @pytest.mark.anyio
    async def test_summed_over_warehouses(self, traps: TrytonErp) -> None:
        """By default one level per article: both warehouses summed, less
        waiting and assigned shipments; shipped goods are gone."""
        got = await _read(traps, DataType.STOCK, All())

        assert TRAP_STOCK == _levels(got)

    @pytest.mark.anyio
    async def test_only_by_article_number(self, traps: TrytonErp) -> None:
        """Only() with a template's number selects its variants' levels."""
        got = await _read(traps, DataType.STOCK, Only(["SHIRT", "Z-1"]))

        assert {
            n: TRAP_STOCK[n] for n in ("SHIRT-M", "SHIRT-S", "Z-1")
        } == _levels(got)

    @pytest.mark.anyio
    async def test_only_by_derived_article_number(
        self, traps: TrytonErp
    ) -> None:
        """Only() with the number of an article whose template has no code
        (its variants' prefix, "SOCK") selects its variants' levels, as
        it selects the article: "sync this article" synced no stock."""
        got = await _read(traps, DataType.STOCK, Only(["SOCK"]))

        assert {
            n: TRAP_STOCK[n] for n in ("SOCK-BLUE", "SOCK-RED")
        } == _levels(got)

    @pytest.mark.anyio
    async def test_per_warehouse(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """With stock_per_warehouse, one level per warehouse code."""
        erp = make_erp(traps_server, stock_per_warehouse=True)

        got = await _read(erp, DataType.STOCK, All())

        assert TRAP_STOCK_PER_WAREHOUSE == _levels(got)

    @pytest.mark.anyio
    async def test_chosen_warehouses(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """stock_warehouses picks which warehouses count."""
        erp = make_erp(traps_server, stock_warehouses=["WH2"])

        got = await _read(erp, DataType.STOCK, Only(["SHIRT-S", "SHIRT-M"]))

        assert {"SHIRT-M": 0, "SHIRT-S": 5} == _levels(got)

    @pytest.mark.anyio
    async def test_unknown_warehouse_named(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """An unknown warehouse code is a ConfigurationError naming it and
        the codes Tryton has."""
        erp = make_erp(traps_server, stock_warehouses=("WH2", "NOPE"))

        with pytest.raises(ConfigurationError) as info:
            await _read(erp, DataType.STOCK, All())

        assert "'NOPE'" in str(info.value)
        assert "'WH2'" in str(info.value)

    @pytest.mark.anyio
    async def test_renumbered_product_is_a_stock_change(
        self, traps: TrytonErp
    ) -> None:
        """A product whose code changed (or that got one) since the moment
        is read by ChangedSince with its stock, though no stock moved: the
        article under its new number reached the shop without stock."""
        async with traps.session() as session:
            rpc = session.rpc
            unit = await rpc.model(
                "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
            )
            (template,) = await rpc.model(
                "product.template",
                "create",
                [
                    {
                        "name": "Renumbered",
                        "type": "goods",
                        "default_uom": unit[0],
                        "list_price": Decimal(1),
                        "products": [["create", [{"suffix_code": "RN-1"}]]],
                    }
                ],
            )
            (product,) = await rpc.model(
                "product.product", "search", [["template", "=", template]]
            )
            await set_stock(rpc, await storage_location(rpc), {product: 4})
            await anyio.sleep(0.01)
            moment = datetime.now(UTC)
            await rpc.model(
                "product.product", "write", [product], {"suffix_code": "RN-2"}
            )
        try:
            changed = await _read(traps, DataType.STOCK, ChangedSince(moment))
        finally:
            await _drop_code(traps, product)

        assert {"RN-2": 4} == _levels(changed)

    @pytest.mark.anyio
    async def test_weighed_goods_held_in_another_unit(
        self, traps: TrytonErp
    ) -> None:
        """Goods kept in kg and sold in g: 2.5 kg on hand less 750 g on
        a waiting shipment is 1.75 kg available, 1 rounded down; sold
        past what is on hand, the level is negative (rounded down)."""
        async with traps.session() as session:
            rpc = session.rpc
            product = await flour(rpc, "KG-1")
            await sell(rpc, product, 750, unit="g")
        try:
            held = await _read(traps, DataType.STOCK, Only(["KG-1"]))
            async with traps.session() as session:
                await sell(session.rpc, product, 2000, unit="g")
            oversold = await _read(traps, DataType.STOCK, Only(["KG-1"]))
        finally:
            await _drop_code(traps, product)

        assert ({"KG-1": 1}, {"KG-1": -1}) == (
            _levels(held),
            _levels(oversold),
        )

    @pytest.mark.anyio
    async def test_a_new_order_holds_stock(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """A sale confirmed after the moment is found as a stock change and
        holds its units; cancelling its shipment frees them again."""
        products = traps_server["products"]
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        async with traps.session() as session:
            sale = await sell(session.rpc, products["SHIRT-S"], 2)

        changed = await _read(traps, DataType.STOCK, ChangedSince(moment))

        async with traps.session() as session:
            (row,) = await session.rpc.read("sale.sale", [sale], ["shipments"])
            await session.rpc.model(
                "stock.shipment.out", "cancel", row["shipments"]
            )
        after = await _read(traps, DataType.STOCK, Only(["SHIRT-S"]))

        assert {"SHIRT-S": TRAP_STOCK["SHIRT-S"] - 2} == _levels(changed)
        assert {"SHIRT-S": TRAP_STOCK["SHIRT-S"]} == _levels(after)
