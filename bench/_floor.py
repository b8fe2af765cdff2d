"""
T_floor: the fastest bare client replaying exactly T_lb's request set.

`bench._workload.request_set` is the fewest requests a first full sync
needs; this module sends exactly those (one token, one Sync per 100
categories, one Sync per 100 articles with stock, media entities and
product-media rows nested in the product rows, one upload per image, one
search per page of 500 orders) at the same concurrency as ecomsync, with
nothing else: no store, no staging, no change detection, images computed
in memory.  Dependencies are kept (parents' batch before children's, a
product's Sync before its uploads), everything else overlaps.  Two bare
transports are measured, httpx's default and aiohttp; the faster one is
the floor.  What ecomsync costs above it is the library's own overhead.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bench._server import CLIENT_ID, CLIENT_SECRET
from bench._workload import (
    ORDER_ASSOCIATIONS,
    ORDER_PAGE,
    SeededErp,
    Workload,
    image_bytes,
    request_set,
)
from ecomsync import DataType
from ecomsync._spec import All


#: ``send(method, path, json=..., content=..., params=..., headers=...)``
#: returns the response's JSON (or None) and raises on an HTTP error.
Send = Callable[..., Awaitable[Any]]


def _id(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sync(entity: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        f"write-{entity}": {
            "entity": entity,
            "action": "upsert",
            "payload": rows,
        }
    }


async def replay(
    send: Send, w: Workload, *, concurrency: int, tax: str, currency: str
) -> int:
    """
    Send `request_set(w)`; return the number of requests sent.
    """
    erp = SeededErp(w)
    limiter = anyio.CapacityLimiter(concurrency)
    sent = 0

    async def call(method: str, path: str, **kw: Any) -> Any:
        nonlocal sent
        async with limiter:
            sent += 1
            # A keep-alive connection the server closed while idle is
            # the one fault a bare client must survive (every request
            # here is an idempotent upsert or a read): try again at once.
            for attempt in range(3):
                try:
                    return await send(method, path, **kw)
                except Exception as exc:
                    if attempt == 2 or not _dropped(exc):
                        raise
            raise AssertionError("unreachable")

    token = await call(
        "POST",
        "/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    auth = {"Authorization": f"Bearer {token['access_token']}"}

    async def categories() -> None:
        rows = []
        for i in erp.indices(DataType.CATEGORIES, All()):
            c = erp.category(i)
            rows.append(
                {
                    "id": _id(c.number),
                    "name": c.name,
                    "parentId": _id(c.parent) if c.parent else None,
                }
            )
        # Parents have smaller indices: batch k only needs batches < k.
        for start in range(0, len(rows), 100):
            await call(
                "POST",
                "/api/_action/sync",
                json=_sync("category", rows[start : start + 100]),
                headers=auth,
            )

    async def article_batch(indices: list[int]) -> None:
        rows, uploads = [], []
        for i in indices:
            a = erp.article(i)
            media = [
                {
                    "id": _id(f"{a.number}/pm/{j}"),
                    "position": j,
                    "media": {"id": _id(f"{a.number}/m/{j}")},
                }
                for j in range(len(a.media))
            ]
            gross = float(a.price)
            rows.append(
                {
                    "id": _id(a.number),
                    "productNumber": a.number,
                    "name": a.name,
                    "description": a.description,
                    "stock": erp.stock(i).quantity,
                    "taxId": tax,
                    "price": [
                        {
                            "currencyId": currency,
                            "gross": gross,
                            "net": round(gross / 1.19, 2),
                            "linked": True,
                        }
                    ],
                    "categories": [{"id": _id(n)} for n in a.categories],
                    "media": media,
                    "coverId": media[0]["id"] if media else None,
                }
            )
            uploads.extend((a.number, j, ref) for j, ref in enumerate(a.media))
        await call(
            "POST",
            "/api/_action/sync",
            json=_sync("product", rows),
            headers=auth,
        )
        async with anyio.create_task_group() as tg:
            for number, j, ref in uploads:
                tg.start_soon(upload, number, j, ref)

    async def upload(number: str, j: int, ref: Any) -> None:
        _, jj, version = ref.key.split("/")
        await call(
            "POST",
            f"/api/_action/media/{_id(f'{number}/m/{j}')}/upload",
            params={"extension": "jpg", "fileName": f"{number}-{j}"},
            content=image_bytes(number, int(jj), int(version), w.image_bytes),
            headers={**auth, "Content-Type": ref.mime_type},
        )

    async def orders(page: int) -> None:
        found = await call(
            "POST",
            "/api/search/order",
            json={
                "page": page,
                "limit": ORDER_PAGE,
                "associations": ORDER_ASSOCIATIONS,
                "sort": [{"field": "orderNumber", "order": "ASC"}],
            },
            headers=auth,
        )
        # Simple JSON or JSON:API (no Accept header): either has them.
        numbers = [
            r.get("orderNumber") or r.get("attributes", {}).get("orderNumber")
            for r in (found or {}).get("data", [])
        ]
        if page == rs["pages"] and rs["searches"] > rs["pages"] and numbers:
            # who else holds the last page's numbers
            await call(
                "POST",
                "/api/search/order",
                json={
                    "filter": [
                        {
                            "type": "equalsAny",
                            "field": "orderNumber",
                            "value": numbers,
                        }
                    ],
                    "includes": {"order": ["id", "orderNumber"]},
                    "limit": ORDER_PAGE,
                },
                headers=auth,
            )

    async def read(entity: str) -> None:
        await call("POST", f"/api/search/{entity}", json={}, headers=auth)

    rs = request_set(w)
    async with anyio.create_task_group() as tg:
        for page in range(1, rs["pages"] + 1):
            tg.start_soon(orders, page)
        # The tax and the sales channels before the writes that name
        # them (their ids are known already: `_lookups`).
        async with anyio.create_task_group() as first:
            for entity in ("tax", "sales_channel")[2 - rs["reads"] :]:
                first.start_soon(read, entity)
        await categories()
        indices = list(erp.indices(DataType.ARTICLES, All()))
        for start in range(0, len(indices), 100):
            tg.start_soon(article_batch, indices[start : start + 100])
    return sent


def _dropped(exc: Exception) -> bool:
    """A connection the server dropped (httpx's or aiohttp's words)."""
    names = {type(e).__name__ for e in (exc, exc.__cause__) if e}
    return bool(
        names
        & {
            "ServerDisconnectedError",
            "ClientOSError",
            "RemoteProtocolError",
            "ReadError",
            "ConnectError",
        }
    )


async def _lookups(url: str) -> tuple[str, str]:
    """The tax and currency ids (looked up before the clock starts)."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        r = await c.post(
            "/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        ids = []
        for entity, field, value in (
            ("tax", "taxRate", 19),
            ("currency", "isoCode", "EUR"),
        ):
            r = await c.post(
                f"/api/search/{entity}",
                json={
                    "filter": [
                        {"type": "equals", "field": field, "value": value}
                    ]
                },
                headers=h,
            )
            ids.append(r.json()["data"][0]["id"])
    return ids[0], ids[1]


async def run_floor(
    url: str, w: Workload, *, transport: str, concurrency: int
) -> dict[str, Any]:
    tax, currency = await _lookups(url)
    if transport in ("httpx", "httpx-aiohttp"):
        import httpx

        limits = httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency
        )
        kw: dict[str, Any] = {}
        if transport == "httpx-aiohttp":
            # httpx's API over aiohttp's connection pool (asyncio only).
            from httpx_aiohttp import AiohttpTransport

            kw["transport"] = AiohttpTransport(limits=limits)
        async with httpx.AsyncClient(
            base_url=url, timeout=120, limits=limits, **kw
        ) as client:

            async def send(method: str, path: str, **kw: Any) -> Any:
                r = await client.request(method, path, **kw)
                r.raise_for_status()
                return r.json() if r.content else None

            return await _timed(send, w, concurrency, tax, currency)
    if transport == "aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(
            url, connector=connector, timeout=aiohttp.ClientTimeout(120)
        ) as session:

            async def send(method: str, path: str, **kw: Any) -> Any:
                if "content" in kw:
                    kw["data"] = kw.pop("content")
                async with session.request(method, path, **kw) as r:
                    r.raise_for_status()
                    body = await r.read()
                    return None if not body else __import__("json").loads(body)

            return await _timed(send, w, concurrency, tax, currency)
    raise ValueError(f"unknown transport {transport!r}")


async def _timed(
    send: Send, w: Workload, concurrency: int, tax: str, currency: str
) -> dict[str, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    sent = await replay(
        send, w, concurrency=concurrency, tax=tax, currency=currency
    )
    return {
        "wall_s": time.perf_counter() - start,
        "sync_cpu_s": time.process_time() - cpu,
        "status": "succeeded",
        "requests": sent,
    }
