"""
The Shopware 6 adapter against the Shopware emulator: the platform contract
(in process through ``httpx.ASGITransport``) and a whole run over loopback.
Writes, reliability under faults and order pages have their own files
(test_shopware6_writes, test_shopware6_reliability,
test_shopware6_order_pages).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    Order,
    OrderState,
    OrderStatus,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import sw_id
from ecomsync.platforms.shopware6._order_mapping import (
    order_state,
)
from ecomsync.testing import capture_events, demo_erp
from ecomsync.testing._platform_contract import (
    PlatformContract,
)
from ecomsync.testing.shopware6 import ShopwareEmulator, serve

from .._retries import fast_retries
from ._shopware6 import SECRET
from ._shopware6_adapter import (
    _number_of_category,
    _products,
    _shop,
    _state,
)


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


class TestShopware6Contract(PlatformContract):
    """
    Shopware6 against the emulator honours the platform contract.
    """

    @pytest.fixture(name="platform")
    async def _platform(self) -> AsyncIterator[Shopware6]:
        self.emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        shop = _shop(self.emu)
        yield shop
        await shop.aclose()

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        self.emu.place(order, created_at=changed_at)

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        emu = self.emu
        if data_type is DataType.CATEGORIES:
            row = emu.entities["category"].get(sw_id("category", number))
            if row is None:
                return None
            return {
                "name": row["name"],
                "parent": _number_of_category(emu, row.get("parentId")),
            }
        if data_type is DataType.ORDER_STATUS:
            orders = [
                o
                for o in emu.entities["order"].values()
                if o["orderNumber"] == number
            ]
            if not orders:
                return None
            (order,) = orders
            (delivery,) = [
                d
                for d in emu.entities["order_delivery"].values()
                if d["orderId"] == order["id"]
            ]
            return {
                "state": order_state(
                    _state(emu, order), _state(emu, delivery)
                ),
                "tracking_numbers": set(delivery.get("trackingCodes") or []),
            }
        pid = sw_id("product", number)
        product = emu.entities["product"].get(pid)
        if product is None:
            return None
        if data_type is DataType.STOCK:
            return {"quantity": product["stock"]}
        links = sorted(
            (
                m
                for m in emu.entities["product_media"].values()
                if m["productId"] == pid
            ),
            key=lambda m: m.get("position") or 0,
        )
        cover = emu.entities["product_media"].get(product.get("coverId") or "")
        documents = (product.get("customFields") or {}).get(
            "ecomsync_documents", []
        )
        return {
            "name": product["name"],
            "price": Decimal(str(product["price"][0]["gross"])),
            "categories": {
                _number_of_category(emu, m["categoryId"])
                for m in emu.entities["product_category"].values()
                if m["productId"] == pid
            },
            "variants": {
                p["productNumber"]
                for p in emu.entities["product"].values()
                if p.get("parentId") == pid
            },
            "media": [m["mediaId"] for m in links] + list(documents),
            "cover": None if cover is None else cover["mediaId"],
        }

    async def count(self, platform: Any, data_type: DataType) -> int:
        entity = {
            DataType.CATEGORIES: "category",
            DataType.ARTICLES: "product",
            DataType.STOCK: "product",
            DataType.ORDER_STATUS: "order",
        }[data_type]
        return len(self.emu.entities[entity])

    async def media_count(self, platform: Any) -> int:
        return len(self.emu.media_files)


class TestEndToEnd:
    async def test_all_five_types_on_loopback(self, tmp_path: Path) -> None:
        """
        A run of all five types against the emulator served on loopback
        succeeds and leaves the shop and the ERP in step.
        """
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        erp = demo_erp(articles=40, categories=8, image_bytes=256)
        for n in (1, 2, 3):
            emu.place_order(
                order_number=f"3000{n}",
                lines=[
                    {
                        "productNumber": f"A-0000{n}",
                        "quantity": 1,
                        "unitPrice": 9.99,
                    }
                ],
            )
            erp.put(
                OrderStatus(
                    number=f"3000{n}",
                    state=OrderState.SHIPPED,
                    tracking_numbers=(f"T-{n}",),
                )
            )
        with serve(emu) as url:
            shop = Shopware6(url, emu.client_id, SECRET)
            store = SqliteStore(tmp_path / "state.db")
            sync = Synchronizer(
                erp=erp,
                platforms={"shop": shop},
                store=store,
                staging=MediaStaging(tmp_path / "staging"),
                license_timeout=5.0,
            )
            spec = SyncSpec(types={t: All() for t in DataType})
            with anyio.fail_after(120):
                async with capture_events(sync, spec) as run:
                    pass
            await shop.aclose()
            await store.aclose()

        summary = run.summary
        assert summary is not None
        assert summary.status == RunStatus.SUCCEEDED, summary.failures
        assert all(c.failed == 0 for c in summary.counts.values())
        numbers = _products(emu)
        assert len(numbers) == 40 + 2 * 3
        assert len(emu.entities["category"]) == 8 + 1
        assert emu.media_files
        assert {"30001", "30002", "30003"} <= set(erp.orders)
        delivery_states = {
            _state(emu, d) for d in emu.entities["order_delivery"].values()
        }
        assert {"shipped"} == delivery_states
