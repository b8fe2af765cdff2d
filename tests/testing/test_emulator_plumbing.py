"""
The request plumbing the emulators share (``ecomsync.testing._asgi``):
every emulator answers lifespan, drops a connection, answers a storm,
trickles a body and serves on loopback alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from ecomsync.testing.shopify import Faults, ShopifyEmulator
from ecomsync.testing.shopify import serve as serve_shopify
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.testing.shopware6 import serve as serve_shopware6
from ecomsync.testing.woocommerce import WooCommerceEmulator
from ecomsync.testing.woocommerce import serve as serve_woocommerce


pytestmark = pytest.mark.anyio

EMULATORS: dict[str, tuple[Callable[[], Any], Any]] = {
    "shopify": (ShopifyEmulator, serve_shopify),
    "shopware6": (ShopwareEmulator, serve_shopware6),
    "woocommerce": (WooCommerceEmulator, serve_woocommerce),
}
PATH = "/no/such/route"


@pytest.fixture(name="kind", params=sorted(EMULATORS))
def _kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(name="emu")
def _emu(kind: str) -> Any:
    return EMULATORS[kind][0]()


def client(emu: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="http://shop.test",
    )


class TestFaultGate:
    async def test_reset_in_process(self, emu: Any) -> None:
        """An injected reset is an httpx.ReadError in process, logged with
        status 0; the next request is served."""
        emu.faults = Faults(reset_next=1)

        async with client(emu) as http:
            with pytest.raises(httpx.ReadError, match="injected"):
                await http.get(PATH)
            answer = await http.get(PATH)

        assert [(PATH, 0), (PATH, answer.status_code)] == [
            (r.path, r.status) for r in emu.requests
        ]
        assert 404 == answer.status_code

    async def test_storm(self, emu: Any) -> None:
        """A storm answers its status with the Retry-After header given,
        and is logged; then requests are served again."""
        emu.faults = Faults(storm_next=1, storm_status=503, retry_after="7")

        async with client(emu) as http:
            stormed = await http.get(PATH)
            served = await http.get(PATH)

        assert (503, "7") == (
            stormed.status_code,
            stormed.headers["retry-after"],
        )
        assert "retry-after" not in served.headers
        assert [503, served.status_code] == [r.status for r in emu.requests]

    async def test_server_time(self, emu: Any) -> None:
        """Every request pays the base server time, within the worker
        limit."""
        emu.faults = Faults(base_ms=60, workers_limit=1)

        async with client(emu) as http:
            started = anyio.current_time()
            async with anyio.create_task_group() as tg:
                for _ in range(2):
                    tg.start_soon(http.get, PATH)
            took = anyio.current_time() - started

        assert took >= 0.12
        assert [404, 404] == [r.status for r in emu.requests]

    async def test_drip(self, emu: Any) -> None:
        """A dripped answer arrives whole, with its length."""
        async with client(emu) as http:
            whole = await http.get(PATH)
        emu.faults = Faults(drip_chunk_bytes=3, drip_interval_ms=1)
        async with client(emu) as http:
            dripped = await http.get(PATH)

        assert whole.content == dripped.content
        assert str(len(whole.content)) == dripped.headers["content-length"]


class TestAsgi:
    async def test_lifespan(self, emu: Any) -> None:
        """A lifespan scope is answered: startup, then shutdown."""
        messages = [
            {"type": "lifespan.startup"},
            {"type": "lifespan.shutdown"},
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await emu.app({"type": "lifespan"}, receive, send)

        assert [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ] == [m["type"] for m in sent]

    async def test_other_scopes_ignored(self, emu: Any) -> None:
        """A websocket scope gets no answer."""

        async def receive() -> dict[str, Any]:
            raise AssertionError  # pragma: no cover

        async def send(message: dict[str, Any]) -> None:
            raise AssertionError(message)  # pragma: no cover

        await emu.app({"type": "websocket"}, receive, send)

        assert [] == list(emu.requests)


class TestServe:
    def test_loopback(self, kind: str) -> None:
        """serve() runs a fresh emulator on a free port, answering over a
        real socket, and a dropped connection there is a transport
        error."""
        new, serve = EMULATORS[kind]
        emu = new()
        emu.faults = Faults(reset_next=1)

        with serve(emu) as url, httpx.Client(base_url=url) as http:
            with pytest.raises(httpx.TransportError):
                http.get(PATH)
            answer = http.get(PATH)

        assert url.startswith("http://127.0.0.1:")
        assert 404 == answer.status_code
        assert "close" == emu.abort_mode
