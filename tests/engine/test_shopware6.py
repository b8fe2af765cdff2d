"""
The engine over the Shopware 6 adapter and emulator: the engine contract
(a plan equals the run that follows it, a plan writes nothing, no secret
leaks anywhere), check(), media batching and uploads after the push.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    AuthenticationError,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    Outcome,
    Outgoing,
    RunStatus,
    SqliteStore,
    StagedMedia,
    SyncError,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import RequestRecord, ShopwareEmulator

from .._engine_contract import LostStateContract, PlatformEngineContract
from .._push import PUSH, pushing, shopware6
from .._retries import fast_retries


pytestmark = pytest.mark.anyio

CANARY = "canary-S3CR3T-4f1d9b"
WRITE_METHODS = {"POST", "PATCH", "DELETE", "PUT"}


_fast_retries = fast_retries(2)


def _new_emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIAECOMSYNC", client_secret=CANARY)


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return _new_emu()


def shop(emu: ShopwareEmulator, secret: str = CANARY) -> Shopware6:
    return shopware6(emu, secret)


@pytest.fixture(name="sw_sync")
async def _sw_sync(
    emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    async with pushing(shop(emu), erp, tmp_path) as sync:
        yield sync


def writes(emu: ShopwareEmulator) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in emu.requests
        if r.method in WRITE_METHODS
        and not r.path.startswith("/api/oauth")
        and not r.path.startswith("/api/search")
    ]


class TestEngine(PlatformEngineContract):
    """The engine contract over Shopware6 and its emulator."""

    fails_without_variants = True
    secrets = (CANARY,)
    wrong_secret = CANARY + "-wrong"

    def emulator(self) -> ShopwareEmulator:
        return _new_emu()

    def platform(
        self, emu: ShopwareEmulator, *, secret: str | None = None
    ) -> Shopware6:
        return shop(emu, CANARY if secret is None else secret)

    def place_costly_orders(self, emu: ShopwareEmulator) -> str:
        # a number two orders hold: each page's numbers are looked up
        for n in range(5):
            emu.place_order(
                order_number=f"C-{n // 2}",
                order_id=f"{n:032x}",
                lines=[
                    {"productNumber": "A-1", "quantity": 1, "unitPrice": 9}
                ],
            )
        return "C-2"

    def sent(self, emu: ShopwareEmulator, since: int) -> list[RequestRecord]:
        return [
            r
            for r in list(emu.requests)[since:]
            if not r.path.startswith("/api/oauth")
        ]

    def writes(self, emu: ShopwareEmulator) -> list[str]:
        return writes(emu)

    def stock(self, emu: ShopwareEmulator, number: str) -> list[int]:
        return [
            p["stock"]
            for p in emu.entities["product"].values()
            if p["productNumber"] == number
        ]

    def check_first_sync(
        self, emu: ShopwareEmulator, sent: list[RequestRecord]
    ) -> None:
        """Every image uploaded once and the cover of its product, written
        in the product's own sync."""
        uploads = [r for r in sent if r.path.endswith("/upload")]
        assert 6 == len(uploads)
        products = emu.entities["product"].values()
        covers = [p for p in products if p.get("coverId")]
        assert 6 == len(covers)
        for product in covers:
            media_row = emu.entities["product_media"][product["coverId"]]
            content = emu.media_bytes(media_row["mediaId"])
            number = product["productNumber"].split("-")[1]
            assert f"image {number}".encode() == content


class TestLostState(LostStateContract):
    """
    Shopware 6 ids are derived from the numbers and the adapter searches
    media by content before uploading: a lost store finds it all again.
    """

    fails_without_variants = True

    def emulator(self) -> ShopwareEmulator:
        return _new_emu()

    def platform(self, emu: ShopwareEmulator) -> Shopware6:
        return shop(emu)

    def media(self, emu: ShopwareEmulator) -> object:
        return set(emu.entities["media"])

    def attached(self, emu: ShopwareEmulator) -> dict[str, list[str]]:
        held: dict[str, list[str]] = {}
        links = sorted(
            emu.entities["product_media"].values(),
            key=lambda m: m["position"],
        )
        for product in emu.entities["product"]:
            held[product] = [
                m["mediaId"] for m in links if m["productId"] == product
            ]
        return held

    def requests(self, emu: ShopwareEmulator) -> int:
        return len(emu.requests)

    def catalogue(self, emu: ShopwareEmulator) -> object:
        e = emu.entities
        names = {i: c["name"] for i, c in e["category"].items()}
        numbers = {i: p["productNumber"] for i, p in e["product"].items()}
        files = {i: m["fileName"] for i, m in e["media"].items()}
        media = {
            i: [files.get(m["mediaId"]) for m in self._links(e, i)]
            for i in e["product"]
        }
        categories: dict[str, list[str]] = {}
        for link in e["product_category"].values():
            categories.setdefault(link["productId"], []).append(
                names[link["categoryId"]]
            )
        return (
            sorted(
                (
                    p["productNumber"],
                    p.get("active"),
                    numbers.get(p.get("parentId") or ""),
                    p.get("name"),
                    p.get("stock"),
                    media[i],
                    sorted(categories.get(i, [])),
                )
                for i, p in e["product"].items()
            ),
            sorted(
                (c["name"], names.get(c.get("parentId") or ""))
                for c in e["category"].values()
            ),
            sorted(files.values()),
        )

    @staticmethod
    def _links(e: Mapping[str, Any], product: str) -> list[Any]:
        return sorted(
            (
                m
                for m in e["product_media"].values()
                if m["productId"] == product
            ),
            key=lambda m: m["position"],
        )


class TestMediaBatching:
    async def test_concurrent_media_entities_share_a_sync(
        self, emu: ShopwareEmulator
    ) -> None:
        """Media entities requested together are created in one sync."""
        platform = shop(emu)
        ids = [f"{i:032x}" for i in range(1, 7)]
        seen = len(emu.requests)

        async with anyio.create_task_group() as tg:
            for mid in ids:
                tg.start_soon(platform._media.create, mid)
        await platform.aclose()

        syncs = [r for r in list(emu.requests)[seen:] if r.route == "sync"]
        assert [6] == [r.items for r in syncs]
        assert set(ids) <= set(emu.entities["media"])


class TestCheck:
    async def test_wrong_secret(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """With a wrong secret, check() says the credentials are refused
        and plan() fails with an AuthenticationError after asking the shop,
        instead of answering "create"; neither shows the secret."""
        wrong = CANARY + "-wrong"
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": shop(emu, wrong)},
            store=SqliteStore(tmp_path / "state.db"),
        )

        result = await sync.check()
        with pytest.raises(AuthenticationError) as info:
            await sync.plan(SyncSpec(types={DataType.CATEGORIES: All()}))

        (problem,) = result.problems
        assert problem.startswith("platform 'shop': ")
        assert any(r.path.startswith("/api/oauth") for r in emu.requests)
        assert writes(emu) == []
        for text in (problem, str(info.value), *info.value.__notes__):
            assert CANARY not in text
        await sync.store.aclose()

    async def test_good_secret(self, sw_sync: Synchronizer) -> None:
        """With the right secret and privileges nothing is reported."""
        assert (await sw_sync.check()).ok


class _FlakyUploads(Shopware6):
    """
    A Shopware6 whose next *refuse* uploads are refused, and which can
    answer another id than the one it named (content held elsewhere).
    """

    refuse: int = 0
    elsewhere: str | None = None

    async def upload_media(self, media: StagedMedia) -> str:
        if self.refuse:
            self.refuse -= 1
            raise SyncError(f"upload of {media.filename} refused")
        if self.elsewhere is not None:
            return self.elsewhere
        return await super().upload_media(media)


def _syncs(emu: ShopwareEmulator, seen: int = 0) -> int:
    return sum(
        1 for r in list(emu.requests)[seen:] if r.path == "/api/_action/sync"
    )


def _uploads(emu: ShopwareEmulator, seen: int = 0) -> int:
    return sum(
        1 for r in list(emu.requests)[seen:] if r.path.endswith("/upload")
    )


class _CountingStore(SqliteStore):
    """A SqliteStore that counts its media-id calls."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: Counter[str] = Counter()
        self.saved: set[str] = set()

    async def get_media_id(self, platform: str, sha256: str) -> str | None:
        self.calls["get_media_id"] += 1
        return await super().get_media_id(platform, sha256)

    async def put_media_id(
        self, platform: str, sha256: str, media_id: str
    ) -> None:
        self.calls["put_media_id"] += 1
        await super().put_media_id(platform, sha256, media_id)

    async def get_media_ids(
        self, platform: str, sha256s: Sequence[str]
    ) -> dict[str, str]:
        self.calls["get_media_ids"] += 1
        return await super().get_media_ids(platform, sha256s)

    async def put_media_ids(
        self, platform: str, media_ids: Mapping[str, str]
    ) -> None:
        self.calls["put_media_ids"] += 1
        self.saved.update(media_ids)
        await super().put_media_ids(platform, media_ids)


class _OneByOne:
    """A store with the StateStore methods only (no batches)."""

    def __init__(self, inner: _CountingStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in {"get_media_ids", "put_media_ids"}:
            raise AttributeError(name)
        return getattr(self.inner, name)


class TestMediaAfterPush:
    @pytest.fixture(name="flaky")
    async def _flaky(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> AsyncIterator[tuple[Synchronizer, _FlakyUploads]]:
        platform = _FlakyUploads(
            "http://shop.test",
            emu.client_id,
            CANARY,
            transport=httpx.ASGITransport(app=emu.app),
        )
        async with pushing(platform, erp, tmp_path) as sync:
            yield sync, platform

    async def test_media_entities_ride_in_the_product_sync(
        self, sw_sync: Synchronizer, emu: ShopwareEmulator
    ) -> None:
        """A first sync creates the media entities in the products' own
        sync: one sync per type's batch, one upload per file, nothing
        else per image; a rerun uploads nothing."""
        spec = PUSH

        run = await sw_sync.execute(spec)

        assert RunStatus.SUCCEEDED == run.status
        assert 2 == _syncs(emu)  # categories, articles with their stock
        assert 6 == _uploads(emu)
        assert 6 == len(emu.entities["media"])
        seen = len(emu.requests)
        rerun = await sw_sync.execute(SyncSpec(types=spec.types, force=True))
        assert RunStatus.SUCCEEDED == rerun.status
        assert 0 == _uploads(emu, seen)

    async def test_a_batch_larger_than_the_staging_budget_completes(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """Files uploaded after the push stay staged until their batch is
        pushed, so a batch whose media exceed the staging budget (room
        for one file here; 100 articles of 3 MB photos against the
        default 256 MiB) waited for room only its own push would free,
        for ever.  The rest of the batch stays in memory instead; the run
        completes and the budget still bounds the disk."""
        platform = shop(emu)
        staging = MediaStaging(tmp_path / "staging", max_bytes=8)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "state.db"),
            staging=staging,
        )

        with anyio.fail_after(20):
            run = await sync.execute(PUSH)

        assert RunStatus.SUCCEEDED == run.status
        assert not run.failures
        assert 6 == _uploads(emu)
        assert staging.peak_bytes <= 8
        assert 0 == staging.memory_used_bytes
        await platform.aclose()
        await sync.store.aclose()

    async def test_media_ids_go_to_the_store_together(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """The media ids of a batch's uploads are looked up and saved in
        a few store transactions, not one per file, and a rerun finds
        every one of them (nothing is uploaded again)."""
        store = _CountingStore(tmp_path / "state.db")
        platform = shop(emu)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )

        run = await sync.execute(PUSH)

        assert RunStatus.SUCCEEDED == run.status
        assert 6 == _uploads(emu)
        assert 0 == store.calls["get_media_id"] == store.calls["put_media_id"]
        assert 1 <= store.calls["get_media_ids"] < 6
        assert 1 == store.calls["put_media_ids"]
        assert 6 == len(await store.get_media_ids("shop", list(store.saved)))
        seen = len(emu.requests)
        rerun = await sync.execute(SyncSpec(types=PUSH.types, force=True))
        assert RunStatus.SUCCEEDED == rerun.status
        assert 0 == _uploads(emu, seen)
        await platform.aclose()
        await store.aclose()

    async def test_a_batch_asks_the_store_once(
        self, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """A batch's files ask the store for their media ids in one
        transaction, however many of them are read at once (24 here,
        16 at a time), and all of them are uploaded once."""
        erp = MemoryErp(
            [
                Article(
                    number=f"A-{n}",
                    name=f"article {n}",
                    price=Decimal(10),
                    media=[
                        MediaRef(
                            key=f"m-{n}-{k}",
                            filename=f"m-{n}-{k}.jpg",
                            mime_type="image/jpeg",
                        )
                        for k in range(2)
                    ],
                )
                for n in range(12)
            ],
            media={
                f"m-{n}-{k}": f"content {n} {k}".encode()
                for n in range(12)
                for k in range(2)
            },
        )
        store = _CountingStore(tmp_path / "state.db")
        platform = shop(emu)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )

        run = await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        assert RunStatus.SUCCEEDED == run.status
        assert 24 == _uploads(emu)
        assert 1 == store.calls["get_media_ids"]
        await platform.aclose()
        await store.aclose()

    async def test_store_without_batches(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """A store without the batch methods is asked one file at a
        time, and a rerun finds every upload all the same."""
        store = _OneByOne(_CountingStore(tmp_path / "state.db"))
        platform = shop(emu)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,  # type: ignore[arg-type]
            staging=MediaStaging(tmp_path / "staging"),
        )

        run = await sync.execute(PUSH)

        assert RunStatus.SUCCEEDED == run.status
        assert 6 == _uploads(emu)
        assert 0 == store.inner.calls["get_media_ids"]
        assert 0 == store.inner.calls["put_media_ids"]
        assert 6 == store.inner.calls["put_media_id"]
        seen = len(emu.requests)
        rerun = await sync.execute(SyncSpec(types=PUSH.types, force=True))
        assert RunStatus.SUCCEEDED == rerun.status
        assert 0 == _uploads(emu, seen)
        await platform.aclose()
        await store.inner.aclose()

    async def test_refused_upload_fails_the_record_until_retried(
        self,
        flaky: tuple[Synchronizer, _FlakyUploads],
        emu: ShopwareEmulator,
    ) -> None:
        """An upload refused after the push fails its record without a
        checksum; the next run uploads it and the record lands, and the
        run after that uploads nothing."""
        sync, platform = flaky
        spec = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )
        platform.refuse = 1

        first = await sync.execute(spec)

        failed = [
            f for f in first.failures if f.data_type is DataType.ARTICLES
        ]
        assert 1 == len(failed)
        assert "media.0" == failed[0].field
        assert "refused" in failed[0].message
        seen = len(emu.requests)
        second = await sync.execute(spec)
        assert RunStatus.SUCCEEDED == second.status
        assert 1 == _uploads(emu, seen)
        number = failed[0].number
        product = next(
            p
            for p in emu.entities["product"].values()
            if p["productNumber"] == number
        )
        cover = emu.entities["product_media"][product["coverId"]]
        assert emu.media_bytes(cover["mediaId"])
        seen = len(emu.requests)
        third = await sync.execute(spec)
        assert RunStatus.SUCCEEDED == third.status
        assert 0 == _uploads(emu, seen)

    async def test_refused_upload_leaves_no_broken_image(
        self,
        flaky: tuple[Synchronizer, _FlakyUploads],
        emu: ShopwareEmulator,
    ) -> None:
        """While its upload is refused, the record's product shows none of
        the media the push linked it to without their bytes: no broken
        image, no cover without a file."""
        sync, platform = flaky
        platform.refuse = 1

        first = await sync.execute(
            SyncSpec(
                types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
            )
        )

        (failed,) = [
            f for f in first.failures if f.data_type is DataType.ARTICLES
        ]
        product = next(
            p
            for p in emu.entities["product"].values()
            if p["productNumber"] == failed.number
        )
        shown = [
            m["mediaId"]
            for m in emu.entities["product_media"].values()
            if m["productId"] == product["id"]
        ]
        assert [m for m in shown if not emu.media_bytes(m)] == []
        assert product.get("coverId") is None

    async def test_refused_detach_only_logs(
        self,
        flaky: tuple[Synchronizer, _FlakyUploads],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """If the shop refuses to take the failed media off the record, the
        record fails for its upload all the same and a warning says so."""
        sync, platform = flaky
        platform.refuse = 1

        async def refuse(*_: object) -> None:
            raise SyncError("attach refused")

        platform.attach_media = refuse  # type: ignore[method-assign]
        run = await sync.execute(
            SyncSpec(
                types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
            )
        )

        (failed,) = run.failures
        assert "media.0" == failed.field
        assert RunStatus.SUCCEEDED == run.status
        assert any(
            "could not detach" in r.getMessage() for r in caplog.records
        )

    async def test_content_held_under_another_id_is_linked_next_run(
        self,
        flaky: tuple[Synchronizer, _FlakyUploads],
        emu: ShopwareEmulator,
        erp: MemoryErp,
    ) -> None:
        """Content the shop holds under another id fails its record once
        (it was linked to the named id); the next run links the held one
        without uploading."""
        sync, platform = flaky
        spec = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )
        await sync.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
        platform.elsewhere = "0" * 32
        # The shop holds it (a file of its own): the next run's check
        # that the remembered id is still there finds it.
        emu.entities["media"]["0" * 32] = {
            "id": "0" * 32,
            "fileName": "elsewhere",
            "fileExtension": "jpg",
            "mimeType": "image/jpeg",
            "hasFile": True,
        }

        first = await sync.execute(spec)

        assert 6 == len(first.failures)
        assert all("already" in f.message for f in first.failures)
        platform.elsewhere = None
        seen = len(emu.requests)
        second = await sync.execute(spec)
        assert 0 == _uploads(emu, seen)
        assert 0 == len(second.failures)
        product = next(iter(emu.entities["product"].values()))
        cover = emu.entities["product_media"][product["coverId"]]
        assert "0" * 32 == cover["mediaId"]


class _RefusesA2(Shopware6):
    """
    A Shopware6 that reports article A-2 refused after writing it.
    """

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        answered = await super().push(data_type, items)
        return [
            Outcome(number=o.number, error="refused", field="name")
            if o.number == "A-2"
            else o
            for o in answered
        ]


def _jpeg(key: str) -> MediaRef:
    return MediaRef(key=key, filename=f"{key}.jpg", mime_type="image/jpeg")


class TestPendingUploads:
    async def test_shared_refused_and_unreadable(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """Content shared by two records is uploaded once; a record the
        shop refused, or with a file that cannot be read, uploads
        nothing of its own and fails; the next run uploads just that."""
        erp.put(
            Article(
                number="A-7",
                name="Artikel 7",
                price=Decimal("7"),
                media=(
                    _jpeg("img-1"),
                    _jpeg("gone"),
                ),
            )
        )
        erp.put(
            Article(
                number="A-8",
                name="Artikel 8",
                price=Decimal("8"),
                media=(_jpeg("img-3"),),
            )
        )
        platform = _RefusesA2(
            "http://shop.test",
            emu.client_id,
            CANARY,
            transport=httpx.ASGITransport(app=emu.app),
        )
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "state.db"),
            staging=MediaStaging(tmp_path / "staging"),
        )
        spec = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )
        try:
            first = await sync.execute(spec)
        finally:
            await platform.aclose()

        fields = {f.number: f.field for f in first.failures}
        assert {"A-2": "name", "A-7": "media.1"} == fields
        # images 1, 3, 4, 5, 6: image 2 only A-2 had, image 3 once for two
        assert 5 == _uploads(emu)
        a8 = next(
            p
            for p in emu.entities["product"].values()
            if p["productNumber"] == "A-8"
        )
        cover = emu.entities["product_media"][a8["coverId"]]
        assert b"image 3" == emu.media_bytes(cover["mediaId"])

        again = shop(emu)
        sync.platforms["shop"] = again
        seen = len(emu.requests)
        try:
            second = await sync.execute(spec)
        finally:
            await again.aclose()
            await sync.store.aclose()
        assert ["A-7"] == [f.number for f in second.failures]
        assert 1 == _uploads(emu, seen)
