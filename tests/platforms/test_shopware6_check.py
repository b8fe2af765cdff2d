"""
`Shopware6.check()` and the optional platform capabilities: one clear
message per problem (unreachable host, refused credentials, missing
privilege, unknown sales channel), nothing written.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import httpx
import pytest

from ecomsync.platforms.memory import MemoryPlatform
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import sw_id
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.typing import (
    Platform,
    SupportsCheck,
    SupportsMediaOnPush,
    SupportsRequestEstimate,
)

from .._retries import fast_retries


pytestmark = pytest.mark.anyio

SECRET = "check-secret-NEVER-SHOWN"
WRITES = {"PATCH", "DELETE", "PUT"}


_fast_retries = fast_retries(3)


def _shop(transport: httpx.AsyncBaseTransport, **kwargs: object) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        "SWIACHECK",
        SECRET,
        transport=transport,
        **kwargs,  # type: ignore[arg-type]
    )


def _recording(
    emu: ShopwareEmulator, seen: list[httpx.Request]
) -> httpx.AsyncBaseTransport:
    inner = httpx.ASGITransport(app=emu.app)

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(
            self, request: httpx.Request
        ) -> httpx.Response:
            seen.append(request)
            return await inner.handle_async_request(request)

    return Recording()


def _forbidding(
    entities: set[str],
) -> Callable[[httpx.Request], httpx.Response]:
    """
    A shop that answers like Shopware 6.6 without read rights on
    *entities*.
    """

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/oauth/token":
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "access_token": "tok",
                },
            )
        entity = path.rsplit("/", 1)[-1].replace("-", "_")
        if path.startswith("/api/search/") and entity in entities:
            detail = json.dumps(
                {
                    "message": "Missing privilege",
                    "missingPrivileges": [f"{entity}:read"],
                }
            )
            return httpx.Response(
                403,
                json={
                    "errors": [
                        {
                            "status": "403",
                            "code": "FRAMEWORK__MISSING_PRIVILEGE_ERROR",
                            "title": "Forbidden",
                            "detail": detail,
                        }
                    ]
                },
            )
        if path.startswith("/api/search/"):
            return httpx.Response(200, json={"total": 0, "data": []})
        return httpx.Response(401, json={"errors": []})

    return handler


class TestCheck:
    async def test_all_well(self) -> None:
        """
        Against a healthy shop: no problem, and nothing is written.
        """
        emu = ShopwareEmulator(client_id="SWIACHECK", client_secret=SECRET)
        seen: list[httpx.Request] = []
        shop = _shop(_recording(emu, seen))

        problems = await shop.check()
        await shop.aclose()

        assert [] == problems
        assert not [r for r in seen if r.method in WRITES]
        assert not [r for r in seen if r.url.path == "/api/_action/sync"]

    async def test_wrong_secret(self) -> None:
        """
        Refused credentials: one message naming the key id, not the
        secret.
        """
        emu = ShopwareEmulator(client_id="SWIACHECK", client_secret="other")
        shop = _shop(httpx.ASGITransport(app=emu.app))

        problems = await shop.check()
        await shop.aclose()

        assert 1 == len(problems)
        assert "refused the integration credentials" in problems[0]
        assert "SWIACHECK" in problems[0]
        assert SECRET not in problems[0]

    async def test_unreachable_names_the_os_reason(self) -> None:
        """
        Nobody listening: one message with the operating system's reason,
        at once (no retries).
        """
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        shop = Shopware6(f"http://127.0.0.1:{port}", "SWIACHECK", SECRET)

        problems = await shop.check()
        await shop.aclose()

        assert 1 == len(problems)
        assert (
            f"Shopware at http://127.0.0.1:{port} is unreachable"
            in (problems[0])
        )
        assert "refused" in problems[0].lower()

    async def test_missing_privileges_one_message_each(self) -> None:
        """
        Each entity the integration may not read is one message naming
        the privilege.
        """
        shop = _shop(
            httpx.MockTransport(_forbidding({"product", "order_delivery"}))
        )

        problems = await shop.check()
        await shop.aclose()

        assert 2 == len(problems)
        assert "missing privilege product:read" in problems[0]
        assert "missing privilege order_delivery:read" in problems[1]

    async def test_unknown_sales_channel(self) -> None:
        """
        A configured sales channel the shop does not have is a problem.
        """
        emu = ShopwareEmulator(client_id="SWIACHECK", client_secret=SECRET)
        shop = _shop(
            httpx.ASGITransport(app=emu.app), sales_channel_id="0" * 32
        )
        known = _shop(
            httpx.ASGITransport(app=emu.app),
            sales_channel_id=emu.ids.sales_channel,
        )

        problems = await shop.check()
        fine = await known.check()
        await shop.aclose()
        await known.aclose()

        assert [] == fine
        assert 1 == len(problems)
        assert "no sales channel" in problems[0]
        assert "0" * 32 in problems[0]

    async def test_unknown_category_root(self) -> None:
        """
        A ``category_root`` the shop does not have is a problem naming
        the option; Home is none.
        """
        emu = ShopwareEmulator(client_id="SWIACHECK", client_secret=SECRET)
        shop = _shop(httpx.ASGITransport(app=emu.app), category_root="1" * 32)
        known = _shop(
            httpx.ASGITransport(app=emu.app),
            category_root=emu.ids.root_category,
        )

        problems = await shop.check()
        fine = await known.check()
        await shop.aclose()
        await known.aclose()

        assert [] == fine
        assert 1 == len(problems)
        assert "no category" in problems[0]
        assert "1" * 32 in problems[0]
        assert "(category_root)" in problems[0]

    async def test_sales_channels_that_disagree(self) -> None:
        """
        Sales channels showing different navigation categories, with
        neither ``sales_channel_id`` nor ``category_root``, are a problem
        naming both options; with either, none.
        """
        emu = ShopwareEmulator(client_id="SWIACHECK", client_secret=SECRET)
        other = sw_id("category", "merchant-b2b")
        emu.entities["category"][other] = {
            "id": other,
            "name": "B2B",
            "parentId": None,
        }
        channels = emu.entities["sales_channel"]
        added = sw_id("sales_channel", "b2b")
        channels[added] = {
            **channels[emu.ids.sales_channel],
            "id": added,
            "navigationCategoryId": other,
        }
        shops = [
            _shop(httpx.ASGITransport(app=emu.app), **kwargs)
            for kwargs in (
                {},
                {"sales_channel_id": added},
                {"category_root": other},
            )
        ]

        problems = [await shop.check() for shop in shops]
        for shop in shops:
            await shop.aclose()

        (problem,), [], [] = problems
        assert "top-level categories have no place" in problem
        assert "category_root" in problem
        assert "sales_channel_id" in problem


class TestCapabilities:
    def test_shopware6_declares_its_capabilities(self) -> None:
        """
        Shopware 6 is a platform with media on push, its own estimate and
        a check.
        """
        shop = Shopware6("http://shop.test", "SWIA", SECRET)

        assert isinstance(shop, Platform)
        assert isinstance(shop, SupportsMediaOnPush)
        assert shop.media_on_push
        assert isinstance(shop, SupportsRequestEstimate)
        assert isinstance(shop, SupportsCheck)

    async def test_memory_platform(self) -> None:
        """
        The memory platform can be checked, is usable until closed, and
        does not estimate or push media.
        """
        platform = MemoryPlatform()

        assert isinstance(platform, SupportsCheck)
        assert not isinstance(platform, SupportsMediaOnPush)
        assert not isinstance(platform, SupportsRequestEstimate)
        assert [] == await platform.check()
        await platform.aclose()
        assert ["the memory platform is closed"] == await platform.check()
