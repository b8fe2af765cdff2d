"""
The naive baseline: a sync written by hand as a user would, with httpx.

One request per record and per image, in order: a POST per category, a
POST per article (its media entities and its stock nested in it: a person
with the stock at hand puts it in the product), an upload per image; then
the orders page by page (500, the API's page limit), imported one by one.
No batching, no change detection, no concurrency
(reliability-performance.md C.4).  Unlike C.4 it keeps one
``httpx.Client`` (keep-alive) instead of a new one per request: a new
client builds an SSL context each time (about 30 ms of CPU here), which
would make the baseline CPU-bound and flatter ecomsync.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import anyio
import httpx

from bench._server import CLIENT_ID, CLIENT_SECRET
from bench._workload import (
    ORDER_ASSOCIATIONS,
    ORDER_PAGE,
    SeededErp,
    Workload,
)
from ecomsync import DataType
from ecomsync._spec import All


def _id(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Naive:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=60)
        self.token = ""
        self.requests = 0
        self.writes = 0
        self.bytes_up = 0

    def login(self) -> None:
        r = self.client.post(
            f"{self.url}/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        self.requests += 1
        r.raise_for_status()
        self.token = r.json()["access_token"]

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        write: bool = True,
    ) -> httpx.Response:
        while True:
            request = httpx.Request(
                method,
                self.url + path,
                json=json,
                content=content,
                params=params,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Accept": "application/json",
                    **(headers or {}),
                },
            )
            r = self.client.send(request)
            self.requests += 1
            self.writes += write
            self.bytes_up += len(request.content)
            if r.status_code == 401:
                self.login()
                continue
            if r.status_code == 429:
                time.sleep(1)
                continue
            if r.status_code >= 400:
                raise RuntimeError(
                    f"{method} {path}: {r.status_code} {r.text}"
                )
            return r


def run_naive(url: str, w: Workload) -> dict[str, Any]:
    erp = SeededErp(w)
    shop = Naive(url)
    start, cpu = time.perf_counter(), time.process_time()
    shop.login()
    tax = shop.call(
        "POST",
        "/api/search/tax",
        json={"filter": [{"type": "equals", "field": "taxRate", "value": 19}]},
        write=False,
    ).json()["data"][0]["id"]
    currency = shop.call(
        "POST",
        "/api/search/currency",
        json={
            "filter": [{"type": "equals", "field": "isoCode", "value": "EUR"}]
        },
        write=False,
    ).json()["data"][0]["id"]

    for i in erp.indices(DataType.CATEGORIES, All()):
        c = erp.category(i)
        shop.call(
            "POST",
            "/api/category",
            json={
                "id": _id(c.number),
                "name": c.name,
                "parentId": _id(c.parent) if c.parent else None,
            },
        )
    for i in erp.indices(DataType.ARTICLES, All()):
        a = erp.article(i)
        pid = _id(a.number)
        media = [
            {
                "id": _id(f"{a.number}/pm/{j}"),
                "position": j,
                "media": {"id": _id(f"{a.number}/m/{j}")},
            }
            for j in range(len(a.media))
        ]
        gross = float(a.price)
        shop.call(
            "POST",
            "/api/product",
            json={
                "id": pid,
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
            },
        )
        for j, ref in enumerate(a.media):
            content = anyio.run(_read_media, erp, ref)
            shop.call(
                "POST",
                f"/api/_action/media/{_id(f'{a.number}/m/{j}')}/upload",
                params={"extension": "jpg", "fileName": f"{a.number}-{j}"},
                content=content,
                headers={"Content-Type": ref.mime_type},
            )
    imported = 0
    page = 1
    while w.orders:
        rows = shop.call(
            "POST",
            "/api/search/order",
            json={
                "page": page,
                "limit": ORDER_PAGE,
                "associations": ORDER_ASSOCIATIONS,
                "sort": [{"field": "orderNumber", "order": "ASC"}],
            },
            write=False,
        ).json()["data"]
        for row in rows:
            # What a hand-written import keeps of an order: its number,
            # customer and lines.
            erp.imported.add(row["orderNumber"])
            _ = [
                (li.get("label"), li.get("quantity"))
                for li in row.get("lineItems") or ()
            ]
            imported += 1
        if len(rows) < ORDER_PAGE:
            break
        page += 1
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "sync_cpu_s": time.process_time() - cpu,
        "status": "succeeded",
        "orders_imported": imported,
        "requests": shop.requests,
        "write_requests": shop.writes,
        "bytes_up": shop.bytes_up,
    }


async def _read_media(erp: SeededErp, ref: Any) -> bytes:
    async with erp.session() as session:
        return await session.read_media(ref)
