"""
The WooCommerce emulator's authentication and argument edges: OAuth in
the Authorization header, several missing OAuth parameters, an unknown
key, an unreadable timestamp, keys in the query string over https, an
undecodable Basic header, bad paging and batch delete items.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from ecomsync.testing.woocommerce import WooCommerceEmulator, sign


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_edges", "cs_edges"
API = "/wp-json/wc/v3"


@pytest.fixture(name="emu")
def _emu() -> WooCommerceEmulator:
    return WooCommerceEmulator(KEY, SECRET)


def _client(emu: WooCommerceEmulator, *, https: bool) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="https://shop.test" if https else "http://shop.test",
    )


def _oauth(url: str, **changes: str) -> dict[str, str]:
    params = {
        "oauth_consumer_key": KEY,
        "oauth_timestamp": str(int(time.time())),
        "oauth_nonce": f"n{time.monotonic_ns()}",
        "oauth_signature_method": "HMAC-SHA256",
    }
    params.update(changes)
    params["oauth_signature"] = sign("GET", url, params, SECRET)
    return params


def _code(response: httpx.Response) -> Any:
    return response.json().get("code")


class TestOAuthEdges:
    async def test_oauth_in_the_authorization_header(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        OAuth parameters in an ``Authorization: OAuth`` header sign the
        request like query parameters do.
        """
        url = f"http://shop.test{API}/products"
        header = "OAuth " + ", ".join(
            f'{k}="{v}"' for k, v in _oauth(url).items()
        )
        async with _client(emu, https=False) as c:
            r = await c.get(
                f"{API}/products", headers={"Authorization": header}
            )

        assert 200 == r.status_code, r.text

    async def test_several_missing_parameters_are_named(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Several missing OAuth parameters are named together (plural).
        """
        async with _client(emu, https=False) as c:
            r = await c.get(
                f"{API}/products", params={"oauth_consumer_key": KEY}
            )

        assert 401 == r.status_code
        assert "woocommerce_rest_authentication_missing_parameter" == _code(r)
        assert "Missing OAuth parameters" in r.json()["message"]
        assert "oauth_nonce" in r.json()["message"]

    async def test_unknown_key_and_unreadable_timestamp(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        An unknown consumer key and a timestamp that is not a number are
        401 saying so.
        """
        url = f"http://shop.test{API}/products"
        async with _client(emu, https=False) as c:
            unknown = await c.get(
                f"{API}/products",
                params=_oauth(url, oauth_consumer_key="ck_nobody"),
            )
            stale = await c.get(
                f"{API}/products", params=_oauth(url, oauth_timestamp="soon")
            )

        assert 401 == unknown.status_code
        assert "Consumer key is invalid." == unknown.json()["message"]
        assert 401 == stale.status_code
        assert "timestamp" in stale.json()["message"]


class TestBasicEdges:
    async def test_keys_in_the_query_string_over_https(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Over https the key pair may come as ``consumer_key`` and
        ``consumer_secret`` query parameters.
        """
        async with _client(emu, https=True) as c:
            r = await c.get(
                f"{API}/products",
                params={"consumer_key": KEY, "consumer_secret": SECRET},
            )

        assert 200 == r.status_code

    async def test_undecodable_basic_header_is_anonymous(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A Basic header that is not base64 of ``key:secret`` counts as no
        credentials: the route refuses an anonymous read.
        """
        async with _client(emu, https=True) as c:
            garbage = await c.get(
                f"{API}/products", headers={"Authorization": "Basic %%%"}
            )
            unknown = await c.get(
                f"{API}/products",
                headers={
                    "Authorization": "Basic "
                    + base64.b64encode(b"ck_nobody:cs_x").decode()
                },
            )

        assert 401 == garbage.status_code
        assert "woocommerce_rest_cannot_view" == _code(garbage)
        assert 401 == unknown.status_code


class TestArgumentEdges:
    async def test_paging_and_exclude(self, emu: WooCommerceEmulator) -> None:
        """
        A page that is not an integer is 400 ``rest_invalid_type``;
        ``exclude`` drops the listed ids.
        """
        first = emu.shop.create_product({"name": "A", "sku": "A"})
        second = emu.shop.create_product({"name": "B", "sku": "B"})
        auth = {"consumer_key": KEY, "consumer_secret": SECRET}
        async with _client(emu, https=True) as c:
            bad = await c.get(f"{API}/products", params={**auth, "page": "x"})
            rest = await c.get(
                f"{API}/products",
                params={**auth, "exclude": f"{first['id']},junk"},
            )

        assert 400 == bad.status_code
        assert "rest_invalid_param" == _code(bad)
        assert "rest_invalid_type" in bad.text
        assert [second["id"]] == [r["id"] for r in rest.json()]

    async def test_batch_delete_items(self, emu: WooCommerceEmulator) -> None:
        """
        Batch deletes skip ids that are not numbers and answer a missing
        product with a per-item error under HTTP 200.
        """
        held = emu.shop.create_product({"name": "A", "sku": "A"})
        auth = {"consumer_key": KEY, "consumer_secret": SECRET}
        async with _client(emu, https=True) as c:
            r = await c.post(
                f"{API}/products/batch",
                params=auth,
                json={"delete": ["x", held["id"], 999_999]},
            )

        assert 200 == r.status_code
        deleted, missing = r.json()["delete"]
        assert held["id"] == deleted["id"]
        assert "error" in missing
        assert held["id"] not in emu.shop.products
