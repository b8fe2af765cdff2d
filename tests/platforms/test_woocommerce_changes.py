"""
WooCommerce: what the shop shows after the ERP changes a record and the
next run pushes it (through `Synchronizer`, `MemoryErp` and the
emulator): exactly the change, nothing stale left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Category,
    DataType,
    MediaKind,
    MediaRef,
    MediaStaging,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.erp.memory import MemoryErp
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

KEY, SECRET, APP = "ck_changes", "cs_changes", "app-changes"
PUSH = SyncSpec(
    platform="shop",
    types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()},
)


@attrs.define
class Shop:
    """A synchroniser over a MemoryErp and a WooCommerce emulator."""

    sync: Synchronizer
    erp: MemoryErp
    emu: WooCommerceEmulator

    async def push(self) -> None:
        summary = await self.sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == summary.status, summary

    def category(self, number: str) -> dict[str, Any]:
        (row,) = [
            t
            for t in self.emu.shop.categories.values()
            if t["slug"] == category_slug(number)
        ]
        return row


@pytest.fixture(name="shop")
async def _shop(tmp_path: Path) -> AsyncIterator[Shop]:
    emu = WooCommerceEmulator(
        KEY, SECRET, wp_user="sync", wp_application_password=APP
    )
    platform = WooCommerce(
        "https://shop.test",
        KEY,
        SECRET,
        wp_user="sync",
        wp_application_password=APP,
        transport=httpx.ASGITransport(app=emu.app),
    )
    erp = MemoryErp(media={"k1": b"\x89PNG one", "k2": b"\x89PNG two"})
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
    )
    yield Shop(sync, erp, emu)
    await platform.aclose()
    await sync.store.aclose()


def _image(key: str) -> MediaRef:
    return MediaRef(
        key=key,
        filename=f"{key}.png",
        mime_type="image/png",
        kind=MediaKind.IMAGE,
        version=key,
    )


class TestCategoryImage:
    async def test_removed_image_leaves_the_shop(self, shop: Shop) -> None:
        """
        A category whose image the ERP removed shows none after the next
        run (WooCommerce keeps the image of a category sent
        ``"image": null``; the adapter sends ``{"id": 0}``).
        """
        with_image = Category(
            number="C-1", name="Tools", media=(_image("k1"),)
        )
        shop.erp.put(with_image)
        await shop.push()
        before = shop.category("C-1")["image"]

        shop.erp.put(attrs.evolve(with_image, media=()))
        await shop.push()

        assert before is not None
        assert shop.category("C-1")["image"] is None

    async def test_changed_image_replaces_the_old_one(
        self, shop: Shop
    ) -> None:
        """
        A category whose image changed in the ERP shows the new one.
        """
        shop.erp.put(
            Category(number="C-1", name="Tools", media=(_image("k1"),))
        )
        await shop.push()
        first = shop.category("C-1")["image"]["id"]

        shop.erp.put(
            Category(number="C-1", name="Tools", media=(_image("k2"),))
        )
        await shop.push()

        second = shop.category("C-1")["image"]["id"]
        assert first != second
        assert sha256(b"\x89PNG two").hexdigest() == (
            shop.emu.shop.media[second].sha256
        )


class TestEmulator:
    def test_null_image_leaves_the_category_image(self) -> None:
        """
        The emulator, as WooCommerce's ``update_term_meta_fields``:
        ``"image": null`` changes nothing, ``{}`` or ``{"id": 0}``
        removes the image.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        attachment = emu.shop.add_media(b"\x89PNG x", "x.png", "image/png")
        row = emu.shop.create_category(
            {"name": "Tools", "image": {"id": attachment.id}}
        )

        emu.shop.update_category(row["id"], {"image": None})
        kept = emu.shop.categories[row["id"]]["image"]
        emu.shop.update_category(row["id"], {"image": {"id": 0}})
        removed = emu.shop.categories[row["id"]]["image"]
        emu.shop.update_category(row["id"], {"image": {"id": attachment.id}})
        emu.shop.update_category(row["id"], {"image": {}})

        assert attachment.id == kept["id"]
        assert removed is None
        assert emu.shop.categories[row["id"]]["image"] is None
