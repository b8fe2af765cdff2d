"""
The WooCommerce emulator in process (through ``httpx.ASGITransport``):
Basic auth over https, OAuth over http with duplicated parameters, media
uploads, images, variations, faults and the request log.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from ecomsync.testing.woocommerce import (
    Faults,
    WooCommerceEmulator,
    sign,
)


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_test", "cs_test"
API = "/wp-json/wc/v3"


@pytest.fixture(name="emu")
def _emu() -> WooCommerceEmulator:
    return WooCommerceEmulator(KEY, SECRET, wp_user="bot")


def _client(
    emu: WooCommerceEmulator, *, https: bool = True, auth: Any = (KEY, SECRET)
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="https://shop.test" if https else "http://shop.test",
        auth=auth,
    )


class TestAuth:
    async def test_basic_over_https(self, emu: WooCommerceEmulator) -> None:
        """
        Basic auth with the key pair works over https.
        """
        async with _client(emu) as c:
            r = await c.get(f"{API}/products")

        assert 200 == r.status_code
        assert "0" == r.headers["x-wp-total"]

    async def test_wrong_basic_secret(self, emu: WooCommerceEmulator) -> None:
        """
        A wrong secret over Basic is 401 with WWW-Authenticate.
        """
        async with _client(emu, auth=(KEY, "nope")) as c:
            r = await c.get(f"{API}/products")

        assert 401 == r.status_code
        assert "Consumer secret is invalid." == r.json()["message"]
        assert "WooCommerce API" in r.headers["www-authenticate"]

    async def test_basic_ignored_over_http(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Over plain http Basic is not tried: the request is anonymous.
        """
        async with _client(emu, https=False) as c:
            r = await c.get(f"{API}/products")

        assert 401 == r.status_code
        assert "woocommerce_rest_cannot_view" == r.json()["code"]

    async def test_query_keys_over_https(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        consumer_key/consumer_secret in the query authenticate over https.
        """
        async with _client(emu, auth=None) as c:
            r = await c.get(
                f"{API}/products",
                params={"consumer_key": KEY, "consumer_secret": SECRET},
            )

        assert 200 == r.status_code

    async def test_oauth_with_duplicated_params_last_wins(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A duplicated parameter is read last-wins, as PHP reads $_GET.
        """
        url = f"http://shop.test{API}/products"
        params = {
            "per_page": "1",
            "oauth_consumer_key": KEY,
            "oauth_timestamp": str(int(time.time())),
            "oauth_nonce": "n1",
            "oauth_signature_method": "HMAC-SHA1",
        }
        params["oauth_signature"] = sign("GET", url, params, SECRET, "sha1")
        query = "per_page=7&" + httpx.QueryParams(params).__str__()
        async with _client(emu, https=False, auth=None) as c:
            await c.post(
                f"{API}/products/categories/batch",
                params={"consumer_key": KEY},
            )
            ok = await c.get(f"{url}?{query}")
            replay = await c.get(f"{url}?{query}")

        assert 200 == ok.status_code, ok.json()
        assert (
            "Invalid nonce - nonce has already been used."
            == (replay.json()["message"])
        )

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"oauth_timestamp": "1"}, "Invalid timestamp."),
            ({"oauth_signature_method": "PLAIN"}, "signature method"),
            ({"oauth_signature": "x"}, "does not match"),
            ({"oauth_nonce": ""}, "Missing OAuth parameter oauth_nonce"),
        ],
    )
    async def test_oauth_failures(
        self,
        emu: WooCommerceEmulator,
        change: dict[str, str],
        message: str,
    ) -> None:
        """
        Each broken OAuth piece is a 401 saying which.
        """
        url = f"http://shop.test{API}/products"
        params = {
            "oauth_consumer_key": KEY,
            "oauth_timestamp": str(int(time.time())),
            "oauth_nonce": "n2",
            "oauth_signature_method": "HMAC-SHA256",
        }
        params.update(change)
        params["oauth_signature"] = change.get(
            "oauth_signature", sign("GET", url, params, SECRET)
        )
        async with _client(emu, https=False, auth=None) as c:
            r = await c.get(url, params=params)

        assert 401 == r.status_code
        assert message in r.json()["message"]

    async def test_read_only_key(self, emu: WooCommerceEmulator) -> None:
        """
        A read key cannot write; a write key cannot read.
        """
        emu.add_key("ck_r", "cs_r", "read")
        emu.add_key("ck_w", "cs_w", "write")
        async with _client(emu, auth=("ck_r", "cs_r")) as c:
            write = await c.post(f"{API}/products", json={"name": "x"})
        async with _client(emu, auth=("ck_w", "cs_w")) as c:
            read = await c.get(f"{API}/products")

        assert "write permissions" in write.json()["message"]
        assert "read permissions" in read.json()["message"]

    async def test_index_and_no_route(self, emu: WooCommerceEmulator) -> None:
        """
        The index needs no key; an unknown route is rest_no_route.
        """
        async with _client(emu) as c:
            index = await c.get(API)
            missing = await c.get(f"{API}/nothing")
            plain = await c.get("/", params={"rest_route": "/wc/v3/products"})

        assert "wc/v3" == index.json()["namespace"]
        assert "rest_no_route" == missing.json()["code"]
        assert 200 == plain.status_code


class TestMediaAndImages:
    async def test_upload_needs_application_password(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        wp/v2/media takes a WordPress application password, not a key.
        """
        headers = {
            "content-disposition": 'attachment; filename="a.jpg"',
            "content-type": "image/jpeg",
        }
        async with _client(emu) as c:
            by_key = await c.post(
                "/wp-json/wp/v2/media", content=b"jpg", headers=headers
            )
        async with _client(emu, auth=("bot", "emulatorapppassword0000")) as c:
            ok = await c.post(
                "/wp-json/wp/v2/media", content=b"jpg", headers=headers
            )
            read = await c.get(f"/wp-json/wp/v2/media/{ok.json()['id']}")

        assert 401 == by_key.status_code
        assert 201 == ok.status_code
        assert "image" == read.json()["media_type"]
        assert emu.shop.media[ok.json()["id"]].size == 3

    async def test_images_replace_and_src_failure(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        images[] replaces all; a bad id or unreachable src aborts the item.
        """
        one = emu.shop.add_media(b"1", "1.jpg", "image/jpeg").id
        two = emu.shop.add_media(b"2", "2.jpg", "image/jpeg").id
        pdf = emu.shop.add_media(b"%PDF", "d.pdf", "application/pdf").id
        emu.shop.remote_files["https://img.test/x.png"] = (b"x", "image/png")
        async with _client(emu) as c:
            p = await c.post(
                f"{API}/products",
                json={"name": "p", "images": [{"id": two}, {"id": one}]},
            )
            pid = p.json()["id"]
            again = await c.put(
                f"{API}/products/{pid}",
                json={"images": [{"src": "https://img.test/x.png"}]},
            )
            bad_id = await c.put(
                f"{API}/products/{pid}", json={"images": [{"id": pdf}]}
            )
            bad_src = await c.post(
                f"{API}/products",
                json={"name": "q", "images": [{"src": "http://10.0.0.1/a"}]},
            )

        assert [two, one] == [i["id"] for i in p.json()["images"]]
        (new,) = again.json()["images"]
        assert new["id"] not in (one, two)
        assert "woocommerce_product_invalid_image_id" == bad_id.json()["code"]
        assert (
            "woocommerce_product_image_upload_error"
            == (bad_src.json()["code"])
        )
        assert 1 == len(emu.shop.products)


class TestVariations:
    async def test_variation_batch(self, emu: WooCommerceEmulator) -> None:
        """
        Variations batch under their parent, with SKUs unique shop-wide.
        """
        async with _client(emu) as c:
            parent = (
                await c.post(
                    f"{API}/products",
                    json={"name": "shirt", "type": "variable", "sku": "S"},
                )
            ).json()["id"]
            r = await c.post(
                f"{API}/products/{parent}/variations/batch",
                json={
                    "create": [
                        {"sku": "S-1", "regular_price": "1.00"},
                        {"sku": "S", "regular_price": "1.00"},
                    ]
                },
            )
            listed = await c.get(f"{API}/products/{parent}/variations")
            vid = listed.json()[0]["id"]
            upd = await c.put(
                f"{API}/products/{parent}/variations/{vid}",
                json={"manage_stock": True, "stock_quantity": 3},
            )
            gone = await c.delete(f"{API}/products/{parent}/variations/{vid}")
            orphan = await c.get(f"{API}/products/999/variations")

        ok, dup = r.json()["create"]
        assert "S-1" == ok["sku"]
        assert "product_invalid_sku" == dup["error"]["code"]
        assert 3 == upd.json()["stock_quantity"]
        assert 200 == gone.status_code
        assert 404 == orphan.status_code


class TestOrders:
    async def test_local_dates_without_gmt(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Without dates_are_gmt the filter compares the site's local dates.
        """
        moment = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # 14:00 in Berlin
        emu.place_order(number="7", created_at=moment)
        async with _client(emu) as c:
            local = await c.get(
                f"{API}/orders", params={"after": "2026-06-01T13:30:00"}
            )
            gmt = await c.get(
                f"{API}/orders",
                params={"after": "2026-06-01T13:30:00", "dates_are_gmt": "1"},
            )

        assert [7] == [o["id"] for o in local.json()]
        assert [] == gmt.json()

    async def test_order_batch_and_bad_status(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Orders batch-update per item; an unknown status is refused.
        """
        emu.place_order(number="8", created_at=datetime.now(UTC))
        async with _client(emu) as c:
            r = await c.post(
                f"{API}/orders/batch",
                json={
                    "update": [
                        {"id": 8, "status": "completed"},
                        {"id": 9, "status": "completed"},
                    ]
                },
            )
            bad = await c.get(f"{API}/orders", params={"status": "shipped"})

        done, missing = r.json()["update"]
        assert "completed" == done["status"]
        assert (
            "woocommerce_rest_shop_order_invalid_id"
            == (missing["error"]["code"])
        )
        assert 400 == bad.status_code


class TestFaults:
    async def test_storm_then_recovery_and_log(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A 429 storm carries Retry-After; the log records every request.
        """
        emu.faults = Faults(storm_next=1, retry_after="2")
        async with _client(emu) as c:
            storm = await c.get(f"{API}/products")
            ok = await c.get(f"{API}/products")

        assert (429, "2") == (storm.status_code, storm.headers["retry-after"])
        assert 200 == ok.status_code
        assert [429, 200] == [r.status for r in emu.requests]

    async def test_reset_drops_the_connection(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        An injected reset surfaces as a transport error.
        """
        emu.faults = Faults(reset_next=1)
        async with _client(emu) as c:
            with pytest.raises(httpx.ReadError):
                await c.get(f"{API}/products")

    async def test_commit_then_timeout(self, emu: WooCommerceEmulator) -> None:
        """
        The write lands although its answer never comes in time.
        """
        emu.faults = Faults(commit_then_timeout=1, hang_s=5)
        async with _client(emu) as c:
            with pytest.raises(TimeoutError), anyio.fail_after(0.2):
                await c.post(
                    f"{API}/products", json={"name": "late", "sku": "L"}
                )

        assert ["L"] == [p["sku"] for p in emu.shop.products.values()]

    async def test_drip(self, emu: WooCommerceEmulator) -> None:
        """
        A dripped body still arrives whole.
        """
        emu.faults = Faults(drip_chunk_bytes=5, drip_interval_ms=1)
        emu.place_order(
            number="5", created_at=datetime.now(UTC) - timedelta(1)
        )
        async with _client(emu) as c:
            r = await c.get(f"{API}/orders/5")

        assert "5" == r.json()["number"]
