"""
Re-created variants get their stock (`RestockContract`) against a live
Vendure: a variant the ERP dropped and gave back, or moved to another
article, is a new Vendure variant, which starts without stock.  Stock the
ERP has negative leaves Vendure selling nothing (`NegativeStockContract`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ecomsync import MemoryErp, Synchronizer

from .._negative_stock_contract import NegativeStockContract
from .._push import pushing
from .._restock_contract import RestockContract
from .test_vendure_lost import _gross_prices, _read
from .vendure_server import VendureServer


pytestmark = pytest.mark.vendure


class _OnVendure:
    """
    The engine over the live Vendure, and the stock it holds.
    """

    @pytest.fixture(name="emu")
    def _emu(self, vendure_server: VendureServer) -> Iterator[VendureServer]:
        # gross catalogue prices (9.99, 19.90 at 19 %) need a channel
        # whose prices include tax
        vendure_server.reset()
        _gross_prices(vendure_server, include=True)
        yield vendure_server
        vendure_server.reset()
        _gross_prices(vendure_server, include=False)

    @pytest.fixture(name="engine")
    async def _engine(
        self, emu: VendureServer, erp: MemoryErp, tmp_path: Path
    ) -> AsyncIterator[Synchronizer]:
        platform = emu.platform()
        async with pushing(platform, erp, tmp_path) as sync:
            yield sync

    def stock(self, emu: VendureServer, number: str) -> list[int]:
        data = _read(
            emu,
            "query ($s: String!) { productVariants(options: { filter: "
            "{ sku: { eq: $s } } }) { items { stockOnHand } } }",
            {"s": number},
        )
        return [v["stockOnHand"] for v in data["productVariants"]["items"]]


class TestRestock(_OnVendure, RestockContract):
    """
    The engine sends the stock of Vendure variants made anew.
    """


class TestNegativeStock(_OnVendure, NegativeStockContract):
    """
    Negative ERP stock leaves Vendure variants selling nothing.
    """
