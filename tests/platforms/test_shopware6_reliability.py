"""
The Shopware 6 adapter under faults against the emulator: a replay after a
commit, transient failures retried, a dripping answer, an expired token, a
bad secret never shown, the page size capped.
"""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    DataType,
    Outgoing,
)
from ecomsync.exceptions import AuthenticationError, RetryableError
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    article,
)
from ecomsync.testing.shopware6 import Faults, ShopwareEmulator

from .._retries import fast_retries
from ._shopware6 import SECRET
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


class TestShopware6Reliability:
    async def test_replay_after_commit_then_timeout_duplicates_nothing(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A sync request that committed but timed out is replayed without
        creating anything twice.
        """
        shop = _shop(emu, request_deadline=0.3)
        await _catalogue(shop)
        before = len(emu.entities["category"])
        emu.faults = Faults(commit_then_timeout=1, hang_s=5)
        outcomes = await shop.push(
            DataType.ARTICLES,
            [Outgoing(record=article(f"A-{i}")) for i in range(1, 4)],
        )
        await shop.aclose()

        assert all(o.ok for o in outcomes), outcomes
        assert _products(emu) == ["A-1", "A-2", "A-3"]
        assert before == len(emu.entities["category"])
        assert len(emu.entities["product_category"]) == 3

    @pytest.mark.parametrize(
        "faults",
        [
            Faults(storm_next=2, storm_status=429, retry_after="0"),
            Faults(storm_next=2, storm_status=503, retry_after=None),
            Faults(reset_next=1),
        ],
        ids=["429", "503", "reset"],
    )
    async def test_transient_failures_are_retried(
        self, emu: ShopwareEmulator, shop: Shopware6, faults: Faults
    ) -> None:
        """
        Storms and resets are retried until the write goes through.
        """
        emu.faults = faults
        outcomes = await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )

        assert all(o.ok for o in outcomes)

    async def test_dripping_answer_hits_the_deadline(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A response trickled slower than the deadline is a RetryableError,
        although httpx's inactivity timeout never fires.
        """
        shop = _shop(emu, request_deadline=0.2)
        await shop._api.token()
        emu.faults = Faults(drip_chunk_bytes=1, drip_interval_ms=50)

        with anyio.fail_after(10), pytest.raises(RetryableError):
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )
        await shop.aclose()

    async def test_expired_token_is_refreshed(
        self, emu: ShopwareEmulator, shop: Shopware6
    ) -> None:
        """
        A token the shop no longer accepts is replaced once, silently.
        """
        await _catalogue(shop)
        emu.revoke_tokens()
        outcomes = await shop.push(
            DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
        )

        assert outcomes[0].ok
        assert emu.route_counts["token"] == 2

    async def test_bad_secret_stops_without_showing_it(
        self, emu: ShopwareEmulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        """
        A wrong secret against the emulator is an AuthenticationError
        whose text, repr and logs never contain it.
        """
        caplog.set_level(logging.DEBUG)
        wrong = "WRONG-" + SECRET
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            wrong,
            transport=httpx.ASGITransport(app=emu.app),
        )

        with pytest.raises(AuthenticationError) as info:
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )
        await shop.aclose()

        for text in (
            str(info.value),
            repr(info.value),
            repr(shop),
            caplog.text,
        ):
            assert wrong not in text
            assert SECRET not in text

    async def test_page_size_is_capped(
        self, emu: ShopwareEmulator, shop: Shopware6
    ) -> None:
        """
        Asking for batches above 500 still reads (Shopware's max limit).
        """
        for n in range(3):
            emu.place_order(order_number=str(20000 + n))

        batches = [b async for b in shop.fetch_orders(All(), batch_size=1000)]

        assert sum(len(b) for b in batches) == 3
