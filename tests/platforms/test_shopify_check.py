"""
`Shopify.check()`: one clear message per problem (unreachable host,
refused token, locations not readable, a configured location the shop
does not have), from one request, nothing written.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecomsync import (
    All,
    ConfigurationError,
    DataType,
    MediaStaging,
    MemoryErp,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopify import Shopify
from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.typing import SupportsCheck

from .._retries import fast_retries


pytestmark = pytest.mark.anyio

TOKEN = "shpat_check-S3CR3T"

_fast_retries = fast_retries(3)


def _emu() -> ShopifyEmulator:
    return ShopifyEmulator(TOKEN, maximum=1_000_000, restore_rate=1_000_000)


def _shop(emu: ShopifyEmulator, token: str = TOKEN, **kwargs: Any) -> Shopify:
    return Shopify(
        "https://shop.test",
        token,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


async def _check(shop: Shopify) -> list[str]:
    async with shop:
        return await shop.check()


class TestCheck:
    async def test_all_well_in_one_request(self) -> None:
        """
        Locations named by name and by GID that the shop has: no problem,
        from one request, and nothing is written.
        """
        emu = _emu()
        second = emu.shop.add_location("Second")
        shop = _shop(
            emu,
            location="Warehouse",
            locations={"WH1": "Warehouse", "WH2": second},
        )

        assert [] == await _check(shop)
        assert 1 == len(emu.requests)
        assert 200 == emu.requests[0].status
        assert {} == emu.shop.products

    async def test_all_well_without_locations(self) -> None:
        """
        Without *location* and *locations*, a shop with a location is fine;
        so is a *location* given as a GID.
        """
        emu = _emu()
        second = emu.shop.add_location("Second")

        assert [] == await _check(_shop(emu))
        assert [] == await _check(_shop(emu, location=second))

    async def test_missing_locations_named(self) -> None:
        """
        Each location the shop does not have is named with its warehouse
        code (or ``location``), in one message listing the shop's.
        """
        emu = _emu()
        shop = _shop(
            emu,
            location="Nowhere",
            locations={"WH1": "Warehouse", "WH2": "Lager"},
        )

        (problem,) = await _check(shop)

        assert problem.startswith("Shopify at https://shop.test: ")
        assert "'Lager' (locations['WH2'])" in problem
        assert "'Nowhere' (location)" in problem
        assert "WH1" not in problem
        assert "it has 'Warehouse'" in problem

    async def test_unknown_gid(self) -> None:
        """
        A GID the shop does not have as *location* is a problem.
        """
        gid = "gid://shopify/Location/999999"

        (problem,) = await _check(_shop(_emu(), location=gid))

        assert f"{gid!r} (location)" in problem

    async def test_location_name_without_locations(self) -> None:
        """
        Without *locations*, *location* must be a GID: a name is a
        problem that gives its GID.
        """
        emu = _emu()
        (gid,) = (loc["id"] for loc in emu.shop.locations.values())

        (problem,) = await _check(_shop(emu, location="Warehouse"))

        assert "'Warehouse' is a name" in problem
        assert repr(gid) in problem

    async def test_shop_without_location(self) -> None:
        """
        A shop without any location cannot take stock: a problem.
        """
        emu = _emu()
        emu.shop.locations.clear()

        (problem,) = await _check(_shop(emu))

        assert "has no location" in problem

    async def test_wrong_token(self) -> None:
        """
        A refused token: one message saying so, not showing the token.
        """
        wrong = "shpat_wrong-S3CR3T-zz"

        (problem,) = await _check(_shop(_emu(), token=wrong))

        assert "refused the access token" in problem
        assert "https://shop.test" in problem
        assert wrong not in problem
        assert TOKEN not in problem

    async def test_locations_not_readable(self) -> None:
        """
        A token without the ``read_locations`` scope: one message with
        Shopify's error code.
        """

        def denied(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200,
                json={
                    "errors": [
                        {
                            "message": "Access denied for locations field.",
                            "extensions": {"code": "ACCESS_DENIED"},
                        }
                    ]
                },
            )

        shop = Shopify(
            "https://shop.test", TOKEN, transport=httpx.MockTransport(denied)
        )

        (problem,) = await _check(shop)

        assert "Shopify at https://shop.test cannot read locations" in problem
        assert "ACCESS_DENIED" in problem

    async def test_unreachable_names_the_os_reason(self) -> None:
        """
        Nobody listening: one message with the operating system's reason,
        at once (no retries).
        """
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        shop = Shopify(f"http://127.0.0.1:{port}", TOKEN)

        (problem,) = await _check(shop)

        assert f"Shopify at http://127.0.0.1:{port} is unreachable" in problem
        assert "refused" in problem.lower()

    def test_declares_check(self) -> None:
        """
        Shopify is a platform with a check.
        """
        assert isinstance(Shopify("https://shop.test", TOKEN), SupportsCheck)


class TestSynchronizer:
    @pytest.fixture(name="sync")
    def _sync(self, tmp_path: Path) -> Synchronizer:
        emu = _emu()
        return Synchronizer(
            erp=MemoryErp(),
            platforms={"shop": _shop(emu, locations={"WH1": "Lager"})},
            store=SqliteStore(tmp_path / "state.db"),
            staging=MediaStaging(tmp_path / "staging"),
        )

    async def test_check_names_the_platform(self, sync: Synchronizer) -> None:
        """
        `Synchronizer.check` reports the missing location under the
        platform's name.
        """
        result = await sync.check()
        await sync.store.aclose()

        assert not result.ok
        (problem,) = result.problems
        assert problem.startswith("platform 'shop': Shopify at ")
        assert "'Lager' (locations['WH1'])" in problem

    async def test_plan_refuses(self, sync: Synchronizer) -> None:
        """
        A plan refuses the platform with the missing location, before
        any run, as a ConfigurationError naming it.
        """
        with pytest.raises(ConfigurationError, match=r"locations\['WH1'\]"):
            await sync.plan(SyncSpec(types={DataType.STOCK: All()}))
        await sync.store.aclose()
