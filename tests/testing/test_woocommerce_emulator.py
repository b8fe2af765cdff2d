"""
The WooCommerce emulator in process (through ``httpx.ASGITransport``):
Basic auth over https, OAuth over http with duplicated parameters, media
uploads, images, variations, faults and the request log.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
from woocommerce import API as WooApi  # type: ignore[import-untyped]

from ecomsync.testing.woocommerce import (
    Faults,
    Shop,
    WooCommerceEmulator,
    serve,
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


def _woo_api(url: str) -> Any:
    """WooCommerce's own Python client for the emulator served at *url*."""
    return WooApi(
        url=url,
        consumer_key=KEY,
        consumer_secret=SECRET,
        version="wc/v3",
        timeout=10,
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

    async def test_slugs_unique_filter_and_delete(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A second file of one name gets the slug "<stem>-2"
        (``wp_unique_post_slug``); ``slug=`` filters the listing; an
        attachment is deleted only with ``force=true`` and by a user.
        """
        headers = {
            "content-disposition": 'attachment; filename="Logo.jpg"',
            "content-type": "image/jpeg",
        }
        url = "/wp-json/wp/v2/media"
        async with _client(emu, auth=("bot", "emulatorapppassword0000")) as c:
            first = (await c.post(url, content=b"a", headers=headers)).json()
            second = (await c.post(url, content=b"a", headers=headers)).json()
            listed = await c.get(url, params={"slug": "logo,other"})
            trash = await c.delete(f"{url}/{second['id']}")
            deleted = await c.delete(
                f"{url}/{second['id']}", params={"force": "true"}
            )
            again = await c.delete(
                f"{url}/{second['id']}", params={"force": "true"}
            )
        async with _client(emu, auth=None) as c:
            anonymous = await c.delete(
                f"{url}/{first['id']}", params={"force": "true"}
            )

        assert ("logo", "logo-2") == (first["slug"], second["slug"])
        assert [first["id"]] == [r["id"] for r in listed.json()]
        assert (501, "rest_trash_not_supported") == (
            trash.status_code,
            trash.json()["code"],
        )
        assert 200 == deleted.status_code
        assert deleted.json()["deleted"] is True
        assert 404 == again.status_code
        assert 401 == anonymous.status_code
        assert [first["id"]] == list(emu.shop.media)

    async def test_media_reads_check_a_given_password(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Reading media is public, but given credentials are checked as on
        any wp/v2 route (401 with WordPress' error for a wrong password or
        user), and a listing with context=edit needs a user.
        """
        url = "/wp-json/wp/v2/media"
        edit = {"context": "edit", "per_page": "1"}
        async with _client(emu, auth=None) as c:
            public = await c.get(url)
            anonymous_edit = await c.get(url, params=edit)
        async with _client(emu, auth=("bot", "emulatorapppassword0000")) as c:
            edit_ok = await c.get(url, params=edit)
        async with _client(emu, auth=("bot", "wrong")) as c:
            wrong = await c.get(url, params=edit)
            wrong_one = await c.get(f"{url}/1")
        async with _client(emu, auth=("nobody", "x")) as c:
            nobody = await c.get(url)

        assert (200, 200) == (public.status_code, edit_ok.status_code)
        assert (401, "rest_forbidden_context") == (
            anonymous_edit.status_code,
            anonymous_edit.json()["code"],
        )
        assert 401 == wrong.status_code == wrong_one.status_code
        assert {
            "code": "incorrect_password",
            "message": "The provided password is an invalid application "
            "password.",
            "data": {"status": 401},
        } == wrong.json()
        assert "incorrect_password" == wrong_one.json()["code"]
        assert (401, "invalid_username") == (
            nobody.status_code,
            nobody.json()["code"],
        )

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


class TestSkus:
    @pytest.mark.parametrize(
        ("sent", "stored"),
        [
            ("  A  1\t", "A 1"),
            ("B<b>1</b>", "B1"),
            ("C<script>x</script>1", "C1"),
            ("D < 1", "D &lt; 1"),
            ("E%411", "E1"),
            # PHP's trim: spaces, tabs, line breaks, NUL and VT only
            ("F-1\u00a0", "F-1\u00a0"),
            ("\u3000G-1", "\u3000G-1"),
        ],
    )
    async def test_sku_is_cleaned(
        self, emu: WooCommerceEmulator, sent: str, stored: str
    ) -> None:
        """An SKU is stored as wc_clean (sanitize_text_field) leaves it:
        white space trimmed and collapsed, tags and %-escapes removed."""
        async with _client(emu) as c:
            r = await c.post(
                f"{API}/products", json={"name": "p", "sku": sent}
            )

        assert stored == r.json()["sku"]


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

    async def test_order_status_moves_stock(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        An order takes its units off stock as WooCommerce does: not while
        ``pending`` (unpaid), once when it turns ``processing`` (paid) or
        ``on-hold``, back when it turns ``pending`` or ``cancelled``;
        a product not managing stock keeps its quantity.
        """
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "manage_stock": True}
        )
        emu.shop.create_product({"name": "Cap", "sku": "C-1"})
        async with _client(emu) as c:
            await c.put(
                f"{API}/products/{emu.shop.product_by_sku('H-1')}",
                json={"stock_quantity": 10},
            )
        oid = emu.place_order(
            status="pending",
            lines=[
                {"sku": "H-1", "quantity": 3, "price": "1.00"},
                {"sku": "C-1", "quantity": 1, "price": "1.00"},
            ],
        )
        hat = emu.shop.products[emu.shop.product_by_sku("H-1")]
        seen = [hat["stock_quantity"]]
        for status in ("processing", "on-hold", "pending", "on-hold"):
            async with _client(emu) as c:
                await c.put(f"{API}/orders/{oid}", json={"status": status})
            seen.append(hat["stock_quantity"])
        async with _client(emu) as c:
            await c.put(f"{API}/orders/{oid}", json={"status": "cancelled"})
        seen.append(hat["stock_quantity"])
        paid = emu.place_order(
            lines=[{"sku": "H-1", "quantity": 2, "price": "1.00"}]
        )

        assert [10, 7, 7, 10, 7, 10] == seen
        assert "processing" == emu.shop.orders[paid]["status"]
        assert 8 == hat["stock_quantity"]
        assert "instock" == hat["stock_status"]
        cap = emu.shop.products[emu.shop.product_by_sku("C-1")]
        assert cap["stock_quantity"] is None

    async def test_order_shows_its_taken_stock_and_payment(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        As WooCommerce's REST API does, an order's line item lists its
        ``_reduced_stock`` meta while its units are off stock (also once
        it turns ``failed``, which moves no stock) and not once they are
        back; ``date_paid_gmt`` is set when it first turns ``processing``
        and stays.
        """
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "manage_stock": True}
        )
        oid = emu.place_order(
            status="on-hold",
            lines=[{"sku": "H-1", "quantity": 3, "price": "1.00"}],
        )
        seen = []
        for status in ("on-hold", "failed", "processing", "pending"):
            async with _client(emu) as c:
                if status != "on-hold":
                    await c.put(f"{API}/orders/{oid}", json={"status": status})
                order = (await c.get(f"{API}/orders/{oid}")).json()
            (line,) = order["line_items"]
            taken = [
                m["value"]
                for m in line["meta_data"]
                if m["key"] == "_reduced_stock"
            ]
            seen.append((status, taken, order["date_paid_gmt"] is not None))

        assert [
            ("on-hold", ["3"], False),
            ("failed", ["3"], False),
            ("processing", ["3"], True),
            ("pending", [], True),
        ] == seen

    async def test_rest_order_set_paid_takes_stock_and_payment(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        ``POST /orders`` with ``set_paid: true`` completes the payment as
        WooCommerce's ``payment_complete`` does: ``processing``,
        ``date_paid``, the units off stock with ``_reduced_stock``; with
        ``set_paid: false`` the order is ``pending`` and moves nothing.
        """
        hat = emu.shop.create_product(
            {
                "name": "Hat",
                "sku": "H-1",
                "regular_price": "4.00",
                "manage_stock": True,
                "stock_quantity": 10,
            }
        )
        lines = [{"sku": "H-1", "quantity": 3}]
        async with _client(emu) as c:
            paid = (
                await c.post(
                    f"{API}/orders",
                    json={
                        "line_items": lines,
                        "set_paid": True,
                        "transaction_id": "tx-1",
                    },
                )
            ).json()
            after_paid = hat["stock_quantity"]
            unpaid = (
                await c.post(
                    f"{API}/orders",
                    json={"line_items": lines, "set_paid": False},
                )
            ).json()
            notes = (await c.get(f"{API}/orders/{paid['id']}/notes")).json()

        assert ("processing", "tx-1") == (
            paid["status"],
            paid["transaction_id"],
        )
        assert paid["date_paid_gmt"] is not None
        assert "rest-api" == paid["created_via"]
        assert [{"key": "_reduced_stock", "value": "3"}] == [
            {"key": m["key"], "value": m["value"]}
            for m in paid["line_items"][0]["meta_data"]
        ]
        assert 7 == after_paid
        assert ["Order status changed from pending to processing."] == [
            n["note"] for n in notes
        ]
        assert ("pending", None) == (unpaid["status"], unpaid["date_paid_gmt"])
        assert [] == unpaid["line_items"][0]["meta_data"]
        assert 7 == hat["stock_quantity"]

    async def test_rest_status_change_moves_stock_and_set_paid_pays(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A REST-created order's status set to ``cancelled`` gives its units
        back; ``set_paid`` on the pending order pays it (its stock taken
        again); ``set_paid`` on a paid order changes nothing.
        """
        hat = emu.shop.create_product(
            {
                "name": "Hat",
                "sku": "H-1",
                "regular_price": "4.00",
                "manage_stock": True,
                "stock_quantity": 10,
            }
        )
        async with _client(emu) as c:
            order = (
                await c.post(
                    f"{API}/orders",
                    json={
                        "line_items": [{"sku": "H-1", "quantity": 2}],
                        "status": "on-hold",
                    },
                )
            ).json()
            oid = order["id"]
            held = hat["stock_quantity"]
            cancelled = (
                await c.put(
                    f"{API}/orders/{oid}", json={"status": "cancelled"}
                )
            ).json()
            back = hat["stock_quantity"]
            pending = (
                await c.put(f"{API}/orders/{oid}", json={"status": "pending"})
            ).json()
            paid = (
                await c.put(f"{API}/orders/{oid}", json={"set_paid": True})
            ).json()
            again = (
                await c.put(f"{API}/orders/{oid}", json={"set_paid": "true"})
            ).json()
            bad = await c.put(f"{API}/orders/{oid}", json={"set_paid": "x"})

        assert ("on-hold", 8) == (order["status"], held)
        assert (None, 10) == (cancelled["date_paid_gmt"], back)
        assert [] == cancelled["line_items"][0]["meta_data"]
        assert "pending" == pending["status"]
        assert ("processing", 8) == (paid["status"], hat["stock_quantity"])
        assert paid["date_paid_gmt"] is not None
        assert paid["date_paid_gmt"] == again["date_paid_gmt"]
        assert 400 == bad.status_code
        assert "rest_invalid_param" == bad.json()["code"]

    def test_an_order_numbered_by_a_free_id_keeps_it(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        An order placed with the number ``101`` took id 101, and the next
        order placed under a plugin number was given id 101 again: it
        replaced the first without a word.  A post id is taken once, as
        WordPress' auto-increment takes it; a number whose id a product
        holds is a plugin number on an id of its own.
        """
        product = emu.shop.create_product({"name": "Hut", "sku": "H-1"})["id"]
        first = emu.place_order(number=str(product + 1), total="1.00")
        second = emu.place_order(number="W-1", total="2.00")
        third = emu.place_order(number=str(product), total="3.00")

        assert (product + 1, product + 2) == (first, second)
        assert third not in (product, first, second)
        assert [str(product + 1), "W-1", str(product)] == [
            emu.shop.orders[i]["number"] for i in (first, second, third)
        ]

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

    async def test_order_batch_creates_orders_as_post_does(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A batch's ``create`` makes orders as ``POST /orders`` does (it
        answered "The emulator does not create orders"): ``set_paid``
        pays and takes the stock, an unknown status is ``pending``, an
        item with an id or an unknown product fails on its own.
        """
        hat = emu.shop.create_product(
            {
                "name": "Hat",
                "sku": "H-1",
                "regular_price": "4.00",
                "manage_stock": True,
                "stock_quantity": 10,
            }
        )
        lines = [{"sku": "H-1", "quantity": 2}]
        async with _client(emu) as c:
            r = await c.post(
                f"{API}/orders/batch",
                json={
                    "create": [
                        {"line_items": lines, "set_paid": True},
                        {"line_items": lines, "status": "shipped"},
                        {"id": 5, "line_items": lines},
                        {"line_items": [{"product_id": 999}]},
                    ]
                },
            )

        paid, unknown, with_id, bad_line = r.json()["create"]
        assert ("processing", "8.00") == (paid["status"], paid["total"])
        assert paid["date_paid_gmt"] is not None
        assert "pending" == unknown["status"]
        assert (
            "woocommerce_rest_shop_order_exists" == (with_id["error"]["code"])
        )
        assert (
            "woocommerce_rest_invalid_product_id"
            == (bad_line["error"]["code"])
        )
        assert 8 == hat["stock_quantity"]
        assert 2 == len(emu.shop.orders)

    async def test_order_post_takes_shipping_and_fee_lines(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        ``POST /orders`` with ``shipping_lines`` and ``fee_lines`` lists
        them and counts them in ``total`` and ``shipping_total``, as
        ``calculate_totals`` does (it answered the line items' sum); a
        shipping line without ``method_id`` or a fee without ``name`` is
        refused as WooCommerce refuses it, no order made.
        """
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "regular_price": "4.00"}
        )
        lines = [{"sku": "H-1", "quantity": 2}]
        async with _client(emu) as c:
            made = await c.post(
                f"{API}/orders",
                json={
                    "line_items": lines,
                    "shipping_lines": [
                        {
                            "method_id": "flat_rate",
                            "method_title": "Flat rate",
                            "total": "4.90",
                        }
                    ],
                    "fee_lines": [
                        {"name": "Gift wrap", "total": "1.50"},
                        {"name": "Goodwill", "total": "-0.40"},
                    ],
                },
            )
            no_method = await c.post(
                f"{API}/orders",
                json={"line_items": lines, "shipping_lines": [{"total": "1"}]},
            )
            no_name = await c.post(
                f"{API}/orders",
                json={"line_items": lines, "fee_lines": [{"total": "1"}]},
            )

        order = made.json()
        assert 201 == made.status_code
        assert ("14.00", "4.90") == (order["total"], order["shipping_total"])
        assert [("flat_rate", "Flat rate", "4.90")] == [
            (s["method_id"], s["method_title"], s["total"])
            for s in order["shipping_lines"]
        ]
        assert [("Gift wrap", "1.50"), ("Goodwill", "-0.40")] == [
            (f["name"], f["total"]) for f in order["fee_lines"]
        ]
        assert (400, "woocommerce_rest_invalid_shipping_item") == (
            no_method.status_code,
            no_method.json()["code"],
        )
        assert (400, "woocommerce_rest_invalid_fee_item") == (
            no_name.status_code,
            no_name.json()["code"],
        )
        assert [order["id"]] == list(emu.shop.orders)

    async def test_order_post_refuses_a_coupon_the_shop_lacks(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        ``coupon_lines`` are refused as WooCommerce refuses a coupon it
        does not have (the emulator has none), instead of being dropped
        with the discount: 400 ``woocommerce_rest_invalid_coupon``; the
        order ``calculate_totals`` saved before stays, ``pending`` and
        unpaid, as in WooCommerce.
        """
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "regular_price": "4.00"}
        )
        async with _client(emu) as c:
            r = await c.post(
                f"{API}/orders",
                json={
                    "line_items": [{"sku": "H-1", "quantity": 2}],
                    "coupon_lines": [{"code": "SAVE10"}],
                    "status": "processing",
                    "set_paid": True,
                },
            )

        assert 400 == r.status_code
        assert {
            "code": "woocommerce_rest_invalid_coupon",
            "message": 'Coupon "save10" does not exist!',
        }.items() <= r.json().items()
        (left,) = emu.shop.orders.values()
        assert ("pending", None, "8.00") == (
            left["status"],
            left["date_paid_gmt"],
            left["total"],
        )


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


class TestResources:
    async def test_categories_crud(self, emu: WooCommerceEmulator) -> None:
        """
        Categories read, update (no cycles, known parents) and delete.
        """
        async with _client(emu) as c:
            a = (
                await c.post(f"{API}/products/categories", json={"name": "A"})
            ).json()
            b = (
                await c.post(
                    f"{API}/products/categories",
                    json={"name": "B", "parent": a["id"], "slug": "bee"},
                )
            ).json()
            read = await c.get(f"{API}/products/categories/{b['id']}")
            cycle = await c.put(
                f"{API}/products/categories/{a['id']}",
                json={"parent": b["id"]},
            )
            unknown_parent = await c.post(
                f"{API}/products/categories", json={"name": "C", "parent": 999}
            )
            nameless = await c.post(f"{API}/products/categories", json={})
            renamed = await c.put(
                f"{API}/products/categories/{b['id']}",
                json={"name": "Bee", "slug": "a", "description": "d"},
            )
            listed = await c.get(
                f"{API}/products/categories",
                params={"search": "bee", "orderby": "id", "order": "desc"},
            )
            missing = await c.get(f"{API}/products/categories/999")
            default = await c.delete(
                f"{API}/products/categories/15", params={"force": "true"}
            )
            gone = await c.delete(
                f"{API}/products/categories/{a['id']}",
                params={"force": "true"},
            )

        assert "bee" == read.json()["slug"]
        assert "woocommerce_rest_term_invalid" == cycle.json()["code"]
        assert 400 == unknown_parent.status_code
        assert "empty_term_name" == nameless.json()["code"]
        assert "a-2" == renamed.json()["slug"]
        assert ["Bee"] == [r["name"] for r in listed.json()]
        assert 404 == missing.status_code
        assert 500 == default.status_code
        assert 200 == gone.status_code
        assert 0 == emu.shop.categories[b["id"]]["parent"]

    async def test_products_filters_and_errors(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Listing filters by type, category, status and search_sku; bad
        arguments are rest_invalid_param.
        """
        async with _client(emu) as c:
            cat = (
                await c.post(f"{API}/products/categories", json={"name": "K"})
            ).json()["id"]
            await c.post(
                f"{API}/products",
                json={
                    "name": "a",
                    "sku": "AB-1",
                    "categories": [{"id": cat}, {"id": 999}],
                },
            )
            await c.post(
                f"{API}/products",
                json={"name": "b", "sku": "XY", "status": "draft"},
            )
            by_cat = await c.get(f"{API}/products", params={"category": cat})
            drafts = await c.get(f"{API}/products", params={"status": "draft"})
            partial = await c.get(
                f"{API}/products", params={"search_sku": "b-"}
            )
            simple = await c.get(
                f"{API}/products", params={"type": "simple", "orderby": "id"}
            )
            bad_order = await c.get(f"{API}/products", params={"orderby": "x"})
            bad_dir = await c.get(f"{API}/products", params={"order": "up"})
            bad_page = await c.get(f"{API}/products", params={"page": "0"})
            bad_int = await c.get(f"{API}/products", params={"page": "x"})
            bad_type = await c.post(
                f"{API}/products", json={"name": "c", "type": "weird"}
            )
            with_id = await c.post(f"{API}/products", json={"id": 5})
            bad_json = await c.post(
                f"{API}/products",
                content=b"{",
                headers={"content-type": "application/json"},
            )
            offset = await c.get(
                f"{API}/products", params={"offset": "1", "per_page": "1"}
            )

        assert ["AB-1"] == [p["sku"] for p in by_cat.json()]
        assert [{"id": cat, "name": "K", "slug": "k"}] == (
            by_cat.json()[0]["categories"]
        )
        assert ["XY"] == [p["sku"] for p in drafts.json()]
        assert ["AB-1"] == [p["sku"] for p in partial.json()]
        assert 2 == len(simple.json())
        for bad in (bad_order, bad_dir, bad_page, bad_int, bad_type):
            assert "rest_invalid_param" == bad.json()["code"]
        assert "woocommerce_rest_product_exists" == with_id.json()["code"]
        assert "rest_invalid_json" == bad_json.json()["code"]
        assert 1 == len(offset.json())

    async def test_products_include_lists_products_only(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        ``products?include=`` lists the products among the ids, drafts
        too (status ``any``), as ``WC_REST_Products_Controller`` does:
        post type ``product`` only (no variation) and no trash; more
        than 100 a page is refused.
        """
        shop = emu.shop
        draft = shop.create_product({"name": "d", "status": "draft"})["id"]
        shirt = shop.create_product({"name": "s", "type": "variable"})
        variation = shop.create_product({"sku": "S-1"}, parent=shirt)["id"]
        trashed = shop.create_product({"name": "t"})["id"]
        shop.products[trashed]["status"] = "trash"
        ids = [draft, shirt["id"], variation, trashed, 99_999]
        async with _client(emu) as c:
            listed = await c.get(
                f"{API}/products",
                params={"include": ",".join(map(str, ids)), "per_page": 100},
            )
            too_many = await c.get(f"{API}/products", params={"per_page": 101})

        assert [shirt["id"], draft] == [p["id"] for p in listed.json()]
        assert "rest_invalid_param" == too_many.json()["code"]

    async def test_orders_customers_and_notes(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        Orders created through the API price their lines; customer notes
        filter; customers list and read.
        """
        emu.shop.customers[3] = {
            "id": 3,
            "email": "k@example.com",
            "first_name": "K",
            "last_name": "L",
            "date_created_gmt": "2026-01-01T00:00:00",
        }
        async with _client(emu) as c:
            pid = (
                await c.post(
                    f"{API}/products",
                    json={"name": "p", "sku": "P-1", "regular_price": "2.50"},
                )
            ).json()["id"]
            order = (
                await c.post(
                    f"{API}/orders",
                    json={
                        "line_items": [
                            {"sku": "P-1", "quantity": 2},
                            {"product_id": pid},
                        ],
                        "billing": {"email": "x@example.com"},
                    },
                )
            ).json()
            bad_line = await c.post(
                f"{API}/orders", json={"line_items": [{"product_id": 9}]}
            )
            with_id = await c.post(f"{API}/orders", json={"id": 1})
            await c.post(
                f"{API}/orders/{order['id']}/notes",
                json={"note": "intern"},
            )
            await c.post(
                f"{API}/orders/{order['id']}/notes",
                json={"note": "kunde", "customer_note": True},
            )
            empty_note = await c.post(
                f"{API}/orders/{order['id']}/notes", json={}
            )
            customer_notes = await c.get(
                f"{API}/orders/{order['id']}/notes",
                params={"type": "customer"},
            )
            internal = await c.get(
                f"{API}/orders/{order['id']}/notes",
                params={"type": "internal"},
            )
            meta = await c.put(
                f"{API}/orders/{order['id']}",
                json={"meta_data": [{"key": "k", "value": 1}]},
            )
            by_customer = await c.get(
                f"{API}/orders", params={"customer": "0", "status": "pending"}
            )
            customers = await c.get(
                f"{API}/customers", params={"email": "K@example.com"}
            )
            customer = await c.get(f"{API}/customers/3")
            no_customer = await c.get(f"{API}/customers/4")
            no_order = await c.get(f"{API}/orders/99999")
            no_notes = await c.get(f"{API}/orders/99999/notes")

        assert "7.50" == order["total"]
        assert "pending" == order["status"]
        assert (
            "woocommerce_rest_invalid_product_id" == (bad_line.json()["code"])
        )
        assert "woocommerce_rest_shop_order_exists" == with_id.json()["code"]
        assert "rest_missing_callback_param" == empty_note.json()["code"]
        assert ["kunde"] == [n["note"] for n in customer_notes.json()]
        assert ["intern"] == [n["note"] for n in internal.json()]
        assert [{"id": 1, "key": "k", "value": 1}] == meta.json()["meta_data"]
        assert [order["id"]] == [o["id"] for o in by_customer.json()]
        assert [3] == [r["id"] for r in customers.json()]
        assert "K" == customer.json()["first_name"]
        assert 404 == no_customer.status_code
        assert 404 == no_order.status_code
        assert 404 == no_notes.status_code

    async def test_media_refusals(self, emu: WooCommerceEmulator) -> None:
        """
        An upload without data, name, a known type or a valid password is
        refused as WordPress refuses it.
        """
        good = ("bot", "emulatorapppassword0000")
        name = {"content-disposition": 'attachment; filename="a.exe"'}
        async with _client(emu, auth=good) as c:
            empty = await c.post("/wp-json/wp/v2/media", content=b"")
            unnamed = await c.post("/wp-json/wp/v2/media", content=b"x")
            exe = await c.post(
                "/wp-json/wp/v2/media",
                content=b"x",
                headers={**name, "content-type": "application/x-msdownload"},
            )
            missing = await c.get("/wp-json/wp/v2/media/999")
        async with _client(emu, auth=("bot", "wrong")) as c:
            wrong = await c.post("/wp-json/wp/v2/media", content=b"x")
        async with _client(emu, auth=("nobody", "x")) as c:
            nobody = await c.post("/wp-json/wp/v2/media", content=b"x")

        assert "rest_upload_no_data" == empty.json()["code"]
        assert "rest_upload_no_content_disposition" == unnamed.json()["code"]
        assert "rest_upload_sideload_error" == exe.json()["code"]
        assert 404 == missing.status_code
        assert "incorrect_password" == wrong.json()["code"]
        assert "invalid_username" == nobody.json()["code"]


class TestServe:
    def test_serve_on_loopback(self) -> None:
        """
        serve() runs the emulator on a free port for real sockets.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        with serve(emu) as url:
            r = httpx.get(f"{url}{API}")

        assert 200 == r.status_code
        assert url.startswith("http://127.0.0.1:")


class TestShop:
    def test_positional_arguments_keep_their_places(self) -> None:
        """The documented `Shop`'s arguments after ``notes`` keep their
        positions: the refunds table is keyword-only, not a new
        ninth positional argument that took the customers."""
        customers: dict[int, dict[str, Any]] = {7: {"id": 7}}
        shop = Shop(
            ZoneInfo("UTC"), True, False, {}, {}, {}, {}, {}, customers
        )
        assert customers is shop.customers
        assert {} == shop.refunds
        assert {3: []} == Shop(refunds={3: []}).refunds


class TestSkuCollation:
    @pytest.mark.parametrize(
        ("first", "second", "same"),
        [
            ("A-1", "a-1", True),
            ("A-1", "\ufeffA-1", True),  # a byte order mark weighs nothing
            ("A-1", "A-\u200b1", True),  # nor does a zero-width space
            ("LO-1", "LØ-1", True),  # Ø is O in unicode_520_ci
            ("AE-1", "Æ-1", True),
            ("Й-1", "И-1", False),  # two letters to the collation
            ("A-1", "A-1\u00b4", False),  # an acute accent is a symbol
            ("A\u00b41", "A\u00a81", False),  # acute, diaeresis: two
        ],
    )
    def test_unique_as_the_collation(
        self, first: str, second: str, same: bool
    ) -> None:
        """Through WooCommerce's own client: an SKU is unique as
        utf8mb4_unicode_520_ci compares it, and ?sku= finds by it."""
        emu = WooCommerceEmulator(KEY, SECRET)
        with serve(emu) as url:
            wc = _woo_api(url)
            owner = wc.post("products", {"name": "a", "sku": first}).json()
            r = wc.post("products", {"name": "b", "sku": second})
            found = wc.get("products", params={"sku": second}).json()

        if same:
            assert 400 == r.status_code
            assert "product_invalid_sku" == r.json()["code"]
            assert owner["id"] == r.json()["data"]["resource_id"]
            assert [owner["id"]] == [p["id"] for p in found]
        else:
            assert 201 == r.status_code, r.json()
            assert [r.json()["id"]] == [p["id"] for p in found]

    def test_trashed_product_does_not_hold_its_sku(self) -> None:
        """A product in the trash neither holds its SKU
        (is_existing_sku: post_status != 'trash') nor is listed."""
        emu = WooCommerceEmulator(KEY, SECRET)
        with serve(emu) as url:
            wc = _woo_api(url)
            old = wc.post("products", {"name": "a", "sku": "T-1"}).json()
            emu.shop.products[old["id"]]["status"] = "trash"
            r = wc.post("products", {"name": "b", "sku": "t-1"})
            found = wc.get("products", params={"sku": "T-1"}).json()

        assert 201 == r.status_code, r.json()
        assert [r.json()["id"]] == [p["id"] for p in found]
