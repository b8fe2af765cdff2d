"""
The Shopify adapter's bulk mutations: the threshold switches mode, a
line's userErrors fail its record by name while the rest lands, links
come from the result lines, a second run writes nothing, plan == run,
one bulk operation per shop, and cancellation while one runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaStaging,
    MemoryErp,
    Outgoing,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.exceptions import SyncError
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopify._bulk import split
from ecomsync.testing import capture_events
from ecomsync.testing.shopify import ShopifyEmulator

from .._plans import assert_run_matches_plan
from .._retries import fast_retries
from ..conftest import flat_catalogue
from ._adapters import shopify_emulator, shopify_on


pytestmark = pytest.mark.anyio

TOKEN = "shpat_bulk-S3CR3T"
PUSH = SyncSpec(
    types={
        DataType.CATEGORIES: All(),
        DataType.ARTICLES: All(),
        DataType.STOCK: All(),
    }
)
WRITES = (0, 1)  # mutations are the only GraphQL writes; see _writes


_fast_retries = fast_retries(2)


def _emu(**kwargs: Any) -> ShopifyEmulator:
    return shopify_emulator(TOKEN, **kwargs)


def _shop(emu: ShopifyEmulator, **kwargs: Any) -> Shopify:
    return shopify_on(emu, TOKEN, **kwargs)


def _records(articles: int) -> list[Category | Article | StockLevel]:
    return flat_catalogue(range(articles), price=lambda i: Decimal("1.50") + i)


def _out(records: list[Any]) -> list[Outgoing]:
    return [Outgoing(record=r) for r in records]


def _articles(records: list[Any]) -> list[Article]:
    return [r for r in records if isinstance(r, Article)]


def _stock(records: list[Any]) -> list[StockLevel]:
    return [r for r in records if isinstance(r, StockLevel)]


def _available(emu: ShopifyEmulator, sku: str) -> int | None:
    for v in emu.shop.variants.values():
        if v["sku"] == sku:
            return sum(
                emu.shop.levels[(v["_item"], loc)]["available"]
                for loc in emu.shop.locations
            )
    return None


class TestThreshold:
    async def test_below_and_at_the_threshold(self) -> None:
        """
        A push below bulk_threshold writes one productSet per article; a
        push of bulk_threshold articles and of as many stock levels each
        go as one bulk operation, and both land.
        """
        emu = _emu()
        records = _records(9)
        async with _shop(emu, bulk_threshold=5) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            few = await shop.push(
                DataType.ARTICLES, _out(_articles(records)[:4])
            )
            direct = shop.bulk_operations
            many = await shop.push(
                DataType.ARTICLES, _out(_articles(records)[4:])
            )
            stock = await shop.push(DataType.STOCK, _out(_stock(records)))
            bulk = shop.bulk_operations

        assert all(o.ok for o in few + many + stock)
        assert (0, 2) == (direct, bulk)
        assert 2 == len(emu.shop.bulk_operations)
        assert 9 == len(emu.shop.products)
        assert list(range(9)) == [_available(emu, f"B-{i}") for i in range(9)]

    async def test_links_from_result_lines(self) -> None:
        """
        Each article's outcome carries its product GID from its own result
        line (the result file is out of order), and stock needs no
        lookup afterwards.
        """
        emu = _emu()
        records = _records(6)
        async with _shop(emu, bulk_threshold=2) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            outcomes = await shop.push(
                DataType.ARTICLES, _out(_articles(records))
            )
            seen = len(emu.requests)
            await shop.push(DataType.STOCK, _out(_stock(records)[:1]))

        for outcome in outcomes:
            (n,) = [
                n
                for n, p in emu.shop.products.items()
                if p["title"] == f"Artikel {outcome.number[2:]}"
            ]
            assert f"gid://shopify/Product/{n}" == outcome.platform_id
        # the location and one inventorySetQuantities, no productVariants
        # lookup
        assert 2 == len(emu.requests) - seen


class TestLineErrors:
    async def test_a_line_fails_by_name_the_rest_lands(self) -> None:
        """
        An article whose line the shop refuses (a title over 255
        characters) fails naming its field; the others land.
        """
        emu = _emu()
        records = _records(4)
        bad = Article(
            number="B-1", name="x" * 300, price=Decimal(1), categories=("C-1",)
        )
        articles = _articles(records)
        articles[1] = bad
        async with _shop(emu, bulk_threshold=2) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            outcomes = await shop.push(DataType.ARTICLES, _out(articles))

        assert [True, False, True, True] == [o.ok for o in outcomes]
        assert ("B-1", "name") == (outcomes[1].number, outcomes[1].field)
        assert "255" in str(outcomes[1].error)
        assert 3 == len(emu.shop.products)

    async def test_stock_line_error_resends_the_rest(self) -> None:
        """
        A stock level whose inventory item is gone from the shop fails
        alone; the other levels of its refused line are set afterwards.
        """
        emu = _emu()
        records = _records(4)
        async with _shop(emu, bulk_threshold=2) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            await shop.push(DataType.ARTICLES, _out(_articles(records)))
            (gone,) = [
                n
                for n, p in emu.shop.products.items()
                if p["title"] == "Artikel 2"
            ]
            emu.shop.delete_product(gone)
            levels = [
                StockLevel(number=f"B-{i}", quantity=100 + i) for i in range(4)
            ]
            outcomes = await shop.push(DataType.STOCK, _out(levels))

        assert [True, True, False, True] == [o.ok for o in outcomes]
        assert ("B-2", "quantity") == (outcomes[2].number, outcomes[2].field)
        assert [100, 101, None, 103] == [
            _available(emu, f"B-{i}") for i in range(4)
        ]

    async def test_failed_operation_fails_the_lines_it_did_not_run(
        self,
    ) -> None:
        """
        An operation that FAILS after three lines: those three articles
        land, the others fail saying the operation ended before them.
        """
        emu = _emu(bulk_polls=0)
        records = _records(5)
        async with _shop(emu, bulk_threshold=2) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            emu.bulk_fail_after = 3
            outcomes = await shop.push(
                DataType.ARTICLES, _out(_articles(records))
            )

        assert [True] * 3 + [False] * 2 == [o.ok for o in outcomes]
        assert "FAILED (INTERNAL_SERVER_ERROR)" in str(outcomes[3].error)
        assert 3 == len(emu.shop.products)


class TestOneAtATime:
    async def test_waits_for_a_running_operation(self) -> None:
        """
        While another bulk mutation runs on the shop, the adapter waits
        for it to end, then runs its own.
        """
        emu = _emu(bulk_polls=3)
        emu.shop.staged["other.jsonl"] = b""
        other = emu.run_bulk(
            "mutation($i: ProductSetInput!) { productSet(input: $i) "
            "{ product { id } } }",
            "other.jsonl",
            {"base_url": "https://shop.test", "version": "2026-01"},
        )["bulkOperation"]["id"]
        records = _records(3)
        async with _shop(emu, bulk_threshold=2) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            outcomes = await shop.push(
                DataType.ARTICLES, _out(_articles(records))
            )

        assert all(o.ok for o in outcomes)
        statuses = [b["status"] for b in emu.shop.bulk_operations.values()]
        assert ["COMPLETED", "COMPLETED"] == statuses
        assert other == next(iter(emu.shop.bulk_operations.values()))["id"]

    def test_split_keeps_files_under_the_limit(self) -> None:
        """
        Lines are cut into consecutive files within the byte limit; a
        single line over it goes alone.
        """
        lines = ["a" * 4, "b" * 4, "c" * 20, "d"]

        assert [range(2), range(2, 3), range(3, 4)] == split(lines, 10)
        assert [] == split([], 10)


@pytest.fixture(name="engine")
async def _engine(
    tmp_path: Path,
) -> AsyncIterator[tuple[Synchronizer, ShopifyEmulator, MemoryErp]]:
    emu = _emu()
    erp = MemoryErp(_records(30))
    platform = _shop(emu, bulk_threshold=10, batch_size=10)
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
        batch_size=10,
    )
    yield sync, emu, erp
    await platform.aclose()
    await sync.store.aclose()


def _writes(emu: ShopifyEmulator, since: int) -> list[Any]:
    # every GraphQL request of a write costs at least a mutation's 10
    # points; uploads are writes too
    return [
        r
        for r in list(emu.requests)[since:]
        if (r.cost or 0) >= 10 or r.path.startswith("/_staged")
    ]


class TestEngine:
    async def test_second_run_writes_nothing(
        self, engine: tuple[Synchronizer, ShopifyEmulator, MemoryErp]
    ) -> None:
        """
        A first run in bulk creates everything (links recorded); the
        second run sends no write and no bulk operation.
        """
        sync, emu, _ = engine
        first = await sync.execute(PUSH)
        operations = len(emu.shop.bulk_operations)
        seen = len(emu.requests)
        second = await sync.execute(PUSH)

        assert RunStatus.SUCCEEDED == first.status
        assert 30 == first.counts[DataType.ARTICLES].created
        assert 30 == first.counts[DataType.STOCK].created
        assert 6 == operations  # 3 pushes of articles, 3 of stock
        assert [] == _writes(emu, seen)
        assert operations == len(emu.shop.bulk_operations)
        assert 0 == second.counts[DataType.ARTICLES].created
        links = await sync.store.get_links(
            "shop", DataType.ARTICLES, ["B-0", "B-29"]
        )
        assert all(
            link.platform_id.startswith("gid://shopify/Product/")
            for link in links.values()
        )

    async def test_plan_equals_run(
        self, engine: tuple[Synchronizer, ShopifyEmulator, MemoryErp]
    ) -> None:
        """
        The plan lists what the bulk run creates and updates, and bounds
        its requests.
        """
        sync, emu, erp = engine
        await sync.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        erp.put(
            Article(
                number="B-3",
                name="Artikel drei",
                price=Decimal(3),
                categories=("C-1",),
            )
        )

        plan = await sync.plan(PUSH)
        seen = len(emu.requests)
        async with capture_events(sync, PUSH) as run:
            pass
        sent = list(emu.requests)[seen:]

        assert_run_matches_plan(plan, run, invalid=False)
        assert len(sent) <= plan.requests
        assert 3 == _available(emu, "B-3")

    async def test_cancel_while_a_bulk_operation_runs(
        self, engine: tuple[Synchronizer, ShopifyEmulator, MemoryErp]
    ) -> None:
        """
        A run cancelled while its bulk operation works stops at the end of
        that push (nothing half-written: its records are created and
        linked); the next run writes the rest, each product once.
        """
        sync, emu, _ = engine
        sync.write_concurrency = 1  # one push in flight
        emu.bulk_polls = 5
        spec = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )
        started = anyio.Event()
        run_bulk = emu.run_bulk

        def run_and_tell(*args: Any) -> dict[str, Any]:
            started.set()
            return run_bulk(*args)

        emu.run_bulk = run_and_tell  # type: ignore[method-assign]

        async def cancel_once_started(run_id: str) -> None:
            await started.wait()
            await sync.cancel(run_id)

        async with anyio.create_task_group() as tg, sync.run(spec) as events:
            tg.start_soon(cancel_once_started, events.run_id)
            async for _ in events:
                pass
        after = await sync.execute(spec)

        cancelled = events.summary
        assert cancelled is not None
        assert RunStatus.CANCELLED == cancelled.status
        assert 10 == cancelled.counts[DataType.ARTICLES].created
        assert 20 == after.counts[DataType.ARTICLES].created
        assert 30 == len(emu.shop.products)

    async def test_host_cancellation_cancels_the_operation(self) -> None:
        """
        A push cancelled from outside (a deadline) while its bulk
        operation runs asks Shopify to cancel it; the next push is not
        blocked and upserts every article exactly once.
        """
        emu = _emu(bulk_polls=1_000_000)
        records = _records(4)
        async with _shop(
            emu, bulk_threshold=2, bulk_poll_interval=0.01
        ) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            with anyio.move_on_after(0.3):
                await shop.push(DataType.ARTICLES, _out(_articles(records)))
            (first,) = emu.shop.bulk_operations.values()
            status = first["status"]
            emu.bulk_polls = 1
            outcomes = await shop.push(
                DataType.ARTICLES, _out(_articles(records))
            )

        assert status in ("CANCELING", "CANCELED")
        assert all(o.ok for o in outcomes)
        assert 4 == len(emu.shop.products)


class _Tamper(httpx.AsyncBaseTransport):
    """
    The emulator, with answers replaced for paths that start with a key
    of *replace* (status, body).
    """

    def __init__(
        self, emu: ShopifyEmulator, replace: dict[str, tuple[int, bytes]]
    ) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.replace = replace

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        for prefix, (status, body) in self.replace.items():
            if request.url.path.startswith(prefix):
                return httpx.Response(status, content=body, request=request)
        return await self.inner.handle_async_request(request)


class TestBulkRefusals:
    @pytest.mark.parametrize(
        ("replace", "message"),
        [
            ({"/_staged/upload": (500, b"")}, "staged upload target answered"),
            ({"/_staged/upload": (201, b"")}, "NO_SUCH_FILE"),
            ({"/_bulk/": (404, b"")}, "result file answered HTTP 404"),
        ],
        ids=["upload-fails", "upload-lost", "result-file-gone"],
    )
    async def test_push_fails_with_the_reason(
        self, replace: dict[str, tuple[int, bytes]], message: str
    ) -> None:
        """
        An upload the target refuses, one it lost (Shopify then refuses
        the operation) and a result file that cannot be read fail the push
        with the reason.
        """
        emu = _emu()
        records = _records(3)
        shop = Shopify(
            "https://shop.test",
            TOKEN,
            transport=_Tamper(emu, replace),
            bulk_threshold=2,
            bulk_poll_interval=0.001,
        )
        async with shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            with pytest.raises(SyncError, match=message):
                await shop.push(DataType.ARTICLES, _out(_articles(records)))

    async def test_staged_target_without_key_names_it(self) -> None:
        """
        A staged target for the bulk variables without the ``key``
        parameter the operation is started with fails the push naming
        it, not with a bare KeyError; nothing is uploaded.
        """
        emu = _emu()
        records = _records(3)
        inner = httpx.ASGITransport(app=emu.app)
        uploads: list[str] = []

        async def answer(request: httpx.Request) -> httpx.Response:
            if b"stagedUploadsCreate" in request.content:
                target = {
                    "url": "https://shop.test/_staged/upload",
                    "resourceUrl": None,
                    "parameters": [{"name": "policy", "value": "p"}],
                }
                return httpx.Response(
                    200,
                    json={
                        "data": {
                            "stagedUploadsCreate": {
                                "stagedTargets": [target],
                                "userErrors": [],
                            }
                        }
                    },
                )
            if request.url.path.startswith("/_staged/"):
                uploads.append(request.url.path)
            return await inner.handle_async_request(request)

        shop = Shopify(
            "https://shop.test",
            TOKEN,
            transport=httpx.MockTransport(answer),
            bulk_threshold=2,
            bulk_poll_interval=0.001,
        )
        async with shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            with pytest.raises(
                SyncError, match=r"stagedTargets\.0\.parameters has no key"
            ):
                await shop.push(DataType.ARTICLES, _out(_articles(records)))

        assert [] == uploads

    async def test_vanished_operation(self) -> None:
        """
        An operation the shop no longer knows while it is polled fails
        the push naming it.
        """
        emu = _emu(bulk_polls=1_000)
        records = _records(3)
        poll = emu.poll_bulk

        def forget(n: int) -> dict[str, Any]:
            answer = poll(n)
            emu.shop.bulk_operations.clear()
            return answer

        emu.poll_bulk = forget  # type: ignore[method-assign]
        async with _shop(emu, bulk_threshold=2) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            with pytest.raises(SyncError, match="vanished"):
                await shop.push(DataType.ARTICLES, _out(_articles(records)))

    async def test_stock_lines_not_run(self) -> None:
        """
        Stock levels of lines a failed operation never ran fail saying
        so; nothing is set.
        """
        emu = _emu(bulk_polls=0)
        records = _records(3)
        async with _shop(emu, bulk_threshold=2) as shop:
            await shop.push(DataType.CATEGORIES, _out(records[:1]))
            await shop.push(DataType.ARTICLES, _out(_articles(records)))
            emu.bulk_fail_after = 0
            outcomes = await shop.push(DataType.STOCK, _out(_stock(records)))

        assert [False] * 3 == [o.ok for o in outcomes]
        assert "ended FAILED" in str(outcomes[0].error)
        assert [0, 0, 0] == [_available(emu, f"B-{i}") for i in range(3)]
