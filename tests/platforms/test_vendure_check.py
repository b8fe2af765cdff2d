"""
`Vendure.check` without a server: each missing permission, a refused
key, an unreachable shop and a missing stock location named once.
"""

from __future__ import annotations

import httpx
import pytest

from ecomsync.platforms.vendure import Vendure
from ecomsync.typing import SupportsCheck

from ._vendure import FORBIDDEN, Handler, query_of


pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_waits")]


def _shop(
    *,
    forbidden: tuple[str, ...] = (),
    locations: tuple[str, ...] = ("Default Stock Location",),
) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        query = query_of(request)
        field = query.split("{")[1].split("(")[0].strip()
        if field in forbidden or "*" in forbidden:
            return httpx.Response(
                200,
                json={
                    "data": None,
                    "errors": [{**FORBIDDEN, "path": [field]}],
                },
            )
        if field == "activeChannel":
            return httpx.Response(
                200, json={"data": {"activeChannel": {"id": "1"}}}
            )
        if field == "stockLocations":
            items = [
                {"id": str(i), "name": n, "createdAt": "2026-01-01T00:00:00Z"}
                for i, n in enumerate(locations)
            ]
            return httpx.Response(
                200, json={"data": {"stockLocations": {"items": items}}}
            )
        return httpx.Response(200, json={"data": {field: {"totalItems": 0}}})

    return answer


class TestCheck:
    """
    `Vendure.check` names each problem once and writes nothing.
    """

    async def test_all_well(self) -> None:
        """A shop that grants every read and has the locations: no
        problem; Vendure is a SupportsCheck."""
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(query_of(request))
            return _shop()(request)

        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            problems = await shop.check()

        assert isinstance(shop, SupportsCheck)
        assert [] == problems
        assert not any(q.lstrip().startswith("mutation") for q in seen)

    async def test_missing_permissions_each_named(self) -> None:
        """Each refused read names the permission the role lacks."""
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(
                _shop(forbidden=("orders", "stockLocations"))
            ),
        ) as shop:
            problems = await shop.check()

        assert 2 == len(problems)
        assert "ReadOrder" in problems[0]
        assert "ReadStockLocation" in problems[1]

    async def test_refused_key(self) -> None:
        """A key refused everywhere is one message, without the key."""
        async with Vendure(
            "http://shop.test",
            api_key="sekrit-key",
            transport=httpx.MockTransport(_shop(forbidden=("*",))),
        ) as shop:
            problems = await shop.check()

        assert 1 == len(problems)
        assert "API key" in problems[0]
        assert "sekrit" not in problems[0]

    async def test_unreachable(self) -> None:
        """An unreachable shop is one message with the reason."""

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(refuse),
        ) as shop:
            problems = await shop.check()

        assert 1 == len(problems)
        assert "unreachable" in problems[0]

    async def test_missing_stock_location(self) -> None:
        """A mapped stock location the shop lacks is named, with the
        ones it has."""
        async with Vendure(
            "http://shop.test",
            api_key="k",
            stock_locations={"WH1": "North", "WH2": "Default Stock Location"},
            transport=httpx.MockTransport(_shop()),
        ) as shop:
            problems = await shop.check()

        assert 1 == len(problems)
        assert "'North'" in problems[0]
        assert "'Default Stock Location'" in problems[0]
