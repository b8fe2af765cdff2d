"""
The Shopware 6 adapter: its HTTP layer, its mapping, and the platform
contract against the Shopware emulator (in process, through
``httpx.ASGITransport``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
import stamina
from hypothesis import given
from hypothesis import strategies as st

from ecomsync import (
    Category,
    DataType,
    NumberRange,
    Order,
    Outgoing,
)
from ecomsync.exceptions import AuthenticationError, RetryableError
from ecomsync.platforms._http import HttpClient, parse_retry_after
from ecomsync.platforms._shopware6_mapping import (
    DELIVERY_GRAPH,
    ORDER_GRAPH,
    net_of,
    order_state,
    pointer_parts,
    range_prefilter,
    sw_id,
    transitions,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing._platform_contract import PlatformContract
from ecomsync.testing.shopware6 import ShopwareEmulator


pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-NEVER-SHOWN"


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


def _token_ok(request: httpx.Request) -> httpx.Response | None:
    if request.url.path == "/api/oauth/token":
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": 600,
                "access_token": "tok-1",
            },
        )
    return None


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("header", "seconds"),
        [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), (None, None), ("soon", None)],
    )
    def test_parses_seconds(
        self, header: str | None, seconds: float | None
    ) -> None:
        """
        Delta-seconds are read, negatives clamp to zero, garbage is None.
        """
        wait = parse_retry_after(header)

        assert seconds == (None if wait is None else wait.total_seconds())

    def test_parses_http_date(self) -> None:
        """
        An HTTP date is turned into the wait from now.
        """
        now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

        wait = parse_retry_after("Sun, 01 Nov 2026 12:00:30 GMT", now=now)

        assert timedelta(seconds=30) == wait


class TestHttpClient:
    async def test_retries_429_then_succeeds(self) -> None:
        """
        A 429 is retried; the eventual answer is returned.
        """
        calls = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            if len(calls) < 3:
                return httpx.Response(429, headers={"Retry-After": "9999"})
            return httpx.Response(200, json={"ok": True})

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        response = await http.request("GET", "/a")

        assert response.status_code == 200
        assert len(calls) == 3
        await http.aclose()

    def test_retry_after_is_clamped(self) -> None:
        """
        A server's Retry-After never makes us wait beyond the cap.
        """
        http = HttpClient("http://x", max_retry_after=60.0)

        wait = http._backoff(
            RetryableError("x", retry_after=timedelta(hours=5))
        )

        assert wait == 60.0

    async def test_gives_up_with_retryable_error(self) -> None:
        """
        A 503 that never ends becomes RetryableError after the attempts.
        """
        http = HttpClient(
            "http://x",
            transport=httpx.MockTransport(lambda r: httpx.Response(503)),
        )

        with pytest.raises(RetryableError, match="HTTP 503"):
            await http.request("GET", "/a")
        await http.aclose()

    async def test_connection_errors_translate(self) -> None:
        """
        A reset becomes RetryableError, chained to httpx's exception.
        """

        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadError("reset", request=request)

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))

        with pytest.raises(RetryableError) as info:
            await http.request("GET", "/a")
        assert isinstance(info.value.__cause__, httpx.ReadError)
        await http.aclose()

    async def test_deadline_bounds_a_slow_answer(self) -> None:
        """
        An answer slower than the deadline is a retryable timeout.
        """

        async def handler(request: httpx.Request) -> httpx.Response:
            await anyio.sleep(5)
            return httpx.Response(200)

        http = HttpClient(
            "http://x", transport=httpx.MockTransport(handler), deadline=0.05
        )

        with (
            anyio.fail_after(3),
            pytest.raises(RetryableError, match=r"0\.05"),
        ):
            await http.request("GET", "/a")
        await http.aclose()

    async def test_concurrency_is_capped(self) -> None:
        """
        No more requests are in flight than the cap allows.
        """
        active = peak = 0

        async def handler(request: httpx.Request) -> httpx.Response:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await anyio.sleep(0.01)
            active -= 1
            return httpx.Response(200)

        http = HttpClient(
            "http://x", transport=httpx.MockTransport(handler), concurrency=3
        )
        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(http.request, "GET", "/a")

        assert peak == 3
        await http.aclose()


class TestAuth:
    async def test_bad_secret_is_authentication_error_without_secret(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """
        A refused secret stops with AuthenticationError; the secret shows
        up nowhere: not in repr, message or logs.
        """
        caplog.set_level(logging.DEBUG)

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                401,
                json={
                    "errors": [
                        {
                            "code": "4",
                            "status": "401",
                            "title": "Client authentication failed",
                            "detail": None,
                        }
                    ]
                },
            )

        shop = Shopware6(
            "http://shop",
            "SWIAKEY",
            SECRET,
            transport=httpx.MockTransport(handler),
        )

        with pytest.raises(AuthenticationError) as info:
            await shop.push(
                DataType.CATEGORIES,
                [Outgoing(record=Category(number="K-1", name="K"))],
            )
        await shop.aclose()

        assert SECRET not in repr(shop)
        assert SECRET not in str(info.value)
        assert SECRET not in repr(info.value)
        assert SECRET not in caplog.text
        assert "SWIAKEY" in str(info.value)

    async def test_refreshes_once_on_expired_token(self) -> None:
        """
        A 401 with code 9 fetches a new token and repeats the request.
        """
        tokens = iter(["old", "new"])
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/oauth/token":
                return httpx.Response(
                    200,
                    json={"expires_in": 600, "access_token": next(tokens)},
                )
            seen.append(request.headers["Authorization"])
            if request.headers["Authorization"] == "Bearer old":
                return httpx.Response(
                    401,
                    json={
                        "errors": [
                            {
                                "code": "9",
                                "status": "401",
                                "detail": "Access token is expired",
                            }
                        ]
                    },
                )
            return httpx.Response(200, json={"data": []})

        shop = Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        )
        rows = await shop._api.search("tax", {})
        await shop.aclose()

        assert rows == []
        assert seen == ["Bearer old", "Bearer new"]

    async def test_refreshes_before_expiry(self) -> None:
        """
        A token about to run out is replaced before it is used.
        """
        fetched = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal fetched
            if request.url.path == "/api/oauth/token":
                fetched += 1
                return httpx.Response(
                    200, json={"expires_in": 0.1, "access_token": "t"}
                )
            return httpx.Response(200, json={"data": []})

        shop = Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        )
        await shop._api.search("tax", {})
        await anyio.sleep(0.15)
        await shop._api.search("tax", {})
        await shop.aclose()

        assert fetched == 2


class TestMapping:
    def test_ids_are_deterministic_hex(self) -> None:
        """
        Ids are md5 of a namespaced string: stable and Shopware-shaped.
        """
        assert sw_id("product", "A-1") == sw_id("product", "A-1")
        assert sw_id("product", "A-1") != sw_id("category", "A-1")
        assert len(sw_id("product", "A-1")) == 32

    def test_net_from_gross(self) -> None:
        """
        Net is gross without tax, to the cent.
        """
        assert Decimal("16.80") == net_of(Decimal("19.99"), Decimal(19))

    def test_pointer(self) -> None:
        """
        A Sync pointer names operation, row and field.
        """
        assert pointer_parts("/ops/3/price/0/gross") == (
            "ops",
            3,
            "price.0.gross",
        )
        assert None is pointer_parts("/limit")

    @pytest.mark.parametrize(
        ("current", "target", "path"),
        [
            ("open", "open", []),
            ("open", "completed", ["process", "complete"]),
            ("cancelled", "in_progress", ["reopen", "process"]),
        ],
    )
    def test_order_transitions(
        self, current: str, target: str, path: list[str]
    ) -> None:
        """
        The shortest path through the order state machine is planned.
        """
        assert path == transitions(ORDER_GRAPH, current, target)

    def test_delivery_ship(self) -> None:
        """
        An open delivery ships in one step.
        """
        assert transitions(DELIVERY_GRAPH, "open", "shipped") == ["ship"]

    @given(
        st.integers(1, 5000),
        st.integers(0, 5000),
        st.integers(1, 20000),
        st.sampled_from(["", "R-", "SW"]),
    )
    def test_range_prefilter_is_superset(
        self, low: int, span: int, probe: int, prefix: str
    ) -> None:
        """
        Whatever the server-side prefilter drops is outside the range.
        """
        selection = NumberRange(f"{prefix}{low}", f"{prefix}{low + span}")
        number = f"{prefix}{probe}"
        flt = range_prefilter(selection)
        if number in selection:
            assert _matches(flt, number)


def _matches(flt: dict[str, Any] | None, value: str) -> bool:
    if flt is None:
        return True
    if flt["type"] == "prefix":
        return value.startswith(flt["value"])
    if flt["type"] == "range":
        p = flt["parameters"]
        return bool(p["gte"] <= value <= p["lte"])
    return any(_matches(q, value) for q in flt["queries"])


# -- against the emulator --------------------------------------------------


def _shop(emu: ShopwareEmulator, **kwargs: Any) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        emu.client_secret,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


def _number_of_category(emu: ShopwareEmulator, cid: str | None) -> str | None:
    if cid is None:
        return None
    row = emu.entities["category"].get(cid)
    if row is None:
        return None
    return (row.get("customFields") or {}).get("ecomsync_number")


def _state(emu: ShopwareEmulator, row: dict[str, Any]) -> str | None:
    state = emu.entities["state_machine_state"].get(row.get("stateId", ""))
    return None if state is None else str(state["technicalName"])


class TestShopware6Contract(PlatformContract):
    """
    Shopware6 against the emulator honours the platform contract.
    """

    @pytest.fixture(name="platform")
    async def _platform(self) -> AsyncIterator[Shopware6]:
        self.emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        shop = _shop(self.emu)
        yield shop
        await shop.aclose()

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        self.emu.place_order(
            order_number=order.number,
            customer={
                "email": order.customer.email,
                "firstName": order.customer.first_name,
                "lastName": order.customer.last_name,
                "customerNumber": order.customer.number,
                "street": order.billing.street,
                "zipcode": order.billing.zip_code,
                "city": order.billing.city,
            },
            lines=[
                {
                    "productNumber": line.article_number,
                    "quantity": line.quantity,
                    "unitPrice": float(line.unit_price),
                    "label": line.name,
                }
                for line in order.lines
            ],
            created_at=changed_at,
        )

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        emu = self.emu
        if data_type is DataType.CATEGORIES:
            row = emu.entities["category"].get(sw_id("category", number))
            if row is None:
                return None
            return {
                "name": row["name"],
                "parent": _number_of_category(emu, row.get("parentId")),
            }
        if data_type is DataType.ORDER_STATUS:
            orders = [
                o
                for o in emu.entities["order"].values()
                if o["orderNumber"] == number
            ]
            if not orders:
                return None
            (order,) = orders
            (delivery,) = [
                d
                for d in emu.entities["order_delivery"].values()
                if d["orderId"] == order["id"]
            ]
            return {
                "state": order_state(
                    _state(emu, order), _state(emu, delivery)
                ),
                "tracking_numbers": set(delivery.get("trackingCodes") or []),
            }
        pid = sw_id("product", number)
        product = emu.entities["product"].get(pid)
        if product is None:
            return None
        if data_type is DataType.STOCK:
            return {"quantity": product["stock"]}
        links = sorted(
            (
                m
                for m in emu.entities["product_media"].values()
                if m["productId"] == pid
            ),
            key=lambda m: m.get("position") or 0,
        )
        cover = emu.entities["product_media"].get(product.get("coverId") or "")
        documents = (product.get("customFields") or {}).get(
            "ecomsync_documents", []
        )
        return {
            "name": product["name"],
            "price": Decimal(str(product["price"][0]["gross"])),
            "categories": {
                _number_of_category(emu, m["categoryId"])
                for m in emu.entities["product_category"].values()
                if m["productId"] == pid
            },
            "variants": {
                p["productNumber"]
                for p in emu.entities["product"].values()
                if p.get("parentId") == pid
            },
            "media": [m["mediaId"] for m in links] + list(documents),
            "cover": None if cover is None else cover["mediaId"],
        }

    async def count(self, platform: Any, data_type: DataType) -> int:
        entity = {
            DataType.CATEGORIES: "category",
            DataType.ARTICLES: "product",
            DataType.STOCK: "product",
            DataType.ORDER_STATUS: "order",
        }[data_type]
        return len(self.emu.entities[entity])

    async def media_count(self, platform: Any) -> int:
        return len(self.emu.media_files)
