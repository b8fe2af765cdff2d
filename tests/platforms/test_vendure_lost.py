"""
The lost state store (`LostStateContract`) against a live Vendure: the
catalogue synced, changed and synced again with a new store or an old
backup leaves the shop as an intact store does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ecomsync.platforms.vendure import Vendure

from .._engine_contract import LostStateContract
from .vendure_server import SUPERADMIN, VendureServer


pytestmark = pytest.mark.vendure


def _read(
    server: VendureServer, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """
    *query* on the Admin API as the superadmin (the hooks are not async).
    """
    url = f"{server.url}/admin-api"
    with httpx.Client(timeout=60) as client:
        login = client.post(
            url,
            json={
                "query": "mutation ($u: String!, $p: String!) { "
                "login(username: $u, password: $p) { __typename } }",
                "variables": {"u": SUPERADMIN[0], "p": SUPERADMIN[1]},
            },
        )
        token = login.headers["vendure-auth-token"]
        body = client.post(
            url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert not body.get("errors"), body.get("errors")
    data: dict[str, Any] = body["data"]
    return data


class _Counted(httpx.AsyncBaseTransport):
    """
    Counts the requests the adapters send (the server keeps no log).
    """

    def __init__(self) -> None:
        self.requests = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        self.requests += 1
        # one connection pool per adapter: the adapter closes it
        async with httpx.AsyncHTTPTransport() as inner:
            response = await inner.handle_async_request(request)
            await response.aread()
        return response


def _gross_prices(server: VendureServer, *, include: bool) -> None:
    _read(
        server,
        "mutation ($i: UpdateChannelInput!) { updateChannel(input: $i) "
        "{ __typename } }",
        {"i": {"id": "1", "pricesIncludeTax": include}},
    )


class TestLostState(LostStateContract):
    """
    Vendure finds a product by its variants' SKUs, or by its slug (the
    article number) when the variants changed, and an asset by its name
    (the content's SHA-256): a lost store makes nothing twice.
    """

    @pytest.fixture(autouse=True)
    def _server(self, vendure_server: VendureServer) -> Iterator[None]:
        self.server = vendure_server
        self.counted = _Counted()
        yield
        vendure_server.reset()
        _gross_prices(vendure_server, include=False)

    def emulator(self) -> VendureServer:
        # the catalogue's gross prices (9.99 at 19 %) have no exact net
        # price in cents: a channel whose prices include tax, set through
        # the API so Vendure's channel cache follows
        self.server.reset()
        _gross_prices(self.server, include=True)
        return self.server

    def platform(self, emu: VendureServer) -> Vendure:
        return emu.platform(transport=self.counted)

    def requests(self, emu: VendureServer) -> int:
        return self.counted.requests

    def media(self, emu: VendureServer) -> object:
        data = _read(
            emu, "{ assets(options: { take: 1000 }) { items { id } } }"
        )
        return {a["id"] for a in data["assets"]["items"]}

    def attached(self, emu: VendureServer) -> dict[str, list[str]]:
        data = _read(
            emu,
            "{ products(options: { take: 1000 }) { items { id "
            "assets { id } } } }",
        )
        return {
            p["id"]: [a["id"] for a in p["assets"]]
            for p in data["products"]["items"]
        }

    def catalogue(self, emu: VendureServer) -> object:
        data = _read(
            emu,
            "{ products(options: { take: 1000 }) { items { slug name "
            "enabled assets { name } facetValues { code } variants { sku "
            "enabled priceWithTax stockOnHand options { code } } "
            "optionGroups { code } } }"
            " collections(options: { take: 1000 }) { items { id name "
            "parentId } }"
            " facetValues(options: { take: 1000 }) { items { code "
            "facet { code } } }"
            " assets(options: { take: 1000 }) { items { name } } }",
        )
        names = {c["id"]: c["name"] for c in data["collections"]["items"]}
        return (
            sorted(
                (
                    p["slug"],
                    p["name"],
                    p["enabled"],
                    [a["name"] for a in p["assets"]],
                    sorted(v["code"] for v in p["facetValues"]),
                    sorted(
                        (
                            v["sku"],
                            v["enabled"],
                            v["priceWithTax"],
                            v["stockOnHand"],
                            sorted(o["code"] for o in v["options"]),
                        )
                        for v in p["variants"]
                    ),
                    sorted(g["code"] for g in p["optionGroups"]),
                )
                for p in data["products"]["items"]
            ),
            sorted(
                (c["name"], names.get(c["parentId"]))
                for c in data["collections"]["items"]
            ),
            sorted(
                (v["facet"]["code"], v["code"])
                for v in data["facetValues"]["items"]
            ),
            sorted(a["name"] for a in data["assets"]["items"]),
        )
