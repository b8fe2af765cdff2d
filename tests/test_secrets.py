"""
Secrets stay secret in every adapter: a URL carrying credentials is
refused without being repeated, and a configured secret appears in no
repr, exception or log record (the Shopware engine run, events and store
rows are covered in ``tests/engine/test_shopware6.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ecomsync import All, Category, DataType, Outgoing
from ecomsync.erp.tryton import TrytonErp
from ecomsync.exceptions import AuthenticationError, ConfigurationError
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.vendure import Vendure


pytestmark = pytest.mark.anyio

CANARY = "canary-S3CR3T-77e0c1"

ADAPTERS: dict[str, Callable[[str], Any]] = {
    "Shopware6": lambda url: Shopware6(url, "SWIAKEY", CANARY),
    "TrytonErp": lambda url: TrytonErp(url, "db", "admin", CANARY),
    "Vendure": lambda url: Vendure(url, api_key=CANARY),
}


def _no_canary(*texts: object) -> None:
    for text in texts:
        assert CANARY not in str(text)


class TestUrlWithUserInfo:
    @pytest.mark.parametrize("adapter", sorted(ADAPTERS))
    @pytest.mark.parametrize(
        "url",
        [
            f"http://user:{CANARY}@host.test",
            f"https://{CANARY}@host.test/api",
            f"https://admin:{CANARY}@host.test:8443/",
        ],
    )
    def test_refused_without_echo(self, adapter: str, url: str) -> None:
        """
        Every adapter refuses a URL with user info and never repeats it.
        """
        with pytest.raises(ConfigurationError) as info:
            ADAPTERS[adapter](url)

        _no_canary(info.value, repr(info.value), info.value.__context__)
        assert "user info" in str(info.value)

    @pytest.mark.parametrize("adapter", sorted(ADAPTERS))
    def test_plain_url_is_accepted(self, adapter: str) -> None:
        """
        The same adapters take a plain URL; their repr hides the secret.
        """
        instance = ADAPTERS[adapter]("https://host.test")

        _no_canary(repr(instance), str(instance))


class TestRefusedSecret:
    async def test_tryton(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        Tryton refusing the password: the error and the logs never hold it.
        """
        caplog.set_level(logging.DEBUG)
        erp = TrytonErp(
            "http://erp.test",
            "db",
            "admin",
            CANARY,
            transport=httpx.MockTransport(lambda r: httpx.Response(401)),
        )

        with pytest.raises(AuthenticationError) as info:
            async with erp.session() as session:
                await session.count(DataType.ARTICLES, All())

        _no_canary(info.value, repr(info.value), repr(erp), caplog.text)

    async def test_vendure(self, caplog: pytest.LogCaptureFixture) -> None:
        """
        Vendure refusing the API key: the error and the logs never hold it.
        """
        caplog.set_level(logging.DEBUG)

        def forbidden(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200,
                json={
                    "data": None,
                    "errors": [
                        {
                            "message": "You are not currently authorized",
                            "extensions": {"code": "FORBIDDEN"},
                        }
                    ],
                },
            )

        shop = Vendure(
            "http://vendure.test",
            api_key=CANARY,
            transport=httpx.MockTransport(forbidden),
        )

        with pytest.raises(AuthenticationError) as info:
            await shop.push(
                DataType.CATEGORIES,
                [Outgoing(record=Category(number="K-1", name="K"))],
            )
        await shop.aclose()

        _no_canary(info.value, repr(info.value), repr(shop), caplog.text)


class TestQueryInUrl:
    async def test_query_string_is_never_repeated(self) -> None:
        """
        Whatever a base URL's query string holds stays out of the repr and
        of the refused-credentials message.
        """

        def refuse(request: httpx.Request) -> httpx.Response:
            return httpx.Response(401, json={"errors": [{"code": "4"}]})

        shop = Shopware6(
            f"http://shop.test/?token={CANARY}",
            "SWIAKEY",
            "other",
            transport=httpx.MockTransport(refuse),
        )

        with pytest.raises(AuthenticationError) as info:
            await shop.push(
                DataType.CATEGORIES,
                [Outgoing(record=Category(number="K-1", name="K"))],
            )
        await shop.aclose()

        _no_canary(repr(shop), info.value, repr(shop._api))
        assert "http://shop.test" in str(info.value)
