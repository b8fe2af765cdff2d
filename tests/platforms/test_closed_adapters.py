"""
The HTTP adapters and the Tryton ERP after ``aclose()``: closing twice is
harmless, and any use raises `ResourceClosed` naming the adapter, never
httpx's own "client has been closed".
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ecomsync import All, ResourceClosed
from ecomsync._http import HttpClient
from ecomsync.erp.tryton import TrytonErp
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.typing import Platform


pytestmark = pytest.mark.anyio


def unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected: {request.url}")


NOWHERE = httpx.MockTransport(unreachable)

ADAPTERS: dict[str, Callable[[], Platform]] = {
    "shopware6": lambda: Shopware6(
        "https://shop.test", "SWIA", "secret", transport=NOWHERE
    ),
    "woocommerce": lambda: WooCommerce(
        "https://shop.test", "ck_1", "cs_1", transport=NOWHERE
    ),
    "shopify": lambda: Shopify(
        "https://shop.myshopify.com", "shpat_1", transport=NOWHERE
    ),
    "vendure": lambda: Vendure(
        "https://shop.test/admin-api", api_key="key", transport=NOWHERE
    ),
}


class TestClosedAdapters:
    @pytest.mark.parametrize("name", sorted(ADAPTERS))
    async def test_use_after_close(self, name: str) -> None:
        """Reading orders from a closed adapter raises ResourceClosed
        before any request; closing again and leaving a block are
        harmless."""
        shop = ADAPTERS[name]()
        async with shop:  # type: ignore[attr-defined]
            pass
        await shop.aclose()

        with pytest.raises(ResourceClosed, match="closed"):
            async for _ in shop.fetch_orders(All(), batch_size=10):
                pass  # pragma: no cover
        assert shop.closed  # type: ignore[attr-defined]

    async def test_http_client(self) -> None:
        """The shared HTTP client refuses requests once closed, also when
        it never sent one."""
        for used in (False, True):
            http = HttpClient(
                "https://shop.test",
                transport=httpx.MockTransport(
                    lambda r: httpx.Response(200, json={})
                ),
            )
            if used:
                await http.request("GET", "/x")
            await http.aclose()

            with pytest.raises(ResourceClosed, match="HttpClient"):
                await http.request("GET", "/x")

    async def test_tryton(self) -> None:
        """A closed TrytonErp opens no session."""
        erp = TrytonErp(
            "https://erp.test", "db", "admin", "secret", transport=NOWHERE
        )
        await erp.aclose()

        with pytest.raises(ResourceClosed, match="TrytonErp"):
            async with erp.session():
                pass  # pragma: no cover
        assert "secret" not in repr(erp)
