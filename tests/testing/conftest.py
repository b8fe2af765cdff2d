"""
Fixtures of the Shopware 6 emulator tests: a clock, an emulator on it
and a logged-in raw client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ecomsync.testing.shopware6 import ShopwareEmulator

from ._sw6 import CID, SECRET, Clock, login, raw_client


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="emu")
def _emu(clock: Clock) -> ShopwareEmulator:
    return ShopwareEmulator(
        client_id=CID, client_secret=SECRET, clock=clock, token_ttl=600
    )


@pytest.fixture(name="client")
async def _client(emu: ShopwareEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with raw_client(emu) as c:
        await login(c)
        yield c
