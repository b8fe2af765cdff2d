"""
The bad inputs B1-B6 of reliability-performance.md D.3, through the
engine into the Shopware 6 emulator: each bad record fails alone with a
message naming the record and the field, the rest of the run goes on,
nothing invalid reaches the shop, and the D.1 oracles hold for the rest.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    Order,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import PUSH
from .conftest import CANARY, assert_oracles, catalogue, catalogue_orders


pytestmark = pytest.mark.anyio


def _article(number: str, **kw: Any) -> Article:
    fields: dict[str, Any] = {
        "number": number,
        "name": f"Artikel {number}",
        "price": Decimal("5.00"),
        "categories": ("C-1",),
    }
    fields.update(kw)
    return Article(**fields)


async def _failures(sync: Synchronizer) -> dict[str, tuple[str, str | None]]:
    out = {}
    for data_type in DataType:
        for f in await sync.store.list_failures("shop", data_type):
            out[f.number] = (f.message, f.field)
    return out


class TestB1MalformedRecords:
    @pytest.mark.parametrize(
        ("bad", "field"),
        [
            (_article("X-1", price=Decimal("NaN")), "price"),
            (_article("X-2", price=Decimal("Infinity")), "price"),
            (_article("X-3", price=Decimal("1e309")), "price"),
            (_article("X-4", price=Decimal("-3.00")), "price"),
            (_article("X-5", name=""), "name"),
            (_article("X-6", name="n" * 10_000), "name"),
            (_article("X-7", tax_rate=Decimal("NaN")), "tax_rate"),
            # An exponent beyond the decimal context's (999999): its
            # checksum made the whole run fail with decimal.Overflow.
            (_article("X-8", price=Decimal("1E+1000000")), "price"),
            (_article("X-9", tax_rate=Decimal("5E+1000001")), "tax_rate"),
        ],
        ids=[
            "nan",
            "inf",
            "1e309",
            "negative",
            "blank",
            "10k",
            "tax",
            "exponent",
            "tax-exponent",
        ],
    )
    async def test_bad_article_fails_alone(
        self,
        fsync: Synchronizer,
        emu: ShopwareEmulator,
        erp: MemoryErp,
        bad: Article,
        field: str,
    ) -> None:
        """A malformed article fails alone naming its field; the shop
        never sees it; everything else lands."""
        erp.put(bad)
        summary = await fsync.execute(PUSH)
        failures = await _failures(fsync)
        assert bad.number in failures
        message, named = failures[bad.number]
        assert field in (named or "") or field in message
        assert [bad.number] == [
            f.number for f in summary.failures if f.number == bad.number
        ]
        numbers = {
            p["productNumber"] for p in emu.entities["product"].values()
        }
        assert bad.number not in numbers
        await assert_oracles(fsync, emu)

    async def test_negative_stock_is_refused_by_name(
        self, fsync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """Negative stock is not written without a word, nor is the last
        figure left selling: the shop gets 0 and the record fails naming
        the quantity (no backorders allowed by default)."""
        await fsync.execute(PUSH)
        erp.put(StockLevel(number="A-03", quantity=-4))
        await fsync.execute(PUSH)
        failures = await _failures(fsync)
        assert "quantity" == failures["A-03"][1]
        assert failures["A-03"][0].startswith("quantity -4 of 'A-03' is neg")
        (product,) = [
            p
            for p in emu.entities["product"].values()
            if p["productNumber"] == "A-03"
        ]
        assert 0 == product["stock"]
        records = [
            r
            for r in catalogue()
            if not (isinstance(r, StockLevel) and r.number == "A-03")
        ]
        await assert_oracles(fsync, emu, records)

    async def test_same_number_twice_fails_both(
        self, fsync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """Two records read with one number: neither wins, both fail
        naming each other; nothing is written for that number."""

        class Twice:
            def __getattr__(self, name: str) -> Any:
                return getattr(erp, name)

            def session(self) -> Any:
                return _TwiceSession(erp.session())

        sync = Synchronizer(
            erp=Twice(),  # type: ignore[arg-type]
            platforms=fsync.platforms,
            store=fsync.store,
            licenses=fsync.licenses,
            staging=fsync.staging,
            batch_size=fsync.batch_size,
        )
        summary = await sync.execute(PUSH)
        assert "A-04" in {f.number for f in summary.failures}
        numbers = [
            p["productNumber"] for p in emu.entities["product"].values()
        ]
        assert "A-04" not in numbers


class _TwiceSession:
    """Reads every batch with a second, different A-04 in it."""

    def __init__(self, cm: Any) -> None:
        self.cm = cm

    async def __aenter__(self) -> Any:
        inner = await self.cm.__aenter__()

        class S:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            async def read(
                self, data_type: DataType, *a: Any, **k: Any
            ) -> Any:
                async for batch in inner.read(data_type, *a, **k):
                    extra = []
                    if data_type is DataType.ARTICLES and any(
                        r.number == "A-04" for r in batch
                    ):
                        extra = [_article("A-04", name="Imposter")]
                    yield [*batch, *extra]

        return S()

    async def __aexit__(self, *exc: object) -> Any:
        return await self.cm.__aexit__(*exc)


class TestB2HugePayloads:
    async def test_big_description_and_oversize_image(
        self,
        fsync: Synchronizer,
        emu: ShopwareEmulator,
        erp: MemoryErp,
        tmp_path: Path,
    ) -> None:
        """A 900 kB description is written whole; an image larger than
        the staging budget fails its article alone, with a clear reason;
        the rest lands."""
        sync = Synchronizer(
            erp=erp,
            platforms=fsync.platforms,
            store=fsync.store,
            licenses=fsync.licenses,
            staging=MediaStaging(
                tmp_path / "small", max_bytes=64_000, memory_bytes=0
            ),
            batch_size=fsync.batch_size,
        )
        erp.put(_article("X-10", description="<p>" + "d" * 900_000))
        huge = MediaRef(
            key="huge", filename="huge.jpg", mime_type="image/jpeg"
        )
        erp.put(_article("X-11", media=(huge,)))
        erp.media["huge"] = b"\xff\xd8\xff" + bytes(100_000)
        with anyio.fail_after(60):
            await sync.execute(PUSH)
        failures = await _failures(sync)
        assert "X-11" in failures
        assert "X-10" not in failures
        numbers = {
            p["productNumber"] for p in emu.entities["product"].values()
        }
        assert "X-10" in numbers
        assert "X-11" not in numbers
        await assert_oracles(sync, emu)


class TestB3HostileFileNames:
    @pytest.mark.parametrize(
        "name",
        [
            "../../etc/passwd",
            "..\\..\\x.jpg",
            "/abs/x.jpg",
            "CON.jpg",
            "a\x00b.jpg",
            "n" * 300 + ".jpg",
            "\u202egpj.exe",
            "-rf.jpg",
            ".htaccess",
        ],
    )
    async def test_staged_by_hash_never_by_name(
        self,
        fsync: Synchronizer,
        emu: ShopwareEmulator,
        erp: MemoryErp,
        name: str,
    ) -> None:
        """Whatever the ERP calls a file, nothing is created outside the
        staging directory, and the file lands or fails by name."""
        await fsync.execute(PUSH)
        ref = MediaRef(key="evil", filename=name, mime_type="image/jpeg")
        erp.put(_article("X-20", media=(ref,)))
        erp.media["evil"] = b"\xff\xd8\xff" + b"evil" * 100
        outside = set(fsync.staging.directory.parent.iterdir())
        await fsync.execute(PUSH)
        assert outside == set(fsync.staging.directory.parent.iterdir())
        for path in fsync.staging.directory.rglob("*"):
            assert name not in str(path)
        await assert_oracles(fsync, emu)


class TestB4Encodings:
    @pytest.mark.parametrize(
        "text",
        ["lone \ud800 surrogate", "nul \x00 byte", "\ufeffbom", "emoji 🦀"],
        ids=["surrogate", "nul", "bom", "emoji"],
    )
    async def test_text_lands_or_fails_by_name(
        self,
        fsync: Synchronizer,
        emu: ShopwareEmulator,
        erp: MemoryErp,
        text: str,
    ) -> None:
        """Text that cannot travel as UTF-8 JSON fails its record naming
        the field; text that can lands unchanged; the run goes on."""
        erp.put(_article("X-30", name=text))
        await fsync.execute(PUSH)
        failures = await _failures(fsync)
        rows = [
            p
            for p in emu.entities["product"].values()
            if p["productNumber"] == "X-30"
        ]
        if "X-30" in failures:
            assert "name" in (failures["X-30"][1] or failures["X-30"][0])
            assert [] == rows
        else:
            assert 1 == len(rows)
        await assert_oracles(fsync, emu)


class TestB5HostileOrders:
    async def test_order_text_arrives_verbatim(
        self, fsync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """Formula, SQL and markup in shop order fields reach the ERP as
        data, unchanged."""
        await fsync.execute(PUSH)
        (order,) = catalogue_orders(1)
        hostile = '=HYPERLINK("http://x");\'; DROP TABLE orders;--<x/>'
        from attrs import evolve

        order = evolve(order, billing=evolve(order.billing, street=hostile))
        emu.place(order)
        await fsync.execute(
            SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()})
        )
        imported = erp.orders[order.number]
        assert isinstance(imported, Order)
        assert hostile == imported.billing.street


class TestB6NoUrlFetching:
    async def test_media_keys_that_look_like_urls_are_not_fetched(
        self, fsync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """ecomsync never fetches a URL the ERP names: media bytes come
        through the ERP session only, so an internal address is never
        contacted and the record fails alone."""
        seen: list[str] = []
        inner = httpx.ASGITransport(app=emu.app)

        class Spy(httpx.AsyncBaseTransport):
            async def handle_async_request(
                self, request: httpx.Request
            ) -> httpx.Response:
                seen.append(request.url.host)
                return await inner.handle_async_request(request)

        shop = Shopware6(
            "http://shop.test", emu.client_id, CANARY, transport=Spy()
        )
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": shop},
            store=fsync.store,
            licenses=fsync.licenses,
            staging=fsync.staging,
            batch_size=fsync.batch_size,
        )
        ref = MediaRef(
            key="http://169.254.169.254/latest/meta-data",
            filename="x.jpg",
            mime_type="image/jpeg",
        )
        erp.put(_article("X-40", media=(ref,)))
        await sync.execute(PUSH)
        await shop.aclose()
        assert {"shop.test"} == set(seen)
        assert "X-40" in await _failures(sync)
        await assert_oracles(sync, emu)
