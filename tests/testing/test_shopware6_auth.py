"""
Tokens, the response formats and the error shape of the Shopware 6 emulator
(platform-apis.md §1.1, §1.2, §1.12).
"""

from __future__ import annotations

import httpx
import pytest

from ecomsync.testing.shopware6 import (
    DEFAULT_CURRENCY,
    ShopwareEmulator,
)

from ._sw6 import (
    CID,
    SECRET,
    Clock,
    login,
    raw_client,
)


pytestmark = pytest.mark.anyio


class TestAuth:
    async def test_token_shape(self, emu: ShopwareEmulator) -> None:
        """client_credentials yields a Bearer token with expires_in 600."""
        async with raw_client(emu) as c:
            r = await c.post(
                "/api/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": SECRET,
                },
            )
        body = r.json()
        assert r.status_code == 200
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 600
        assert "refresh_token" not in body
        assert body["access_token"] in emu.tokens

    async def test_form_encoded(self, emu: ShopwareEmulator) -> None:
        """The token endpoint also parses form-encoded bodies."""
        async with raw_client(emu) as c:
            r = await c.post(
                "/api/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": SECRET,
                },
            )
        assert r.status_code == 200

    async def test_wrong_secret(self, emu: ShopwareEmulator) -> None:
        """A wrong secret is 401 with league code "4"."""
        async with raw_client(emu) as c:
            r = await c.post(
                "/api/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": CID,
                    "client_secret": "nope",
                },
            )
        err = r.json()["errors"][0]
        assert r.status_code == 401
        assert err["code"] == "4"
        assert err["status"] == "401"
        assert err["title"] == "Client authentication failed"

    async def test_missing_bearer(self, emu: ShopwareEmulator) -> None:
        """Any other route without a bearer is 401 with code "9"."""
        async with raw_client(emu) as c:
            r = await c.post("/api/search/product", json={})
        err = r.json()["errors"][0]
        assert r.status_code == 401
        assert err["code"] == "9"
        assert err["detail"] == 'Missing "Authorization" header'

    async def test_token_expires(
        self, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        """A token stops working after the TTL; a new one works again."""
        assert (await client.get("/api/_info/version")).status_code == 200
        clock.advance(599)
        assert (await client.get("/api/_info/version")).status_code == 200
        clock.advance(2)
        r = await client.get("/api/_info/version")
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "9"
        assert r.json()["errors"][0]["detail"] == "Access token is expired"
        await login(client)
        assert (await client.get("/api/_info/version")).status_code == 200

    async def test_custom_ttl(self, clock: Clock) -> None:
        """The configured TTL is reported and enforced."""
        emu = ShopwareEmulator(
            client_id=CID, client_secret=SECRET, clock=clock, token_ttl=5
        )
        async with raw_client(emu) as c:
            await login(c)
            clock.advance(5)
            r = await c.get("/api/_info/version")
        assert r.status_code == 401

    async def test_revoked(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Revoked tokens are rejected with code "9"."""
        emu.revoke_tokens()
        r = await client.get("/api/_info/version")
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "9"

    async def test_throttled_after_failures(
        self, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """Repeated failed logins get 429 FRAMEWORK__AUTH_THROTTLED."""
        bad = {
            "grant_type": "client_credentials",
            "client_id": CID,
            "client_secret": "x",
        }
        async with raw_client(emu) as c:
            codes = [
                (await c.post("/api/oauth/token", json=bad)).status_code
                for _ in range(11)
            ]
            assert codes[:10] == [401] * 10
            assert codes[10] == 429
            r = await c.post("/api/oauth/token", json=bad)
            err = r.json()["errors"][0]
            assert err["code"] == "FRAMEWORK__AUTH_THROTTLED"
            assert err["meta"]["parameters"]["seconds"] > 0
            clock.advance(11)
            await login(c)

    async def test_no_rate_limit_on_normal_routes(
        self, client: httpx.AsyncClient
    ) -> None:
        """Hundreds of quick requests to normal routes never see a 429."""
        for _ in range(300):
            r = await client.post("/api/search/product", json={"limit": 1})
            assert r.status_code == 200


class TestFormat:
    async def test_simple_json_listing(
        self, client: httpx.AsyncClient
    ) -> None:
        """Accept: application/json gives {total, data, aggregations}."""
        r = await client.post("/api/search/currency", json={})
        body = r.json()
        assert set(body) == {"total", "data", "aggregations"}
        assert body["data"][0]["apiAlias"] == "currency"
        assert body["data"][0]["id"] == DEFAULT_CURRENCY

    async def test_jsonapi_is_default(self, emu: ShopwareEmulator) -> None:
        """Without the Accept header the answer is JSON:API."""
        async with raw_client(emu) as c:
            await login(c)
            del c.headers["Accept"]
            r = await c.post("/api/search/currency", json={})
        body = r.json()
        assert body["data"][0]["type"] == "currency"
        assert "attributes" in body["data"][0]
        assert body["meta"]["total"] == 1

    async def test_error_shape(self, client: httpx.AsyncClient) -> None:
        """Errors are {"errors": [{status (str), code, title, detail}]}."""
        r = await client.get(f"/api/product/{'0' * 32}")
        err = r.json()["errors"][0]
        assert r.status_code == 404
        assert err["status"] == "404"
        assert err["code"] == "FRAMEWORK__RESOURCE_NOT_FOUND"
        assert {"title", "detail", "meta"} <= set(err)

    async def test_seed(self, emu: ShopwareEmulator) -> None:
        """The documented constant ids and basic rows are seeded."""
        e = emu.entities
        assert DEFAULT_CURRENCY in e["currency"]
        assert "2fbb5fe2e29a4d70aa5854ce7ce3e20b" in e["language"]
        rates = sorted(t["taxRate"] for t in e["tax"].values())
        assert rates == [7.0, 19.0]
        assert e["sales_channel"]
        assert e["customer_group"]
        assert e["payment_method"]
        assert e["shipping_method"]
        assert any(c["iso"] == "DE" for c in e["country"].values())
