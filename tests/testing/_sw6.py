"""
Helpers shared by the Shopware 6 emulator tests: credentials, a settable
clock, a raw httpx client and payload builders.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ecomsync.testing.shopware6 import (
    DEFAULT_CURRENCY,
    ShopwareEmulator,
    seed_id,
)


CID, SECRET = "SWIATESTCLIENT", "s3cret"
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    """
    A settable "now" for the emulator.
    """

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def raw_client(emu: ShopwareEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="http://shop.test",
        headers={"Accept": "application/json"},
    )


async def login(c: httpx.AsyncClient) -> str:
    r = await c.post(
        "/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": CID,
            "client_secret": SECRET,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    c.headers["Authorization"] = f"Bearer {token}"
    return token


def pid(n: str) -> str:
    return seed_id(f"product.{n}")


def product(
    number: str, emu: ShopwareEmulator, **extra: Any
) -> dict[str, Any]:
    return {
        "id": pid(number),
        "productNumber": number,
        "name": f"Article {number}",
        "stock": 5,
        "taxId": emu.ids.tax_standard,
        "price": [
            {
                "currencyId": DEFAULT_CURRENCY,
                "gross": 11.9,
                "net": 10.0,
                "linked": True,
            }
        ],
        **extra,
    }


async def sync(c: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await c.post("/api/_action/sync", json=body)


def upsert(entity: str, *payload: Any) -> dict[str, Any]:
    return {"entity": entity, "action": "upsert", "payload": list(payload)}


def pointers(r: httpx.Response) -> set[str]:
    return {
        e["source"]["pointer"] for e in r.json()["errors"] if "source" in e
    }


MEDIA = seed_id("media.1")
PM = seed_id("product_media.1")


async def create_media(client: httpx.AsyncClient, *ids: str) -> None:
    r = await sync(client, {"m": upsert("media", *({"id": i} for i in ids))})
    assert r.status_code == 200


async def upload(
    client: httpx.AsyncClient,
    media_id: str,
    data: bytes,
    query: str = "extension=jpg&fileName=hammer",
) -> httpx.Response:
    return await client.post(
        f"/api/_action/media/{media_id}/upload?{query}",
        content=data,
        headers={"content-type": "image/jpeg"},
    )
