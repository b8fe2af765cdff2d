"""
A plan of an order import bounds the run's requests against a live
Vendure (`OrderPlanEstimateContract`): Vendure cuts a `NumberRange`
client-side, so the run reads pages that hold no order it selects.  The
plan counts them with `Vendure.requests_sent`.
"""

from __future__ import annotations

from datetime import datetime

import attrs
import httpx
import pytest

from ecomsync import All
from ecomsync.platforms.vendure import Vendure
from ecomsync.testing._platform_contract._records import make_order

from .._plan_estimate_contract import OrderPlanEstimateContract
from ._vendure_shop import VendureHooks
from .vendure_server import VendureServer


pytestmark = pytest.mark.anyio

#: The orders placed, oldest first.
NUMBERS = tuple(f"V-{n}" for n in range(1, 6))


@attrs.define
class Recorded(httpx.AsyncBaseTransport):
    """
    The live server, with every request the adapter sent to it.
    """

    server: VendureServer
    requests: list[httpx.Request] = attrs.field(factory=list)
    _inner: httpx.AsyncHTTPTransport = attrs.field(
        factory=httpx.AsyncHTTPTransport
    )

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        self.requests.append(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.vendure
class TestOrderPlan(OrderPlanEstimateContract):
    """
    An order import on Vendure sends no more requests than its plan.
    """

    @pytest.fixture(name="emu")
    async def _emu(self, fresh_vendure: VendureServer) -> Recorded:
        # Placing an order takes the Admin API's (async) calls, which the
        # contract's (sync) hook cannot make: the orders are placed here.
        hooks = VendureHooks()
        hooks.server = fresh_vendure
        hooks.admin = fresh_vendure.admin()
        try:
            for number in NUMBERS:
                await hooks.place_order(
                    None,
                    make_order(number, article="A-1"),
                    changed_at=datetime.now(),
                )
        finally:
            await hooks.admin.aclose()
        return Recorded(fresh_vendure)

    def platform(self, emu: Recorded, *, secret: str | None = None) -> Vendure:
        return Vendure(
            emu.server.url,
            api_key=emu.server.api_key if secret is None else secret,
            transport=emu,
        )

    def place_costly_orders(self, emu: Recorded) -> str:
        # placed by the emu fixture; the last of them, alone on the last
        # page of two, is read after two pages that hold none of it
        return NUMBERS[-1]

    def sent(self, emu: Recorded, since: int) -> list[httpx.Request]:
        return emu.requests[since:]


class TestRequestsSent:
    """
    `Vendure.requests_sent` counts what went to the server.
    """

    async def test_every_attempt_counted(self) -> None:
        """The login, the money's decimals, a busy answer to a page of
        orders and its retry are four requests."""
        answers = iter(
            [
                httpx.Response(503, headers={"Retry-After": "0"}),
                httpx.Response(
                    200,
                    json={"data": {"orders": {"items": [], "totalItems": 0}}},
                ),
            ]
        )
        seen: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if b"login" in request.content:
                return httpx.Response(
                    200,
                    json={"data": {"login": {"__typename": "CurrentUser"}}},
                    headers={"vendure-auth-token": "t"},
                )
            if b"moneyStrategyPrecision" in request.content:
                config = {"serverConfig": {"moneyStrategyPrecision": 2}}
                return httpx.Response(
                    200, json={"data": {"globalSettings": config}}
                )
            return next(answers)

        platform = Vendure(
            "http://shop.test",
            username="u",
            password="p",
            transport=httpx.MockTransport(answer),
        )
        async with platform:
            batches = [
                b async for b in platform.fetch_orders(All(), batch_size=2)
            ]

        assert [] == batches
        assert 4 == len(seen) == platform.requests_sent
