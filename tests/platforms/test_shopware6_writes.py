"""
The Shopware 6 adapter's writes against the emulator: children before
parents, an offender isolated, variants and their options, tax rates,
prices and visibility, documents and mails, order states that must not
move.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    Category,
    DataType,
    MediaKind,
    MediaLink,
    OrderState,
    OrderStatus,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import sw_id
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    PlatformContract,
    article,
)
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from ._shopware6 import SECRET, channels_ok, token_ok
from ._shopware6_adapter import (
    _catalogue,
    _products,
    _shop,
    adapter_emu,
    adapter_shop,
)


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)

_emu = adapter_emu
_shop_fixture = adapter_shop


class TestShopware6Writes:
    async def test_children_before_parents_in_one_batch(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A batch listing a child before its parent is still written.
        """
        outcomes = await shop.push(
            DataType.CATEGORIES,
            [Outgoing(record=c) for c in reversed(CATEGORIES)],
        )

        assert all(o.ok for o in outcomes), outcomes
        assert [o.number for o in outcomes] == ["K-3", "K-2", "K-1"]

    async def test_offender_isolated_by_halving_without_pointer(
        self,
    ) -> None:
        """
        A rejection without a pointer is bisected down to the offender.
        """
        sent: list[list[str]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/oauth/token":
                return token_ok(request) or httpx.Response(500)
            channels = channels_ok(request)
            if channels is not None:
                return channels
            body = json.loads(request.content)
            names = [
                row["name"] for row in body["ecomsync-categories"]["payload"]
            ]
            sent.append(names)
            if "BAD" in names:
                return httpx.Response(
                    400,
                    json={
                        "errors": [
                            {"status": "400", "code": "X", "detail": "refused"}
                        ]
                    },
                )
            return httpx.Response(200, json={"data": {}})

        shop = Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        )
        names = ["a", "b", "c", "BAD", "e"]
        outcomes = await shop.push(
            DataType.CATEGORIES,
            [
                Outgoing(record=Category(number=f"K-{i}", name=n))
                for i, n in enumerate(names)
            ],
        )
        await shop.aclose()

        assert [o.ok for o in outcomes] == [True, True, True, False, True]
        assert outcomes[3].error == "refused"
        written = {n for batch in sent if "BAD" not in batch for n in batch}
        assert {"a", "b", "c", "e"} == written

    async def test_variants_options_and_configurator(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Variants become children with options; groups exist once.
        """
        await _catalogue(shop)
        shirt = article(
            "A-7",
            variants=(
                Variant(number="A-7-S", options=(("Größe", "S"),)),
                Variant(number="A-7-M", options=(("Größe", "M"),)),
            ),
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=shirt)])
        await shop.push(DataType.ARTICLES, [Outgoing(record=shirt)])

        assert _products(emu) == ["A-7", "A-7-M", "A-7-S"]
        assert len(emu.entities["property_group"]) == 1
        assert len(emu.entities["property_group_option"]) == 2
        assert len(emu.entities["product_configurator_setting"]) == 2
        child = emu.entities["product"][sw_id("product", "A-7-S")]
        assert sw_id("product", "A-7") == child["parentId"]

    async def test_new_tax_rate_once_for_concurrent_batches(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Batches in flight together that need the same new tax rate find
        or create it once (one tax entity, every product linked to it).
        """
        await _catalogue(shop)
        rate = Decimal("7.7")

        async def batch(first: int) -> None:
            outcomes = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=article(f"A-{first + i}", tax_rate=rate))
                    for i in range(3)
                ],
            )
            assert all(o.ok for o in outcomes)

        async with anyio.create_task_group() as tg:
            for first in (10, 20, 30):
                tg.start_soon(batch, first)

        taxes = [
            t for t in emu.entities["tax"].values() if t["taxRate"] == 7.7
        ]
        assert 1 == len(taxes)
        linked = {
            p["taxId"]
            for p in emu.entities["product"].values()
            if p["productNumber"].startswith("A-")
        }
        assert {taxes[0]["id"]} == linked

    async def test_price_tax_and_visibility(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Gross and net in the default currency, the tax found or created,
        visible in the sales channels.
        """
        await _catalogue(shop)
        await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(record=article("A-1")),
                Outgoing(record=article("A-2", tax_rate=Decimal("5.5"))),
            ],
        )

        one = emu.entities["product"][sw_id("product", "A-1")]
        two = emu.entities["product"][sw_id("product", "A-2")]
        assert emu.ids.tax_standard == one["taxId"]
        assert 1 == sum(
            t["taxRate"] == 5.5 for t in emu.entities["tax"].values()
        )
        assert emu.entities["tax"][two["taxId"]]["taxRate"] == 5.5
        assert one["price"] == [
            {
                "currencyId": "b7d2554b0ce847cd82f3ac9bd1c0dfca",
                "gross": 19.99,
                "net": 16.8,
                "linked": True,
            }
        ]
        assert {emu.ids.sales_channel} == {
            v["salesChannelId"]
            for v in emu.entities["product_visibility"].values()
            if v["productId"] == one["id"]
        }

    async def test_article_push_keeps_stock(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Re-pushing an article leaves the stock the stock sync set.
        """
        await _catalogue(shop)
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])
        await shop.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="A-1", quantity=9))],
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])

        assert emu.entities["product"][sw_id("product", "A-1")]["stock"] == 9

    async def test_documents_are_not_downloads(
        self, shop: Shopware6, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """
        A PDF lands in the documents custom field, not as download or
        gallery image.
        """
        await _catalogue(shop)
        (target,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=article("A-1"))]
        )
        pdf = await shop.upload_media(
            PlatformContract._staged(
                tmp_path,
                b"%PDF-1.4",
                filename="a.pdf",
                mime_type="application/pdf",
                kind=MediaKind.DOCUMENT,
            )
        )
        await shop.attach_media(
            DataType.ARTICLES,
            target,
            [
                MediaLink(
                    media_id=pdf,
                    sha256="x",
                    position=0,
                    kind=MediaKind.DOCUMENT,
                )
            ],
        )

        product = emu.entities["product"][target.platform_id or ""]
        assert [pdf] == product["customFields"]["ecomsync_documents"]
        assert not product.get("downloads")
        assert None is product.get("coverId")
        assert not emu.entities["product_media"]

    async def test_send_mail_is_configurable(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        Transitions mail the customer only when asked to.
        """
        emu.place_order(order_number="777")
        emu.place_order(order_number="778")
        for number, send in (("777", False), ("778", True)):
            shop = _shop(emu, send_mail=send)
            (outcome,) = await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number=number, state=OrderState.IN_PROGRESS
                        )
                    )
                ],
            )
            await shop.aclose()
            assert outcome.ok

        assert [t.send_mail for t in emu.transitions] == [False, True]

    @pytest.mark.parametrize(
        "state",
        [OrderState.OPEN, OrderState.IN_PROGRESS, OrderState.SHIPPED],
    )
    async def test_cancelled_order_is_not_reopened(
        self, shop: Shopware6, emu: ShopwareEmulator, state: OrderState
    ) -> None:
        """
        Any state but cancelled for an order cancelled in the shop (since
        the ERP last read it) fails on ``state`` by name; nothing moves,
        the order stays cancelled.  Cancelled again is a success.
        """
        emu.place_order(order_number="900")
        (cancel,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="900", state=OrderState.CANCELLED
                    )
                )
            ],
        )
        moved = len(emu.transitions)
        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [Outgoing(record=OrderStatus(number="900", state=state))],
        )
        (again,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="900", state=OrderState.CANCELLED
                    )
                )
            ],
        )

        assert cancel.ok, cancel
        assert ("900", "state") == (outcome.number, outcome.field)
        assert "900 is cancelled in Shopware" in str(outcome.error)
        assert moved == len(emu.transitions)
        assert again.ok, again

    async def test_shipped_leaves_a_completed_order_completed(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Shipped (again, with a tracking code learnt later) for an order
        the shop has completed leaves it completed: completed includes
        shipped, and walking it reopen, process would take the merchant's
        completion back.  The tracking code reaches the delivery.
        """
        emu.place_order(order_number="903")

        async def push(state: OrderState, *tracking: str) -> Any:
            (outcome,) = await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number="903",
                            state=state,
                            tracking_numbers=tracking,
                        )
                    )
                ],
            )
            return outcome

        await push(OrderState.COMPLETED)
        moved = len(emu.transitions)
        again = await push(OrderState.SHIPPED, "T-9")

        assert again.ok, again
        assert [] == [(t.entity, t.action) for t in emu.transitions[moved:]]
        assert [["T-9"]] == [
            d.get("trackingCodes")
            for d in emu.entities["order_delivery"].values()
        ]

    async def test_number_of_two_orders_moves_neither(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        An order number two Shopware orders hold (sales channels with
        number ranges of their own) fails the status on ``number``,
        naming both; neither order moves nor gets the tracking codes.
        """
        first = emu.place_order(order_number="902", order_id="a" * 32)
        second = emu.place_order(order_number="902", order_id="b" * 32)
        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="902",
                        state=OrderState.SHIPPED,
                        tracking_numbers=("T-1",),
                    )
                )
            ],
        )

        assert ("902", "number") == (outcome.number, outcome.field)
        assert first in str(outcome.error)
        assert second in str(outcome.error)
        assert [] == emu.transitions
        assert [] == [
            d
            for d in emu.entities["order_delivery"].values()
            if d.get("trackingCodes")
        ]

    async def test_no_path_through_completed_or_cancelled(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        An order the shop has in progress that the ERP has open fails on
        ``state`` by name: Shopware leads back to open only through
        completed or cancelled, whose flows (mails, documents, released
        stock) must not run for an order that is neither.  Nothing moves.
        """
        emu.place_order(order_number="901")
        (started,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="901", state=OrderState.IN_PROGRESS
                    )
                )
            ],
        )
        moved = len(emu.transitions)
        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(number="901", state=OrderState.OPEN)
                )
            ],
        )

        assert started.ok, started
        assert ("901", "state") == (outcome.number, outcome.field)
        assert "901" in str(outcome.error)
        assert "in_progress" in str(outcome.error)
        assert [] == [(t.action, t.to_state) for t in emu.transitions[moved:]]
