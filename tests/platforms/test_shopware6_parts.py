"""
Parts of the Shopware 6 adapter that a whole run seldom reaches: the
client's error reading and throttling hint, media that the shop already
has under another id, attaching media after a push, and order states the
adapter has to re-read or cannot reach.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecomsync import (
    Category,
    DataType,
    MediaKind,
    MediaLink,
    OrderState,
    OrderStatus,
    Outcome,
    Outgoing,
    StockLevel,
)
from ecomsync._contracts import StagedMedia
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6 import _media as shopware_media
from ecomsync.platforms.shopware6._client import (
    _privileges,
    _throttle_hint,
    problems_of,
)
from ecomsync.platforms.shopware6._mapping import (
    category_id,
    product_id,
    product_media_id,
    sw_id,
)
from ecomsync.testing._platform_contract import CATEGORIES, article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries


pytestmark = pytest.mark.anyio

SECRET = "parts-secret"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


_fast_retries = fast_retries(3)


def _shop(emu: ShopwareEmulator) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
    )


def _staged(tmp_path: Path, content: bytes = PNG) -> StagedMedia:
    sha = hashlib.sha256(content).hexdigest()
    path = tmp_path / sha
    path.write_bytes(content)
    return StagedMedia(
        sha256=sha,
        path=path,
        size=len(content),
        filename="photo.png",
        mime_type="image/png",
    )


def _syncs(emu: ShopwareEmulator) -> int:
    return sum(1 for r in emu.requests if r.path == "/api/_action/sync")


class _AfterFirst(httpx.AsyncBaseTransport):
    """
    The emulator behind a transport that counts the requests to *path*
    and calls *between* (once set) after it answered the next one.
    """

    def __init__(self, emu: ShopwareEmulator, path: str) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.path = path
        self.sent = 0
        self.bodies: list[bytes] = []
        self.between: Callable[[], object] | None = None

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == self.path:
            self.sent += 1
            self.bodies.append(request.content)
            if self.between is not None:
                self.between()
                self.between = None
        return response


class TestClientErrors:
    def test_problems_of_odd_bodies(self) -> None:
        """
        Bodies that are not Shopware's error list still give a problem.
        """
        text = problems_of(httpx.Response(502, text="Bad Gateway"))
        other = problems_of(httpx.Response(400, json={"message": "no"}))
        listed = problems_of(
            httpx.Response(400, json={"errors": ["junk", {"code": "X"}]})
        )

        assert "Bad Gateway" == text[0].detail
        assert "no" in other[0].detail
        assert ["X"] == [p.code for p in listed]

    def test_throttle_hint(self) -> None:
        """
        The token endpoint's throttle puts its wait in the body.
        """

        def body(seconds: object) -> httpx.Response:
            return httpx.Response(
                429,
                json={
                    "errors": [
                        {
                            "code": "FRAMEWORK__AUTH_THROTTLED",
                            "meta": {"parameters": {"seconds": seconds}},
                        }
                    ]
                },
            )

        assert timedelta(seconds=12) == _throttle_hint(body(12))
        assert _throttle_hint(body("soon")) is None
        assert _throttle_hint(httpx.Response(429, text="x")) is None
        assert _throttle_hint(httpx.Response(429, json=[1])) is None

    @pytest.mark.parametrize(
        ("detail", "words"),
        [
            (
                json.dumps({"missingPrivileges": ["tax:create"]}),
                "missing privilege tax:create",
            ),
            ("plain words", "plain words"),
            (json.dumps({"missingPrivileges": []}), "missingPrivileges"),
        ],
    )
    def test_privileges(self, detail: str, words: str) -> None:
        """
        Shopware's JSON privilege detail reads as words.
        """
        assert words in _privileges(detail)


class TestMedia:
    async def test_content_the_shop_has_under_another_id(
        self, tmp_path: Path
    ) -> None:
        """
        A file name already taken (someone uploaded the same content) is
        answered with the existing media's id.
        """
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        shop = _shop(emu)
        staged = _staged(tmp_path)
        other = "e" * 32
        await shop._api.sync(
            [
                {
                    "key": "m",
                    "entity": "media",
                    "action": "upsert",
                    "payload": [{"id": other, "private": False}],
                }
            ]
        )
        await shop._api.call(
            "POST",
            f"/api/_action/media/{other}/upload",
            params={"extension": "png", "fileName": staged.sha256},
            content=PNG,
            headers={"Content-Type": "image/png"},
        )

        media_id = await shop.upload_media(staged)
        await shop.aclose()

        assert other == media_id

    async def test_created_entities_are_forgotten_once_uploaded(
        self, tmp_path: Path
    ) -> None:
        """
        A media entity a sync created is uploaded without a media sync of
        its own, and forgotten then: the set does not grow with the
        catalogue.
        """
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        shop = _shop(emu)
        staged = _staged(tmp_path)
        mid = shop.media_id_for(staged.sha256)
        await shop._api.sync(
            [
                {
                    "key": "m",
                    "entity": "media",
                    "action": "upsert",
                    "payload": [{"id": mid, "private": False}],
                }
            ]
        )
        shop._media.note_created([mid])
        syncs = _syncs(emu)

        assert mid == await shop.upload_media(staged)
        await shop.aclose()

        assert syncs == _syncs(emu)
        assert set() == shop._media.created

    async def test_created_is_bounded(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """
        Past its limit the set forgets everything; an upload of a
        forgotten entity creates it first and still lands.
        """
        monkeypatch.setattr(shopware_media, "CREATED_LIMIT", 2)
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        shop = _shop(emu)
        staged = _staged(tmp_path)
        mid = shop.media_id_for(staged.sha256)
        shop._media.note_created([mid, "a" * 32])
        assert {mid, "a" * 32} == shop._media.created
        shop._media.note_created(["b" * 32])
        assert set() == shop._media.created

        assert mid == await shop.upload_media(staged)
        await shop.aclose()

        assert staged.sha256 == emu.media_sha256(mid)

    async def test_stale_media_deleted_meanwhile_hide_no_other(self) -> None:
        """
        Attaching one image to an article holding 502 (a look-up of two
        pages), one of them deleted in the shop between the pages: every
        other stale one goes too, only the one image stays (paged by
        number, the deletion moved one onto the page read already, and
        it stayed on the product).
        """
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        hook = _AfterFirst(emu, "/api/search/product-media")
        shop = Shopware6(
            "http://shop.test", emu.client_id, SECRET, transport=hook
        )
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])
        links = [
            MediaLink(media_id=sw_id("media", f"m{n}"), sha256="x", position=n)
            for n in range(502)
        ]
        await shop.attach_media(
            DataType.ARTICLES, Outcome(number="A-1"), links
        )
        pid = product_id("A-1")
        rows = emu.entities["product_media"]
        kept = product_media_id(pid, links[0].media_id)
        assert 502 == sum(1 for r in rows.values() if r["productId"] == pid)
        first = min(k for k in rows if k != kept)
        hook.between = lambda: rows.pop(first)
        hook.sent = 0

        await shop.attach_media(
            DataType.ARTICLES, Outcome(number="A-1"), links[:1]
        )
        await shop.aclose()

        assert 2 == hook.sent  # the look-up took two pages
        assert [kept] == [k for k, r in rows.items() if r["productId"] == pid]

    async def test_media_look_up_pages_stay_small(self) -> None:
        """
        The look-up of an article's 1,200 images, written in one Sync
        (one moment), asks each next page after the last position read:
        no page carries the ids of every row read at that moment.
        """
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        hook = _AfterFirst(emu, "/api/search/product-media")
        shop = Shopware6(
            "http://shop.test", emu.client_id, SECRET, transport=hook
        )
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])
        links = [
            MediaLink(media_id=sw_id("media", f"m{n}"), sha256="x", position=n)
            for n in range(1200)
        ]
        await shop.attach_media(
            DataType.ARTICLES, Outcome(number="A-1"), links
        )
        hook.sent, hook.bodies = 0, []

        await shop.attach_media(
            DataType.ARTICLES, Outcome(number="A-1"), links[:600]
        )
        await shop.aclose()

        assert 3 == hook.sent  # the look-up took three pages
        # by (createdAt, id) page 3 left out the 1,000 ids read: ~35 KB
        assert max(len(b) for b in hook.bodies) < 2_000
        pid = product_id("A-1")
        rows = emu.entities["product_media"].values()
        assert 600 == sum(1 for r in rows if r["productId"] == pid)

    async def test_attach_media(self, tmp_path: Path) -> None:
        """
        Attaching after a push: a category takes its first image, an
        article gets exactly its images (first is the cover) and
        documents.
        """
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        shop = _shop(emu)
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])
        image = await shop.upload_media(_staged(tmp_path))
        link = MediaLink(media_id=image, sha256="x", position=0)
        document = MediaLink(
            media_id=sw_id("media", "doc"),
            sha256="y",
            position=1,
            kind=MediaKind.DOCUMENT,
        )

        await shop.attach_media(
            DataType.CATEGORIES, Outcome(number="K-1"), [link]
        )
        await shop.attach_media(
            DataType.ARTICLES, Outcome(number="A-1"), [link, document]
        )
        await shop.attach_media(DataType.ARTICLES, Outcome(number="A-1"), [])
        with pytest.raises(ValueError, match="have no media"):
            await shop.attach_media(DataType.STOCK, Outcome(number="A-1"), [])
        await shop.aclose()

        assert image == emu.entities["category"][category_id("K-1")]["mediaId"]
        product = emu.entities["product"][product_id("A-1")]
        assert product.get("coverId") is None
        assert not [
            m
            for m in emu.entities["product_media"].values()
            if m["productId"] == product_id("A-1")
        ]


def _order_shop(
    handler: Callable[[httpx.Request], httpx.Response | None],
) -> tuple[Shopware6, list[str]]:
    """
    A shop with one order 10001 (state and delivery from *handler*);
    records the transition actions called.
    """
    actions: list[str] = []

    def route(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/oauth/token":
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "access_token": "tok",
                },
            )
        answer = handler(request)
        if answer is not None:
            return answer
        if "/state/" in path:
            actions.append(path.rsplit("/", 1)[-1])
            return httpx.Response(200, json={})
        return httpx.Response(200, json={"total": 0, "data": []})

    shop = Shopware6(
        "http://shop.test", "k", SECRET, transport=httpx.MockTransport(route)
    )
    return shop, actions


def _order(state: str, delivery: str | None) -> dict[str, Any]:
    return {
        "id": "o" * 32,
        "orderNumber": "10001",
        "stateMachineState": {"technicalName": state},
        "deliveries": (
            []
            if delivery is None
            else [
                {
                    "id": "d" * 32,
                    "trackingCodes": [],
                    "stateMachineState": {"technicalName": delivery},
                }
            ]
        ),
    }


class TestOrderStates:
    async def test_unknown_state_fails_the_record(self) -> None:
        """
        A state the adapter cannot walk from fails that status by name.
        """

        def handler(request: httpx.Request) -> httpx.Response | None:
            if request.url.path == "/api/search/order":
                return httpx.Response(
                    200, json={"data": [_order("on_hold", "open")]}
                )
            return None

        shop, actions = _order_shop(handler)

        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="10001", state=OrderState.COMPLETED
                    )
                )
            ],
        )
        await shop.aclose()

        assert "no transition leads the order from 'on_hold'" in (
            outcome.error or ""
        )
        assert ["ship"] == actions

    async def test_illegal_transition_reads_the_state_again(self) -> None:
        """
        Another writer moved the order: the refused transition makes the
        adapter read the state and plan again, once.
        """
        refused = {"done": False}

        def handler(request: httpx.Request) -> httpx.Response | None:
            path = request.url.path
            if path == "/api/search/order":
                body = json.loads(request.content)
                if body.get("filter", [{}])[0].get("field") == "id":
                    return httpx.Response(
                        200, json={"data": [_order("in_progress", None)]}
                    )
                return httpx.Response(
                    200, json={"data": [_order("open", None)]}
                )
            if path.endswith("/state/process") and not refused["done"]:
                refused["done"] = True
                return httpx.Response(
                    400,
                    json={
                        "errors": [
                            {
                                "code": "SYSTEM__ILLEGAL_STATE_TRANSITION",
                                "detail": "Illegal transition",
                            }
                        ]
                    },
                )
            return None

        shop, actions = _order_shop(handler)

        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="10001", state=OrderState.COMPLETED
                    )
                )
            ],
        )
        await shop.aclose()

        assert outcome.ok
        assert ["complete"] == actions

    async def test_unreadable_state(self) -> None:
        """
        An order whose state cannot be read after a refusal fails by name.
        """

        def handler(request: httpx.Request) -> httpx.Response | None:
            path = request.url.path
            if path == "/api/search/order":
                body = json.loads(request.content)
                if body.get("filter", [{}])[0].get("field") == "id":
                    return httpx.Response(200, json={"data": []})
                return httpx.Response(
                    200, json={"data": [_order("open", None)]}
                )
            if "/state/" in path:
                return httpx.Response(
                    400,
                    json={
                        "errors": [
                            {"code": "SYSTEM__ILLEGAL_STATE_TRANSITION"}
                        ]
                    },
                )
            return None

        shop, _ = _order_shop(handler)

        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="10001", state=OrderState.IN_PROGRESS
                    )
                )
            ],
        )
        await shop.aclose()

        assert "has no readable state" in (outcome.error or "")

    async def test_status_for_an_unknown_order(self) -> None:
        """
        A status for an order the shop does not have fails alone.
        """
        shop, actions = _order_shop(lambda r: None)

        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(number="999", state=OrderState.SHIPPED)
                )
            ],
        )
        await shop.aclose()

        assert "order 999 does not exist in Shopware" == outcome.error
        assert [] == actions


class TestStock:
    async def _shop_with_articles(
        self, emu: ShopwareEmulator, *numbers: str
    ) -> Shopware6:
        shop = _shop(emu)
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        await shop.push(
            DataType.ARTICLES, [Outgoing(record=article(n)) for n in numbers]
        )
        return shop

    async def test_stock_is_one_sync_without_a_search(self) -> None:
        """
        Stock for articles the shop holds costs one Sync and no read.
        """
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        shop = await self._shop_with_articles(emu, "A-1", "A-2")
        seen = len(emu.requests)

        outcomes = await shop.push(
            DataType.STOCK,
            [
                Outgoing(record=StockLevel(number="A-1", quantity=4)),
                Outgoing(record=StockLevel(number="A-2", quantity=0)),
            ],
        )
        await shop.aclose()

        assert [o.ok for o in outcomes] == [True, True]
        assert ["POST /api/_action/sync"] == [
            f"{r.method} {r.path}" for r in list(emu.requests)[seen:]
        ]

    async def test_stock_for_a_missing_article_says_so(self) -> None:
        """
        Stock for an article the shop lacks fails on its number; the rest
        lands.
        """
        emu = ShopwareEmulator(client_id="SWIAPARTS", client_secret=SECRET)
        shop = await self._shop_with_articles(emu, "A-1")

        missing, ok = await shop.push(
            DataType.STOCK,
            [
                Outgoing(record=StockLevel(number="A-404", quantity=1)),
                Outgoing(record=StockLevel(number="A-1", quantity=3)),
            ],
        )
        await shop.aclose()

        assert ok.ok
        assert "article A-404 does not exist in Shopware" == missing.error
        assert "number" == missing.field
        stock = {
            p["productNumber"]: p["stock"]
            for p in emu.entities["product"].values()
        }
        assert {"A-1": 3} == stock


class TestPushOther:
    async def test_orders_cannot_be_pushed(self) -> None:
        """
        Addresses and orders go the other way: every item fails by name.
        """
        shop = Shopware6("http://shop.test", "k", SECRET)

        (outcome,) = await shop.push(
            DataType.ADDRESSES_AND_ORDERS,
            [Outgoing(record=Category(number="K-1", name="K"))],
        )
        await shop.aclose()

        assert "cannot be pushed to Shopware" in (outcome.error or "")
