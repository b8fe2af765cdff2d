"""
A Hypothesis state machine (reliability-performance.md D.5): ERP edits,
manual and scheduled runs, shop faults (429 storms, resets, commits that
answer too late), cancels mid-run and restarts (a new Synchronizer over the
same store file and staging directory) interleave at random.  After every
step the invariants hold: one shop product per number (I2), no licence
held (I3), each watermark at most the start of the last scheduled run that
covered it (I4), nothing staged or pending (I5), no run left running (I8).
After `quiesce` (faults off, a manual run): the shop is the ERP's
projection (I1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest
import stamina
from anyio.from_thread import BlockingPortal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from ecomsync import (
    Article,
    DataType,
    EcomsyncError,
    LocalLicensePool,
    MediaRef,
    MediaStaging,
    MemoryErp,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.events import Event
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import Faults, ShopwareEmulator

from .._push import PUSH as SPEC
from .conftest import CANARY, catalogue, jpeg


NUMBERS = [f"A-{i:02d}" for i in range(1, 13)]

FAULTS = {
    "none": Faults(),
    "429": Faults(storm_next=3, storm_status=429, retry_after="0"),
    "503": Faults(storm_probability=0.2, storm_status=503, storm_seed=7),
    "reset": Faults(reset_next=2),
    "late-commit": Faults(commit_then_timeout=1, hang_s=2.0),
}


class Settled:
    """
    The invariants every machine here keeps between steps: no licence
    held, nothing pending or staged, no run left running, watermarks
    safe.
    """

    portal: BlockingPortal
    licenses: LocalLicensePool
    store: SqliteStore
    tmp: Path

    @invariant()
    def nothing_held_or_staged(self) -> None:
        self.portal.call(
            quiet, self.licenses, self.store, self.tmp / "staging"
        )

    @invariant()
    def no_run_left_running(self) -> None:
        self.portal.call(no_run_running, self.store)

    @invariant()
    def watermarks_safe(self) -> None:
        self.portal.call(watermarks_safe, self.store)


class SyncMachine(Settled, RuleBasedStateMachine):
    """ERP, shop and engine, driven one step at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.portal_cm = anyio.from_thread.start_blocking_portal()
        self.portal = self.portal_cm.__enter__()
        self.tmp = Path(self.portal.call(_mkdtemp))
        self.emu = ShopwareEmulator(
            client_id="SWIAMACHINE", client_secret=CANARY
        )
        self.erp = MemoryErp(
            catalogue(),
            media={f"img-{i}": jpeg(i) for i in range(1, 13)},
        )
        self.store = SqliteStore(self.tmp / "state.db")
        self.licenses = LocalLicensePool(1)
        self.sync = self._synchronizer()

    def _synchronizer(self) -> Synchronizer:
        self.platform = Shopware6(
            "http://shop.test",
            self.emu.client_id,
            CANARY,
            request_deadline=0.5,
            transport=httpx.ASGITransport(app=self.emu.app),
        )
        return Synchronizer(
            erp=self.erp,
            platforms={"shop": self.platform},
            store=self.store,
            licenses=self.licenses,
            staging=MediaStaging(self.tmp / "staging"),
            batch_size=4,
            license_timeout=5.0,
        )

    def teardown(self) -> None:
        self.portal.call(self.platform.aclose)
        self.portal.call(self.store.aclose)
        self.portal_cm.__exit__(None, None, None)

    # -- the ERP ------------------------------------------------------------

    @rule(
        number=st.sampled_from(NUMBERS),
        cents=st.integers(min_value=1, max_value=99_999),
    )
    def reprice(self, number: str, cents: int) -> None:
        old = self.erp.get(DataType.ARTICLES, number)
        assert isinstance(old, Article)
        self.erp.put(_evolve(old, price=Decimal(cents) / 100))

    @rule(number=st.sampled_from(NUMBERS), quantity=st.integers(0, 500))
    def restock(self, number: str, quantity: int) -> None:
        self.erp.put(StockLevel(number=number, quantity=quantity))

    @rule(number=st.sampled_from(NUMBERS), version=st.integers(1, 3))
    def new_image(self, number: str, version: int) -> None:
        old = self.erp.get(DataType.ARTICLES, number)
        assert isinstance(old, Article)
        key = f"img-{number}-v{version}"
        self.erp.media[key] = jpeg(100 + version) + number.encode()
        ref = MediaRef(key=key, filename=f"{key}.jpg", mime_type="image/jpeg")
        self.erp.put(_evolve(old, media=(ref,)))

    # -- the shop -----------------------------------------------------------

    @rule(kind=st.sampled_from(sorted(FAULTS)))
    def shop_misbehaves(self, kind: str) -> None:
        self.emu.faults = FAULTS[kind]

    # -- runs ---------------------------------------------------------------

    @rule(trigger=st.sampled_from([Trigger.MANUAL, Trigger.SCHEDULED]))
    def run(self, trigger: Trigger) -> None:
        self.portal.call(self._run, trigger, None)

    @rule(after=st.floats(min_value=0.0, max_value=0.05))
    def cancel_mid_run(self, after: float) -> None:
        self.portal.call(self._run, Trigger.SCHEDULED, after)

    @rule()
    def restart(self) -> None:
        """The process is replaced: a new Synchronizer over the same
        store file and staging directory."""
        self.portal.call(self.platform.aclose)
        self.sync = self._synchronizer()

    @precondition(lambda self: True)
    @rule()
    def quiesce(self) -> None:
        """Faults off, a manual run to the end: the shop is the ERP's."""
        self.emu.faults = Faults()
        self.portal.call(self._run, Trigger.MANUAL, None)
        self.portal.call(self._projection)

    async def _run(self, trigger: Trigger, cancel_after: float | None) -> None:
        await drive(self.sync, SPEC, trigger, cancel_after)

    async def _projection(self) -> None:
        products = {
            p["productNumber"]: p
            for p in self.emu.entities["product"].values()
        }
        for number in NUMBERS:
            article = self.erp.get(DataType.ARTICLES, number)
            stock = self.erp.get(DataType.STOCK, number)
            assert isinstance(article, Article)
            assert isinstance(stock, StockLevel)
            row = products[number]
            assert float(article.price) == row["price"][0]["gross"]
            assert stock.quantity == row["stock"]
            media = [
                m
                for m in self.emu.entities.get("product_media", {}).values()
                if m.get("productId") == row["id"]
            ]
            assert len(article.media) == len(media)

    # -- invariants ----------------------------------------------------------

    @invariant()
    def one_product_per_number(self) -> None:
        numbers = [
            p["productNumber"]
            for p in self.emu.entities.get("product", {}).values()
        ]
        assert len(numbers) == len(set(numbers))


async def drive(
    sync: Synchronizer,
    spec: SyncSpec,
    trigger: Trigger,
    cancel_after: float | None,
    limit: float = 60.0,
) -> list[Event]:
    """
    One run of *spec* to its end (cancelled after *cancel_after* seconds
    if given): its events, none if it failed for good; a run that takes
    more than *limit* seconds is a `TimeoutError` (stuck).
    """
    seen: list[Event] = []
    try:
        with anyio.fail_after(limit):
            async with (
                sync.run(spec, trigger=trigger) as events,
                anyio.create_task_group() as tg,
            ):
                if cancel_after is not None:

                    async def cancel() -> None:
                        await anyio.sleep(cancel_after)
                        await sync.cancel(events.run_id)

                    tg.start_soon(cancel)
                async for event in events:
                    seen.append(event)
    except EcomsyncError:
        return []
    return seen


async def quiet(
    licenses: LocalLicensePool, store: SqliteStore, staging: Path
) -> None:
    """No licence held, nothing pending, no file staged (I3, I5)."""
    assert 0 == len(await licenses.holders())
    assert [] == await store.list_pending()
    if staging.exists():
        files = [
            p
            for p in staging.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ]
        assert [] == files


async def no_run_running(store: SqliteStore) -> None:
    """No run left running or queued (I8)."""
    runs = await store.list_runs()
    assert [] == [
        r.id for r in runs if r.status in (RunStatus.RUNNING, RunStatus.QUEUED)
    ]


async def watermarks_safe(store: SqliteStore) -> None:
    """
    A watermark only ever becomes the start of a scheduled run that
    covered its type (whatever became of the rest of that run): I4.
    """
    runs = await store.list_runs()
    latest = max(
        (r.started_at for r in runs if r.trigger is Trigger.SCHEDULED),
        default=None,
    )
    if latest is None:
        return
    for data_type in SPEC.types:
        mark = await store.get_watermark("shop", data_type)
        assert mark is None or mark <= latest


def _evolve(article: Article, **changes: Any) -> Article:
    import attrs

    return attrs.evolve(article, **changes)


async def _mkdtemp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="ecomsync-machine-")


@contextmanager
def _fast_retries() -> Iterator[None]:
    stamina.set_testing(True, attempts=4)
    try:
        yield
    finally:
        stamina.set_testing(False)


SyncMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.slow
def test_sync_machine() -> None:
    """Random interleavings of edits, runs, faults, cancels and restarts
    keep every invariant."""
    with _fast_retries():
        SyncMachine.TestCase().runTest()
