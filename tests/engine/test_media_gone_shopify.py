"""
A file the merchant deleted in Shopify's Files: the next push of its
article forgets the id the store remembered, uploads the content again
and attaches it; while the file is there nothing is uploaded twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import Article, DataType, MemoryErp, RunStatus, Synchronizer
from ecomsync._contracts import MediaLink, Outcome
from ecomsync._fingerprint import content_hash
from ecomsync.exceptions import RecordRejected
from ecomsync.platforms.shopify import Shopify
from ecomsync.testing.shopify import ShopifyEmulator

from .._push import PUSH, pushing
from ..conftest import small_catalogue


pytestmark = pytest.mark.anyio

TOKEN = "shpat_media-gone"


@pytest.fixture(name="emu")
def _emu() -> ShopifyEmulator:
    return ShopifyEmulator(TOKEN, maximum=1_000_000, restore_rate=1_000_000)


@pytest.fixture(name="sync")
async def _sync(
    emu: ShopifyEmulator, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    platform = Shopify(
        "https://shop.test", TOKEN, transport=httpx.ASGITransport(app=emu.app)
    )
    async with pushing(platform, erp, tmp_path) as sync:
        yield sync


async def _graphql(
    emu: ShopifyEmulator, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="https://shop.test",
        headers={"X-Shopify-Access-Token": TOKEN},
    ) as client:
        got = await client.post(
            "/admin/api/2026-01/graphql.json",
            json={"query": query, "variables": variables},
        )
    got.raise_for_status()
    data: dict[str, Any] = got.json()["data"]
    return data


async def _delete_file(emu: ShopifyEmulator, file_id: str) -> None:
    """The merchant deletes *file_id* in Shopify's Files."""
    data = await _graphql(
        emu,
        "mutation($ids: [ID!]!) { fileDelete(fileIds: $ids) "
        "{ deletedFileIds userErrors { message } } }",
        {"ids": [file_id]},
    )
    assert [file_id] == data["fileDelete"]["deletedFileIds"]


def _images(emu: ShopifyEmulator) -> dict[str, list[str]]:
    """Per ERP number: the file ids its product shows."""
    shop = emu.shop
    return {
        m["value"]: [shop.files[f]["id"] for f in p["_media"]]
        for p in shop.products.values()
        for m in p["_metafields"]
        if m["key"] == "number"
    }


class TestShopifyFileDeleted:
    """An image the merchant deleted in Shopify comes back."""

    @pytest.mark.parametrize("again", ["forced", "changed"])
    async def test_a_deleted_file_is_uploaded_again(
        self,
        sync: Synchronizer,
        emu: ShopifyEmulator,
        erp: MemoryErp,
        again: str,
    ) -> None:
        """The next push of the article whose file the merchant deleted
        (forced with nothing changed in the ERP, or the article changed)
        forgets the file's id, uploads the content again and attaches
        it: the product shows its image again and the article lands
        (it failed on media in every run, for ever)."""
        first = await sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == first.status
        sha = content_hash(b"image 1")
        lost = await sync.store.get_media_id("shop", sha)
        assert lost is not None
        before = _images(emu)
        await _delete_file(emu, lost)
        assert [] == _images(emu)["A-1"]
        spec = PUSH
        if again == "forced":
            spec = attrs.evolve(PUSH, force=True)
        else:
            article = next(
                r
                for r in small_catalogue()
                if isinstance(r, Article) and r.number == "A-1"
            )
            erp.put(attrs.evolve(article, name=article.name + " (neu)"))

        second = await sync.execute(spec)

        assert RunStatus.SUCCEEDED == second.status
        assert not second.failures
        healed = await sync.store.get_media_id("shop", sha)
        assert healed is not None
        assert healed != lost
        after = _images(emu)
        assert [healed] == after["A-1"]
        del before["A-1"], after["A-1"]
        assert before == after
        assert 6 == len(emu.shop.files)

    async def test_nothing_deleted_nothing_uploaded_twice(
        self, sync: Synchronizer, emu: ShopifyEmulator
    ) -> None:
        """Pushed again while every file is there, each product keeps
        its one image and no file is made."""
        first = await sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == first.status
        before = _images(emu)

        second = await sync.execute(attrs.evolve(PUSH, force=True))

        assert RunStatus.SUCCEEDED == second.status
        assert before == _images(emu)
        assert all(len(ids) == 1 for ids in before.values())
        assert 6 == len(emu.shop.files)


async def test_the_refusal_names_the_deleted_file(
    emu: ShopifyEmulator,
) -> None:
    """attach_media refused for a file deleted in Shopify fails on that
    file's position and names it (not the file Shopify still has) in
    RecordRejected.media_gone."""
    shop = emu.shop
    kept = shop.files[shop.add_file({"originalSource": "https://x/k.png"})]
    gone = shop.files[shop.add_file({"originalSource": "https://x/g.png"})]
    made = shop.product_set({"title": "A-1"}, None)
    await _delete_file(emu, gone["id"])
    links = [
        MediaLink(media_id=f["id"], sha256=str(k), position=k)
        for k, f in enumerate((kept, gone))
    ]
    async with Shopify(
        "https://shop.test", TOKEN, transport=httpx.ASGITransport(app=emu.app)
    ) as platform:
        with pytest.raises(RecordRejected) as refused:
            await platform.attach_media(
                DataType.ARTICLES,
                Outcome(number="A-1", platform_id=made["product"]["id"]),
                links,
            )

    assert ("A-1", "media.1") == (refused.value.number, refused.value.field)
    assert (gone["id"],) == refused.value.media_gone
    assert "deleted in Shopify" in str(refused.value)
