"""
The engine over a platform adapter and its shop, written once for every
platform: a plan is what the run that follows does and bounds its
requests, a plan writes nothing, no secret leaks anywhere, and the dirty
catalogue lands exactly or fails by name, twice; after the state store
is lost (a new store, an old backup) images are not added twice and a
changed catalogue leaves the shop as an intact store does.

A platform's test module subclasses `PlatformEngineContract` (an
emulator and the adapter over it, a few hooks reading the shop),
`DirtyCatalogueContract` (a ``dirty`` fixture: two runs of its catalogue
and a `ShopView` of what the shop holds afterwards) and
`LostStateContract` (the shop's media, what each product holds, the
whole catalogue without ids).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Protocol

import attrs
import pytest
import stamina

from ecomsync import (
    All,
    Article,
    AuthenticationError,
    Category,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    RunRecord,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Variant,
)
from ecomsync.events import RecordFailed, RecordSynced
from ecomsync.testing import DirtyCatalogue, Trap, capture_events
from ecomsync.typing import Platform

from ._negative_stock_contract import NegativeStockContract
from ._plan_estimate_contract import PlanEstimateContract
from ._plans import assert_run_matches_plan
from ._push import PUSH, PUSH_TYPES, pushing
from ._restock_contract import RestockContract
from .conftest import T0, flat_catalogue, small_catalogue


class PlatformEngineContract(
    RestockContract, NegativeStockContract, PlanEstimateContract
):
    """
    The engine over one platform's adapter and emulator (and
    `RestockContract`'s re-created variants, `NegativeStockContract`'s
    oversold stock).  Subclasses set
    `secrets` (every credential the adapter holds) and `wrong_secret`, and
    implement the hooks.
    """

    pytestmark = pytest.mark.anyio

    #: The credentials that must never show: in a repr, event, log
    #: record, error or the store.
    secrets: ClassVar[tuple[str, ...]]
    #: A credential the shop refuses.
    wrong_secret: ClassVar[str]

    # -- hooks -------------------------------------------------------------

    def emulator(self) -> Any:
        """
        A fresh emulator of the shop.
        """
        raise NotImplementedError

    def platform(self, emu: Any, *, secret: str | None = None) -> Platform:
        """
        The adapter over *emu*; *secret* replaces its right credential.
        """
        raise NotImplementedError

    def sent(self, emu: Any, since: int) -> list[Any]:
        """
        The requests *emu* got from the *since*-th on, but token requests.
        """
        return list(emu.requests)[since:]

    def writes(self, emu: Any) -> list[Any]:
        """
        What has been written to the shop so far.
        """
        raise NotImplementedError

    def stock(self, emu: Any, number: str) -> list[int]:
        """
        The quantities the shop holds for *number*, one per level.
        """
        raise NotImplementedError

    def check_first_sync(self, emu: Any, sent: list[Any]) -> None:
        """
        Platform checks after a first sync of the small catalogue, whose
        six articles have an image each; *sent* are its requests.
        """

    # -- fixtures ----------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _fast_retries(self) -> Iterator[None]:
        stamina.set_testing(True, attempts=2)
        yield
        stamina.set_testing(False)

    @pytest.fixture(name="emu")
    def _emu(self) -> Any:
        return self.emulator()

    @pytest.fixture(name="engine")
    async def _engine(
        self, emu: Any, erp: MemoryErp, tmp_path: Path
    ) -> AsyncIterator[Synchronizer]:
        async with pushing(self.platform(emu), erp, tmp_path) as sync:
            yield sync

    def assert_hidden(self, texts: list[str], *more: str) -> None:
        for text in texts:
            for secret in (*self.secrets, *more):
                assert secret not in text

    # -- tests -------------------------------------------------------------

    async def test_plan_equals_run(
        self, engine: Synchronizer, emu: Any, erp: MemoryErp
    ) -> None:
        """After a plan, the run creates, updates and skips exactly what
        the plan listed, within its request estimate, and shows no
        secret."""
        await engine.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
        for record in small_catalogue()[3:7]:
            erp.put(record)
        await engine.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        erp.put(StockLevel(number="A-1", quantity=4242))

        plan = await engine.plan(PUSH)
        seen = len(emu.requests)
        async with capture_events(engine, PUSH) as run:
            pass
        sent = self.sent(emu, seen)

        assert_run_matches_plan(plan, run, invalid=False)
        assert 6 == len(plan.types[DataType.ARTICLES].unchanged)
        assert 6 == len(plan.types[DataType.STOCK].create)
        assert len(sent) <= plan.requests
        assert [4242] == self.stock(emu, "A-1")
        self.assert_hidden([repr(run)])

    async def test_first_sync_within_estimate(
        self, engine: Synchronizer, emu: Any
    ) -> None:
        """A first sync with images sends no more requests than planned,
        and a second sync succeeds too."""
        plan = await engine.plan(PUSH)
        seen = len(emu.requests)

        run = await engine.execute(PUSH)
        sent = self.sent(emu, seen)
        again = await engine.execute(PUSH)

        assert RunStatus.SUCCEEDED == run.status
        assert RunStatus.SUCCEEDED == again.status
        assert len(sent) <= plan.requests
        self.check_first_sync(emu, sent)

    async def test_plan_writes_nothing(
        self, engine: Synchronizer, emu: Any
    ) -> None:
        """A plan of a first full sync writes nothing to the shop and
        stages nothing."""
        plan = await engine.plan(PUSH)

        assert 6 == len(plan.types[DataType.ARTICLES].create)
        assert [] == self.writes(emu)
        assert [] == list(engine.staging.directory.glob("*"))

    async def test_secrets_never_leak(
        self,
        engine: Synchronizer,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The credentials are in no repr, event, log record or store
        row, after a full run."""
        caplog.set_level(logging.DEBUG)

        async with capture_events(engine, PUSH) as run:
            pass

        assert RunStatus.SUCCEEDED == run.summary.status  # type: ignore[union-attr]
        texts = [repr(engine), repr(engine.platforms["shop"])]
        texts += [repr(e) for e in run.events]
        texts += [r.getMessage() for r in caplog.records]
        await engine.store.aclose()
        texts += [
            path.read_bytes().decode("latin-1")
            for path in tmp_path.glob("state.db*")
        ]
        self.assert_hidden(texts)

    async def test_wrong_secret_stops_the_run_without_leaking(
        self,
        emu: Any,
        erp: MemoryErp,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A refused credential fails the run with an AuthenticationError
        whose text, the stored run, the logs and the store show no
        credential, the wrong one included."""
        caplog.set_level(logging.DEBUG)
        platform = self.platform(emu, secret=self.wrong_secret)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )

        with pytest.raises(AuthenticationError) as info:
            await sync.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
        (run,) = await store.list_runs()
        await platform.aclose()
        await store.aclose()

        assert RunStatus.FAILED == run.status
        texts = [
            str(info.value),
            repr(info.value),
            run.error or "",
            repr(run),
            repr(platform),
            caplog.text,
            *(r.getMessage() for r in caplog.records),
            *(r.exc_text or "" for r in caplog.records),
            *(
                path.read_bytes().decode("latin-1")
                for path in tmp_path.glob("state.db*")
            ),
        ]
        self.assert_hidden(texts, self.wrong_secret)


# -- a lost state store ------------------------------------------------------


class LostStateContract:
    """
    A sync after the state store is lost: images not added twice, a
    changed catalogue with nothing twice.  Subclasses implement the
    hooks; the ``erp`` fixture is the catalogue of the image test.
    """

    pytestmark = pytest.mark.anyio

    #: Whether the platform fails an article whose variants it holds while
    #: the ERP has none any more (``RestockContract``'s attribute alike).
    fails_without_variants = False

    def emulator(self) -> Any:
        """
        A fresh emulator of the shop.
        """
        raise NotImplementedError

    def platform(self, emu: Any) -> Platform:
        """
        The adapter over *emu*.
        """
        raise NotImplementedError

    def media(self, emu: Any) -> object:
        """
        The media files *emu* holds, comparable between two calls.
        """
        raise NotImplementedError

    def attached(self, emu: Any) -> dict[Any, list[Any]]:
        """
        Each product of *emu*, with the media it holds in order.
        """
        raise NotImplementedError

    async def sync_with(
        self, emu: Any, erp: MemoryErp, spec: SyncSpec, store: Path
    ) -> RunRecord:
        """
        One run of *spec* from *erp* to *emu* with the state store at
        *store* (a new process: a new adapter, everything closed after);
        it must succeed without failures.
        """
        platform = self.platform(emu)
        state = SqliteStore(store)
        async with Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=state,
            staging=MediaStaging(store.parent / "staging"),
        ) as sync:
            run = await sync.execute(spec)
        await platform.aclose()
        await state.aclose()
        assert RunStatus.SUCCEEDED == run.status, run.failures
        # V-2 of the changed catalogue loses its variants
        allowed = (
            {("V-2", "variants")} if self.fails_without_variants else set()
        )
        assert not {(f.number, f.field) for f in run.failures} - allowed, (
            run.failures
        )
        return run

    async def test_images_are_not_added_twice(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        After the state store is lost (a new store, a new process), a
        sync uploads the images again, yet the shop stays one file per
        content and the products keep theirs.
        """
        emu = self.emulator()
        spec = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )

        await self.sync_with(emu, erp, spec, tmp_path / "first.db")
        media = self.media(emu)
        held = self.attached(emu)
        assert media
        assert any(held.values())

        await self.sync_with(emu, erp, spec, tmp_path / "lost.db")

        assert media == self.media(emu)
        assert held == self.attached(emu)

    def catalogue(self, emu: Any) -> object:
        """
        What *emu* holds, without its ids: products with their variants,
        images and categories, categories with their parents, media
        files; comparable between two emulators.
        """
        raise NotImplementedError

    def requests(self, emu: Any) -> int:
        """
        How many requests *emu* has answered so far.
        """
        raise NotImplementedError

    async def test_a_lost_store_costs_no_more_than_the_first_sync(
        self, tmp_path: Path
    ) -> None:
        """
        A catalogue of 60 articles synced again with a new store sends no
        more requests than its first sync (records are found in batches,
        not looked up one by one) and leaves the shop as it was.
        """
        erp = MemoryErp(flat_catalogue(range(1, 61)), clock=lambda: T0)
        emu = self.emulator()
        spec = SyncSpec(
            types={
                DataType.CATEGORIES: All(),
                DataType.ARTICLES: All(),
                DataType.STOCK: All(),
            }
        )
        sent = []
        shops = []
        for store in ("first.db", "lost.db"):
            before = self.requests(emu)
            await self.sync_with(emu, erp, spec, tmp_path / store)
            sent.append(self.requests(emu) - before)
            shops.append(self.catalogue(emu))

        assert 0 < sent[1] <= sent[0], sent
        assert shops[0] == shops[1]
        assert "B-60" in repr(shops[0])

    @pytest.mark.parametrize("store", ["kept", "lost", "old backup"])
    async def test_changed_catalogue_after_a_lost_store(
        self, tmp_path: Path, store: str
    ) -> None:
        """
        A catalogue synced, changed (a variant added and one dropped, an
        article gaining variants, one losing them, an image replaced, a
        category moved) and synced again with a new store or an old
        backup of it leaves the shop exactly as an intact store does: no
        second product, variant, category or file.
        """
        before = [
            *small_catalogue(),
            Article(
                number="V-1",
                name="Shirt",
                price=Decimal("19.90"),
                categories=("C-2",),
                variants=(
                    Variant(number="V-1-S", options=(("Size", "S"),)),
                    Variant(number="V-1-M", options=(("Size", "M"),)),
                ),
            ),
            Article(
                number="V-2",
                name="Cap",
                price=Decimal("9.90"),
                variants=(
                    Variant(number="V-2-S", options=(("Size", "S"),)),
                    Variant(number="V-2-M", options=(("Size", "M"),)),
                ),
            ),
        ]
        media = {f"img-{i}": f"image {i}".encode() for i in range(1, 8)}
        later = T0 + timedelta(hours=1)
        changes = [
            Article(
                number="V-1",
                name="Shirt",
                price=Decimal("19.90"),
                categories=("C-2",),
                variants=(
                    Variant(number="V-1-M", options=(("Size", "M"),)),
                    Variant(number="V-1-L", options=(("Size", "L"),)),
                ),
            ),
            Article(number="V-2", name="Cap", price=Decimal("9.90")),
            Article(
                number="A-1",
                name="Artikel 1",
                price=Decimal("10.99"),
                categories=("C-2",),
                variants=(
                    Variant(number="A-1-R", options=(("Colour", "Red"),)),
                    Variant(number="A-1-B", options=(("Colour", "Blue"),)),
                ),
                media=(
                    MediaRef(
                        key="img-1",
                        filename="passwd-1.jpg",
                        mime_type="image/jpeg",
                    ),
                ),
            ),
            Article(
                number="A-3",
                name="Artikel 3",
                price=Decimal("12.99"),
                categories=("C-2",),
                media=(
                    MediaRef(
                        key="img-7", filename="new.jpg", mime_type="image/jpeg"
                    ),
                ),
            ),
            Category(number="C-2", name="Hämmer", parent="C-10"),
            # stock is the variants' now
            StockLevel(number="A-1-R", quantity=3),
            StockLevel(number="A-1-B", quantity=4),
        ]
        spec = SyncSpec(
            types={
                DataType.CATEGORIES: All(),
                DataType.ARTICLES: All(),
                DataType.STOCK: All(),
            }
        )

        async def run(emu: Any, erp: MemoryErp, path: Path) -> None:
            await self.sync_with(emu, erp, spec, path)

        async def shop(*, lose: str | None) -> object:
            emu = self.emulator()
            erp = MemoryErp(before, media=media, clock=lambda: T0)
            first = tmp_path / f"{lose}-first.db"
            await run(emu, erp, first)
            shutil.copy(first, tmp_path / f"{lose}-backup.db")
            erp.remove(DataType.STOCK, "A-1")
            for record in changes:
                erp.put(record, changed_at=later)
            if lose is None:
                await run(emu, erp, first)
            elif lose == "lost":
                await run(emu, erp, tmp_path / "lost-new.db")
            else:
                await run(emu, erp, first)
                await run(emu, erp, tmp_path / f"{lose}-backup.db")
            return self.catalogue(emu)

        intact = await shop(lose=None)
        if store != "kept":
            assert intact == await shop(lose=store)
        else:
            # the changes landed: the comparison is not between two
            # equally stale shops
            assert "V-1-L" in repr(intact)
            assert "A-1-R" in repr(intact)
            assert hashlib.sha256(media["img-7"]).hexdigest() in repr(intact)


# -- the dirty catalogue -----------------------------------------------------


@attrs.define
class Outcome:
    """
    What two runs of the catalogue left behind.
    """

    failed: dict[tuple[DataType, str], list[str]]
    second_failed: dict[tuple[DataType, str], list[str]]
    second_synced: int
    checksums: dict[tuple[DataType, str], str]
    shop: Any


class ShopView(Protocol):
    """
    What a shop holds after the runs, read outside the adapter.
    """

    def holds(self, trap: Trap) -> bool: ...
    def check_article(self, article: Article) -> None: ...
    def check_category(self, category: Category) -> None: ...
    def check_stock(self, stock: StockLevel) -> None: ...


def _failures(events: list[Any]) -> dict[tuple[DataType, str], list[str]]:
    found: dict[tuple[DataType, str], list[str]] = defaultdict(list)
    for event in events:
        if isinstance(event, RecordFailed):
            key = (event.data_type, event.number)
            found[key].append(event.field or "")
    return {k: sorted(v) for k, v in found.items()}


async def two_runs(
    catalogue: DirtyCatalogue, platform: Any, directory: Path
) -> Outcome:
    """
    Push *catalogue* into *platform* twice; the outcome's ``shop`` is the
    platform until the caller puts a `ShopView` there.
    """
    store = SqliteStore(directory / "state.db")
    sync = Synchronizer(
        erp=catalogue.erp(),
        platforms={"shop": platform},
        store=store,
        staging=MediaStaging(directory / "staging"),
    )
    try:
        async with capture_events(sync, PUSH) as first:
            pass
        async with capture_events(sync, PUSH) as second:
            pass
        checksums: dict[tuple[DataType, str], str] = {}
        for data_type in PUSH_TYPES:
            numbers = [t.record.number for t in catalogue.of(data_type)]
            links = await store.get_links("shop", data_type, numbers)
            checksums |= {
                (data_type, n): link.checksum for n, link in links.items()
            }
    finally:
        await platform.aclose()
        await store.aclose()
    return Outcome(
        failed=_failures(first.events),
        second_failed=_failures(second.events),
        second_synced=len(second.of(RecordSynced)),
        checksums=checksums,
        shop=platform,
    )


def trap_id(trap: Trap) -> str:
    return f"{trap.data_type.value}:{trap.record.number!r}:{trap.trap}"


def check_failed(outcome: Outcome, trap: Trap) -> None:
    """
    *trap* failed naming its field, and kept no checksum.
    """
    key = (trap.data_type, trap.record.number)
    fields = outcome.failed.get(key, [])
    assert trap.fails_on is not None
    assert fields, f"{trap.trap}: {trap.record.number!r} did not fail"
    assert all(trap.fails_on in f for f in fields), fields
    assert outcome.checksums.get(key, "") == "", "a checksum was kept"


class DirtyCatalogueContract:
    """
    Every trap of the platform's dirty catalogue, after two runs.
    Subclasses implement `catalogue` and a ``dirty`` fixture returning the
    catalogue and its `Outcome`, whose ``shop`` is a `ShopView`.
    """

    @staticmethod
    def catalogue() -> DirtyCatalogue:
        """
        The dirty catalogue as the platform's rules make it.
        """
        raise NotImplementedError

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "trap" in metafunc.fixturenames:
            metafunc.parametrize(
                "trap",
                [
                    pytest.param(t, id=trap_id(t))
                    for t in self.catalogue().traps
                ],
            )

    def test_trap(
        self, dirty: tuple[DirtyCatalogue, Outcome], trap: Trap
    ) -> None:
        """The trap's record is in the shop exactly as the ERP has it, or
        failed naming its field, is not in the shop and kept no
        checksum."""
        _, outcome = dirty
        shop: ShopView = outcome.shop
        key = (trap.data_type, trap.record.number)

        if trap.fails_on is not None:
            check_failed(outcome, trap)
            assert not shop.holds(trap)
            return
        assert key not in outcome.failed, outcome.failed.get(key)
        record = trap.record
        if isinstance(record, Article):
            shop.check_article(record)
        elif isinstance(record, Category):
            shop.check_category(record)
        else:
            assert isinstance(record, StockLevel)
            shop.check_stock(record)

    def test_second_run(self, dirty: tuple[DirtyCatalogue, Outcome]) -> None:
        """A second run writes nothing and fails the same records again:
        no ambiguity or invalid value heals by itself."""
        _, outcome = dirty

        assert 0 == outcome.second_synced
        assert outcome.failed == outcome.second_failed
