"""
Media the merchant deleted in the shop: the engine forgets the id it
remembered and uploads the content again, and never records as synced an
article that links a media without a file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import attrs
import httpx
import pytest

from ecomsync import (
    Article,
    Category,
    MediaKind,
    MediaRef,
    MemoryErp,
    RunStatus,
    StockLevel,
    Synchronizer,
)
from ecomsync._fingerprint import content_hash
from ecomsync.platforms.shopware6._mapping import category_id, product_id
from ecomsync.platforms.shopware6._media import media_id_for
from ecomsync.platforms.shopware6._writer import op
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.testing.woocommerce import WooCommerceEmulator

from .._push import PUSH, pushing, shopware6
from ..conftest import small_catalogue


pytestmark = pytest.mark.anyio

SECRET = "media-gone-secret"


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIAGONE", client_secret=SECRET)


@pytest.fixture(name="sw_sync")
async def _sw_sync(
    emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
        yield sync


async def _delete_media(emu: ShopwareEmulator, mid: str) -> None:
    """The merchant deletes media *mid* in the shop's media library."""
    transport = httpx.ASGITransport(app=emu.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shop.test"
    ) as client:
        got = await client.post(
            "/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": emu.client_id,
                "client_secret": SECRET,
            },
        )
        token = got.json()["access_token"]
        sent = await client.post(
            "/api/_action/sync",
            json=[op("gone", "media", [{"id": mid}], "delete")],
            headers={"Authorization": f"Bearer {token}"},
        )
        sent.raise_for_status()


def _rename(erp: MemoryErp, number: str) -> None:
    """The ERP changes article *number* (its media stay)."""
    article = next(
        r
        for r in small_catalogue()
        if isinstance(r, Article) and r.number == number
    )
    erp.put(attrs.evolve(article, name=article.name + " (neu)"))


def _shown(emu: ShopwareEmulator, number: str) -> list[bool]:
    """Per product media row of *number*: whether its media has a file."""
    pid = product_id(number)
    media = emu.entities["media"]
    return [
        bool((media.get(row["mediaId"]) or {}).get("fileName"))
        for row in emu.entities["product_media"].values()
        if row["productId"] == pid
    ]


def _searches(emu: ShopwareEmulator, since: int, entity: str) -> int:
    return sum(
        1
        for r in list(emu.requests)[since:]
        if r.path == f"/api/search/{entity}"
    )


class TestMediaDeletedInTheShop:
    """An image the merchant deleted in Shopware comes back."""

    async def test_a_deleted_image_is_uploaded_again(
        self, sw_sync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """The article whose image was deleted is never recorded as
        synced linking an empty media entity (which showed a broken
        image); it fails on that image, and the next run uploads the
        content again and links it, with nothing done by hand."""
        first = await sw_sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == first.status
        mid = media_id_for(content_hash(b"image 1"))
        await _delete_media(emu, mid)
        assert [] == _shown(emu, "A-1")  # the delete cascaded
        _rename(erp, "A-1")

        second = await sw_sync.execute(PUSH)

        assert [("A-1", "media.0")] == [
            (f.number, f.field) for f in second.failures
        ]
        assert "next run uploads it again" in second.failures[0].message
        assert [] == _shown(emu, "A-1")  # no empty media entity linked
        assert mid not in emu.entities["media"]
        third = await sw_sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == third.status
        assert not third.failures
        assert [True] == _shown(emu, "A-1")
        assert [True] * 5 == [
            s
            for n in ("A-2", "A-3", "A-4", "A-5", "A-6")
            for s in _shown(emu, n)
        ]

    async def test_a_delta_costs_no_media_search(
        self, sw_sync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """Changed articles that still hold their images cost no request
        to check them: what the product search read says they are
        there, with their files."""
        first = await sw_sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == first.status
        _rename(erp, "A-2")
        seen = len(emu.requests)

        second = await sw_sync.execute(PUSH)

        assert RunStatus.SUCCEEDED == second.status
        assert 0 == _searches(emu, seen, "media")
        assert [True] == _shown(emu, "A-2")


WOO_SECRET = "cs_media-gone"
WOO_APP = "app-media-gone"


@pytest.fixture(name="woo")
def _woo() -> WooCommerceEmulator:
    return WooCommerceEmulator(
        "ck_gone", WOO_SECRET, wp_user="sync", wp_application_password=WOO_APP
    )


@pytest.fixture(name="woo_sync")
async def _woo_sync(
    woo: WooCommerceEmulator, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    platform = WooCommerce(
        "http://shop.test",
        "ck_gone",
        WOO_SECRET,
        wp_user="sync",
        wp_application_password=WOO_APP,
        transport=httpx.ASGITransport(app=woo.app),
    )
    async with pushing(platform, erp, tmp_path) as sync:
        yield sync


class TestWooCommerceMediaDeleted:
    """An attachment the merchant deleted in WordPress comes back."""

    async def test_a_deleted_attachment_is_uploaded_again(
        self, woo_sync: Synchronizer, woo: WooCommerceEmulator, erp: MemoryErp
    ) -> None:
        """WooCommerce refuses the deleted attachment's id: the article
        fails on that image once, the id is forgotten, and the next run
        uploads the content again and attaches it (it failed every run,
        for ever)."""
        first = await woo_sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == first.status
        store = woo_sync.store
        sha = content_hash(b"image 1")
        mid = await store.get_media_id("shop", sha)
        assert mid is not None
        transport = httpx.ASGITransport(app=woo.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://shop.test"
        ) as client:
            gone = await client.delete(
                f"/wp-json/wp/v2/media/{mid}",
                params={"force": "true"},
                auth=("sync", WOO_APP),
            )
            assert 200 == gone.status_code
        _rename(erp, "A-1")

        second = await woo_sync.execute(PUSH)

        assert [("A-1", "media.0")] == [
            (f.number, f.field) for f in second.failures
        ]
        assert await store.get_media_id("shop", sha) is None
        third = await woo_sync.execute(PUSH)
        assert not third.failures
        again = await store.get_media_id("shop", sha)
        assert again is not None
        assert again != mid


#: A category with an image and an article with a document (a manual).
CAT_IMAGE = MediaRef(key="cat", filename="cat.png", mime_type="image/png")
MANUAL = MediaRef(
    key="manual",
    filename="manual.pdf",
    mime_type="application/pdf",
    kind=MediaKind.DOCUMENT,
)
CAT_BYTES, MANUAL_BYTES = b"\x89PNG\r\n\x1a\ncategory", b"%PDF-1.4 manual"


def _media_erp() -> MemoryErp:
    return MemoryErp(
        [
            Category(number="C-1", name="Werkzeug", media=(CAT_IMAGE,)),
            Article(
                number="A-1",
                name="Hammer",
                price=Decimal("9.99"),
                categories=("C-1",),
                media=(MANUAL,),
            ),
            StockLevel(number="A-1", quantity=3),
        ],
        media={"cat": CAT_BYTES, "manual": MANUAL_BYTES},
    )


def _has_file(emu: ShopwareEmulator, mid: object) -> bool:
    return bool((emu.entities["media"].get(str(mid)) or {}).get("fileName"))


class TestCategoryImageAndDocumentDeleted:
    """A category image or a document the merchant deleted in Shopware
    comes back too."""

    async def test_a_deleted_category_image_is_uploaded_again(
        self, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """The category whose image was deleted (Shopware sets its
        mediaId null) is not recorded as synced linking an empty media
        entity: it fails on media.0 once, and the next run uploads the
        image again and links it."""
        erp = _media_erp()
        mid = media_id_for(content_hash(CAT_BYTES))
        async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
            first = await sync.execute(PUSH)
            await _delete_media(emu, mid)
            cid = category_id("C-1")
            assert None is emu.entities["category"][cid]["mediaId"]
            erp.put(
                Category(number="C-1", name="Werkzeuge", media=(CAT_IMAGE,))
            )
            second = await sync.execute(PUSH)
            after_second = emu.entities["category"][cid].get("mediaId")
            third = await sync.execute(PUSH)

        assert RunStatus.SUCCEEDED == first.status, first.failures
        assert [("C-1", "media.0")] == [
            (f.number, f.field) for f in second.failures
        ]
        assert "next run uploads it again" in second.failures[0].message
        assert None is after_second
        assert not third.failures
        linked = emu.entities["category"][cid]["mediaId"]
        assert _has_file(emu, linked)

    async def test_a_deleted_document_is_uploaded_again(
        self, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """An article whose document (a manual) was deleted in the shop
        is not recorded as synced naming an empty media entity in its
        documents: it fails on media.0 once, and the next run uploads the
        document again and names it."""
        erp = _media_erp()
        mid = media_id_for(content_hash(MANUAL_BYTES))
        pid = product_id("A-1")
        async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
            first = await sync.execute(PUSH)
            await _delete_media(emu, mid)
            erp.put(
                Article(
                    number="A-1",
                    name="Hammer (neu)",
                    price=Decimal("9.99"),
                    categories=("C-1",),
                    media=(MANUAL,),
                )
            )
            second = await sync.execute(PUSH)
            empty = mid in emu.entities["media"]
            third = await sync.execute(PUSH)

        assert RunStatus.SUCCEEDED == first.status, first.failures
        assert [("A-1", "media.0")] == [
            (f.number, f.field) for f in second.failures
        ]
        assert "document media.0" in second.failures[0].message
        assert not empty
        assert not third.failures
        fields = emu.entities["product"][pid].get("customFields") or {}
        (document,) = fields["ecomsync_documents"]
        assert _has_file(emu, document)
