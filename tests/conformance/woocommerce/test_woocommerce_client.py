"""
The WooCommerce emulator's command line driven by WooCommerce's own Python
client (PyPI ``woocommerce``), as a host would use it: over plain http the
client signs every request with OAuth 1.0a in the query string and sends
its query parameters twice, so every passing request here also proves the
signature check and PHP's last-wins reading of duplicated parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from woocommerce import API  # type: ignore[import-untyped]

from ecomsync.testing.woocommerce.__main__ import READY

from ..._emulator_process import emulator_process


KEY, SECRET = "ck_conformance", "cs_conformance"
RO_KEY, RO_SECRET = "ck_readonly", "cs_readonly"
_LINE = re.compile(rf"^{READY} base_url=(?P<url>http://\S+) ")


@pytest.fixture(name="base_url", scope="module")
def _base_url() -> Iterator[str]:
    with emulator_process(
        "woocommerce",
        "--consumer-key",
        KEY,
        "--consumer-secret",
        SECRET,
        "--read-only-key",
        RO_KEY,
        RO_SECRET,
    ) as ready:
        assert SECRET not in ready.line
        assert KEY == ready.fields["consumer_key"]
        yield ready.base_url


def _api(url: str, key: str = KEY, secret: str = SECRET) -> Any:
    return API(
        url=url,
        consumer_key=key,
        consumer_secret=secret,
        version="wc/v3",
        timeout=10,
    )


@pytest.fixture(name="wc")
def _wc(base_url: str) -> Any:
    return _api(base_url)


def _sku(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).timestamp():.6f}"


class TestProducts:
    def test_create_read_update_delete(self, wc: Any) -> None:
        """
        Create answers 201 with Location, money as strings, integer ids.
        """
        sku = _sku("P")
        created = wc.post(
            "products",
            {"name": "Hammer", "sku": sku, "regular_price": "9.99"},
        )

        assert 201 == created.status_code
        body = created.json()
        assert isinstance(body["id"], int)
        assert "9.99" == body["regular_price"]
        assert "9.99" == body["price"]
        assert created.headers["Location"].endswith(f"/products/{body['id']}")

        updated = wc.put(f"products/{body['id']}", {"sale_price": "7.50"})

        assert 200 == updated.status_code
        assert "7.50" == updated.json()["price"]
        assert 200 == wc.delete(f"products/{body['id']}").status_code
        assert 404 == wc.get(f"products/{body['id']}").status_code

    def test_unknown_ids(self, wc: Any) -> None:
        """
        An unknown id is 404 on read and 400 on update.
        """
        read = wc.get("products/999999")
        write = wc.put("products/999999", {"name": "x"})

        assert (404, "woocommerce_rest_product_invalid_id") == (
            read.status_code,
            read.json()["code"],
        )
        assert (400, "woocommerce_rest_product_invalid_id") == (
            write.status_code,
            write.json()["code"],
        )

    def test_price_must_be_a_string(self, wc: Any) -> None:
        """
        A number where the schema says string is rest_invalid_param.
        """
        r = wc.post("products", {"name": "x", "regular_price": 9.99})

        assert 400 == r.status_code
        assert "rest_invalid_param" == r.json()["code"]
        assert "regular_price" in r.json()["data"]["params"]

    def test_sku_is_unique_with_resource_id(self, wc: Any) -> None:
        """
        A taken SKU (in any case) is product_invalid_sku naming its owner.
        """
        sku = _sku("U")
        owner = wc.post("products", {"name": "a", "sku": sku}).json()["id"]
        dup = wc.post("products", {"name": "b", "sku": sku.lower()})

        assert 400 == dup.status_code
        error = dup.json()
        assert "product_invalid_sku" == error["code"]
        assert owner == error["data"]["resource_id"]

    def test_lookup_by_sku_is_exact_and_includes_variations(
        self, wc: Any
    ) -> None:
        """
        ?sku=a,b finds exactly those SKUs, variations included.
        """
        a, b = _sku("L1"), _sku("L2")
        wc.post("products", {"name": "a", "sku": a})
        parent = wc.post(
            "products", {"name": "shirt", "type": "variable", "sku": b}
        ).json()["id"]
        variation = wc.post(
            f"products/{parent}/variations",
            {"sku": f"{b}-S", "regular_price": "5.00"},
        )
        wc.post("products", {"name": "c", "sku": f"{a}X"})
        found = wc.get("products", params={"sku": f"{a},{b}-S"})

        assert 201 == variation.status_code
        assert {a, f"{b}-S"} == {p["sku"] for p in found.json()}

    def test_stock_only_when_managed(self, wc: Any) -> None:
        """
        stock_quantity counts only together with manage_stock.
        """
        pid = wc.post("products", {"name": "s", "sku": _sku("S")}).json()["id"]
        ignored = wc.put(f"products/{pid}", {"stock_quantity": 5}).json()
        managed = wc.put(
            f"products/{pid}", {"manage_stock": True, "stock_quantity": 5}
        ).json()

        assert ignored["stock_quantity"] is None
        assert 5 == managed["stock_quantity"]
        assert "instock" == managed["stock_status"]


class TestCategories:
    def test_term_exists_with_resource_id(self, wc: Any) -> None:
        """
        A sibling's name again is term_exists naming the existing term.
        """
        name = _sku("Werkzeug")
        first = wc.post("products/categories", {"name": name})
        child = wc.post(
            "products/categories",
            {"name": "Hämmer", "parent": first.json()["id"]},
        )
        again = wc.post("products/categories", {"name": name})

        assert 201 == first.status_code
        assert first.json()["id"] == child.json()["parent"]
        assert 400 == again.status_code
        assert "term_exists" == again.json()["code"]
        assert first.json()["id"] == again.json()["data"]["resource_id"]

    def test_delete_needs_force(self, wc: Any) -> None:
        """
        Terms cannot be trashed: delete without force is 501.
        """
        term = wc.post("products/categories", {"name": _sku("T")}).json()
        soft = wc.delete(f"products/categories/{term['id']}")
        hard = wc.delete(
            f"products/categories/{term['id']}", params={"force": "true"}
        )

        assert 501 == soft.status_code
        assert "woocommerce_rest_trash_not_supported" == soft.json()["code"]
        assert 200 == hard.status_code


class TestBatch:
    def test_more_than_100_items_is_413(self, wc: Any) -> None:
        """
        Create, update and delete count together against the limit of 100.
        """
        r = wc.post(
            "products/batch",
            {
                "create": [{"name": f"n{i}"} for i in range(60)],
                "update": [{"id": 1, "name": "x"}] * 30,
                "delete": list(range(1, 12)),
            },
        )

        assert 413 == r.status_code
        assert "woocommerce_rest_request_entity_too_large" == r.json()["code"]

    def test_per_item_errors_under_200_without_rollback(self, wc: Any) -> None:
        """
        A failing item answers in its place; the others are written.
        """
        sku = _sku("B")
        r = wc.post(
            "products/batch",
            {
                "create": [
                    {"name": "one", "sku": sku},
                    {"name": "two", "sku": sku},
                    {"name": "three", "sku": f"{sku}-3"},
                ],
                "update": [{"id": 999999, "name": "ghost"}],
            },
        )

        assert 200 == r.status_code
        create = r.json()["create"]
        assert sku == create[0]["sku"]
        assert "product_invalid_sku" == create[1]["error"]["code"]
        assert create[0]["id"] == create[1]["error"]["data"]["resource_id"]
        assert f"{sku}-3" == create[2]["sku"]
        (ghost,) = r.json()["update"]
        assert 999999 == ghost["id"]
        assert 400 == ghost["error"]["data"]["status"]

    def test_category_batch(self, wc: Any) -> None:
        """
        The category batch reports term_exists per item.
        """
        name = _sku("C")
        r = wc.post(
            "products/categories/batch",
            {"create": [{"name": name}, {"name": name}]},
        )

        ok, dup = r.json()["create"]
        assert "term_exists" == dup["error"]["code"]
        assert ok["id"] == dup["error"]["data"]["resource_id"]


class TestPaging:
    def test_total_headers_and_links(self, wc: Any) -> None:
        """
        X-WP-Total, X-WP-TotalPages and Link describe the collection.
        """
        name = _sku("Paged")
        parent = wc.post("products/categories", {"name": name}).json()["id"]
        wc.post(
            "products/categories/batch",
            {
                "create": [
                    {"name": f"c{i}", "parent": parent} for i in range(25)
                ]
            },
        )
        first = wc.get(
            "products/categories", params={"parent": parent, "per_page": 10}
        )
        last = wc.get(
            "products/categories",
            params={"parent": parent, "per_page": 10, "page": 3},
        )

        assert "25" == first.headers["X-WP-Total"]
        assert "3" == first.headers["X-WP-TotalPages"]
        assert 'rel="next"' in first.headers["Link"]
        assert 5 == len(last.json())
        assert 'rel="next"' not in last.headers["Link"]

    @pytest.mark.parametrize("per_page", [0, 101])
    def test_per_page_out_of_range(self, wc: Any, per_page: int) -> None:
        """
        per_page outside 1..100 is 400 rest_invalid_param.
        """
        r = wc.get("products", params={"per_page": per_page})

        assert 400 == r.status_code
        assert "rest_invalid_param" == r.json()["code"]
        assert "per_page" in r.json()["data"]["params"]


class TestOrders:
    def _order(self, wc: Any) -> dict[str, Any]:
        pid = wc.post(
            "products",
            {"name": "o", "sku": _sku("O"), "regular_price": "4.50"},
        ).json()["id"]
        r = wc.post(
            "orders",
            {
                "status": "processing",
                "billing": {"first_name": "Erika", "email": "e@example.com"},
                "line_items": [{"product_id": pid, "quantity": 2}],
            },
        )
        assert 201 == r.status_code
        order: dict[str, Any] = r.json()
        return order

    def test_after_and_modified_after_in_gmt(self, wc: Any) -> None:
        """
        after / modified_after with dates_are_gmt select by UTC dates.
        """
        order = self._order(wc)
        past = (datetime.now(UTC) - timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
        future = (datetime.now(UTC) + timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )

        def ids(**params: str) -> set[int]:
            r = wc.get("orders", params={"dates_are_gmt": "true", **params})
            assert 200 == r.status_code, r.json()
            return {o["id"] for o in r.json()}

        assert order["id"] in ids(after=past)
        assert order["id"] not in ids(after=future)
        assert order["id"] in ids(modified_after=past)
        assert order["id"] not in ids(modified_after=future)
        assert "9.00" == order["total"]
        assert order["date_created_gmt"]

    def test_status_update_and_notes(self, wc: Any) -> None:
        """
        A status update lands; a note is kept; a bad status is refused.
        """
        order = self._order(wc)
        done = wc.put(f"orders/{order['id']}", {"status": "completed"})
        note = wc.post(
            f"orders/{order['id']}/notes",
            {"note": "DHL 0034", "customer_note": True},
        )
        bad = wc.put(f"orders/{order['id']}", {"status": "shipped"})
        notes = wc.get(f"orders/{order['id']}/notes").json()

        assert "completed" == done.json()["status"]
        assert 201 == note.status_code
        assert "DHL 0034" in {n["note"] for n in notes}
        assert (400, "rest_invalid_param") == (
            bad.status_code,
            bad.json()["code"],
        )


class TestAuth:
    def test_wrong_secret(self, base_url: str) -> None:
        """
        A wrong secret is 401 woocommerce_rest_authentication_error.
        """
        r = _api(base_url, secret="cs_wrong").get("products")

        assert 401 == r.status_code
        assert "woocommerce_rest_authentication_error" == r.json()["code"]

    def test_unknown_key(self, base_url: str) -> None:
        """
        An unknown key is refused as such.
        """
        r = _api(base_url, key="ck_nobody").get("products")

        assert 401 == r.status_code
        assert "Consumer key is invalid." == r.json()["message"]

    def test_read_only_key_cannot_write(self, base_url: str) -> None:
        """
        A read key reads, and writing with it is 401.
        """
        ro = _api(base_url, RO_KEY, RO_SECRET)
        read = ro.get("products")
        write = ro.post("products", {"name": "x"})

        assert 200 == read.status_code
        assert 401 == write.status_code
        assert "woocommerce_rest_authentication_error" == write.json()["code"]
        assert "write permissions" in write.json()["message"]
