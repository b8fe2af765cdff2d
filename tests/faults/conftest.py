"""
The shop for the fault matrix: the Shopware 6 emulator in process, an ERP
in memory, and the oracles of reliability-performance.md D.1 that every
scenario ends with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ecomsync import (
    Article,
    Category,
    DataType,
    LocalLicensePool,
    MediaRef,
    MediaStaging,
    MemoryErp,
    Order,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from .._shop_orders import orders_for


CANARY = "canary-F4ULT-S3CR3T-77"
ARTICLES = 12


def catalogue() -> list[Category | Article | StockLevel]:
    records: list[Category | Article | StockLevel] = [
        Category(number="C-1", name="Werkzeug"),
        Category(number="C-2", name="Hämmer", parent="C-1"),
    ]
    for i in range(1, ARTICLES + 1):
        records.append(
            Article(
                number=f"A-{i:02d}",
                name=f"Artikel {i}",
                price=Decimal("9.99") + i,
                categories=("C-2" if i % 2 else "C-1",),
                media=(
                    MediaRef(
                        key=f"img-{i}",
                        filename=f"a{i}.jpg",
                        mime_type="image/jpeg",
                    ),
                ),
            )
        )
        records.append(StockLevel(number=f"A-{i:02d}", quantity=i * 3))
    return records


def catalogue_orders(count: int) -> list[Order]:
    """
    `shop_orders` for the articles of `catalogue` (``A-01`` ...).
    """
    return orders_for(count, ARTICLES, "A-{:02d}".format)


def jpeg(i: int) -> bytes:
    # A JPEG signature, so that a shop that sniffs the type agrees.
    return b"\xff\xd8\xff\xe0" + f"image {i}".encode() * 40


_fast_retries = fast_retries(6)


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIAFAULTS", client_secret=CANARY)


@pytest.fixture(name="erp")
def _erp() -> MemoryErp:
    return MemoryErp(
        catalogue(),
        media={f"img-{i}": jpeg(i) for i in range(1, ARTICLES + 1)},
    )


def shop(
    emu: ShopwareEmulator,
    *,
    secret: str = CANARY,
    app: object = None,
    deadline: float = 60.0,
) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        secret,
        request_deadline=deadline,
        transport=httpx.ASGITransport(app=app or emu.app),  # type: ignore[arg-type]
    )


@pytest.fixture(name="fsync")
async def _fsync(
    emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    platform = shop(emu)
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        licenses=LocalLicensePool(1),
        staging=MediaStaging(tmp_path / "staging", memory_bytes=0),
        batch_size=4,
        license_timeout=5.0,
    )
    yield sync
    await platform.aclose()
    await sync.store.aclose()


async def assert_oracles(
    sync: Synchronizer,
    emu: ShopwareEmulator,
    records: list[Category | Article | StockLevel] | None = None,
    *,
    failed: frozenset[str] = frozenset(),
) -> None:
    """
    I1 (nothing lost: every ERP record is in the shop as the ERP has it,
    or in the failure ledger), I2 (one shop entity per record), I3 (the
    licence is back), I5 (staging clean), I6 (no secret in the store),
    I8 (no run left running).
    """
    records = catalogue() if records is None else records
    products = list(emu.entities.get("product", {}).values())
    numbers = [p["productNumber"] for p in products]
    assert sorted(set(numbers)) == sorted(numbers), "a duplicate product"
    ledger = {
        f.number
        for data_type in DataType
        for f in await sync.store.list_failures("shop", data_type)
    }
    assert failed <= ledger
    by_number = {p["productNumber"]: p for p in products}
    categories = {
        c.get("name") for c in emu.entities.get("category", {}).values()
    }
    for record in records:
        if record.number in failed:
            if isinstance(record, Article):
                assert record.number not in by_number
            continue
        if isinstance(record, Category):
            assert record.name in categories
        elif isinstance(record, Article):
            row = by_number[record.number]
            assert record.name == _name(row)
            assert float(record.price) == row["price"][0]["gross"]
            media = [
                m
                for m in emu.entities.get("product_media", {}).values()
                if m.get("productId") == row["id"]
            ]
            assert len(record.media) == len(media)
        else:
            assert record.quantity == by_number[record.number]["stock"]
    assert 0 == len(await sync.licenses.holders())
    assert [] == await sync.store.list_pending()
    staged = [
        p
        for p in sync.staging.directory.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    ]
    assert [] == staged
    runs = await sync.store.list_runs()
    assert [] == [
        r.id for r in runs if r.status in (RunStatus.RUNNING, RunStatus.QUEUED)
    ]
    for run in runs:
        assert CANARY not in repr(run)


def _name(row: dict[str, object]) -> object:
    if "name" in row:
        return row["name"]
    translations = row.get("translations") or {}
    assert isinstance(translations, dict)
    for values in translations.values():
        return values.get("name")
    return None
