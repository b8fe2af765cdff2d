"""
The Shopware 6 adapter's Admin API client: authentication (refused
secrets, expired tokens, missing privileges) and error surfacing, against
``httpx.MockTransport``.
"""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest

from ecomsync import (
    Category,
    DataType,
    OrderState,
    OrderStatus,
    Outgoing,
)
from ecomsync.exceptions import AuthenticationError, SyncError
from ecomsync.platforms.shopware6 import Shopware6

from .._retries import fast_retries
from ._shopware6 import SECRET, token_ok


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


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


class TestStatusErrors:
    async def test_auth_failure_during_status_push_is_not_grouped(
        self,
    ) -> None:
        """
        A missing privilege while moving an order surfaces as itself, not
        wrapped in an exception group.
        """

        def handler(request: httpx.Request) -> httpx.Response:
            if token := token_ok(request):
                return token
            if request.url.path == "/api/search/order":
                row = {
                    "id": "a" * 32,
                    "orderNumber": "1",
                    "stateMachineState": {"technicalName": "open"},
                    "deliveries": [],
                }
                return httpx.Response(200, json={"data": [row]})
            return httpx.Response(
                403,
                json={
                    "errors": [
                        {
                            "status": "403",
                            "code": "FRAMEWORK__MISSING_PRIVILEGE_ERROR",
                            "detail": "order:update",
                        }
                    ]
                },
            )

        shop = Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        )

        with pytest.raises(AuthenticationError, match="order:update"):
            await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number="1", state=OrderState.COMPLETED
                        )
                    )
                ],
            )
        await shop.aclose()


class TestAnswers:
    async def test_an_answer_that_is_not_json_names_the_request(
        self,
    ) -> None:
        """
        A 200 whose body is not JSON (a maintenance page from a proxy) is
        a SyncError naming Shopware and the request, not Python's bare
        JSONDecodeError; so is a token answer that is not JSON.
        """
        page = "<html><body>Maintenance</body></html>"
        token_too = False

        def handler(request: httpx.Request) -> httpx.Response:
            if not token_too and (token := token_ok(request)):
                return token
            return httpx.Response(
                200, text=page, headers={"content-type": "text/html"}
            )

        shop = Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        )
        category = Category(number="C-1", name="Tools")
        with pytest.raises(SyncError) as info:
            await shop.push(DataType.CATEGORIES, [Outgoing(record=category)])
        assert str(info.value).startswith("Shopware answered POST /api/")
        assert f"HTTP 200 and {len(page)} bytes that are not JSON " in str(
            info.value
        )
        await shop.aclose()

        token_too = True
        shop = Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        )
        with pytest.raises(SyncError, match="POST /api/oauth/token"):
            await shop.push(DataType.CATEGORIES, [Outgoing(record=category)])
        await shop.aclose()

    @pytest.mark.parametrize(
        ("answer", "problem"),
        [
            ([], "not an object"),
            ({"total": 0}, "data is missing"),
            ({"data": None}, "data is null"),
            ({"data": ["x"]}, "item 0 is a text where an object was"),
            ({"data": [{"name": "x"}]}, "data.0.id is missing"),
            ({"data": [{"id": 7}]}, "data.0.id is a number"),
        ],
    )
    async def test_a_search_answer_of_an_odd_shape_names_the_field(
        self, answer: object, problem: str
    ) -> None:
        """
        A search answered with JSON of another shape (a list, no or a
        null ``data``, rows without an id) is a SyncError naming the
        request and the field, not a bare AttributeError, TypeError or
        KeyError (which escaped `Shopware6.check`).
        """

        def handler(request: httpx.Request) -> httpx.Response:
            if token := token_ok(request):
                return token
            if request.url.path.startswith("/api/search/"):
                return httpx.Response(200, json=answer)
            return httpx.Response(200, json={})

        async with Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        ) as shop:
            problems = await shop.check()

        assert problems
        assert (
            "cannot read category: Shopware answered POST "
            f"/api/search/category with an unexpected shape: {problem}"
        ) in problems[0]
