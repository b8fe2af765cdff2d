"""
The state store contract, run against every store the library ships.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from ecomsync._contracts import Link, PendingMedia
from ecomsync._spec import DataType
from ecomsync.state import SqliteStore
from ecomsync.state._postgres import PostgresStore
from ecomsync.testing._store_contract import StateStoreContract
from ecomsync.typing import StockLayouts

from .._backends import both_backends
from ..conftest import T0


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


class MediaIdsInBatches:
    """
    What both SQL stores add to the contract: media ids read and written
    many at once (`get_media_ids` / `put_media_ids`, used by the engine
    when a store has them).
    """

    async def test_media_ids_many_at_once(self, store: Any) -> None:
        """Media ids are written and read many in one transaction each,
        past SQLite's IN-list chunk, per platform; a later write of a hash
        wins and unknown hashes are left out."""
        shas = [f"{i:064x}" for i in range(1_200)]
        await store.put_media_ids("shop", {h: f"m{h[-4:]}" for h in shas})
        await store.put_media_ids("shop", {shas[0]: "newer"})
        await store.put_media_ids("other", {shas[1]: "elsewhere"})
        await store.put_media_ids("shop", {})

        found = await store.get_media_ids("shop", [*shas, "unknown", shas[0]])

        assert len(shas) == len(found)
        assert "newer" == found[shas[0]]
        assert f"m{shas[1][-4:]}" == found[shas[1]]
        assert {} == await store.get_media_ids("shop", [])
        assert "elsewhere" == await store.get_media_id("other", shas[1])


class PendingInOneStep:
    """
    What both SQL stores add for media staging: `update_pending`, a
    blocking step (the files taken away) then one transaction closing and
    registering journal entries.
    """

    async def test_update_pending(self, store: Any) -> None:
        """The entries the step names are closed and the new ones
        registered; other scopes and unknown keys are left alone, and a
        key closed and registered at once stays registered."""
        old = [
            PendingMedia(sha256=h, size=1, registered_at=T0, scope="/r1")
            for h in ("aa", "bb")
        ]
        other = PendingMedia(
            sha256="aa", size=1, registered_at=T0, scope="/r2"
        )
        await store.add_pending_many([*old, other])
        new = [
            PendingMedia(sha256="cc", size=3, registered_at=T0, scope="/r1"),
            PendingMedia(sha256="bb", size=4, registered_at=T0, scope="/r1"),
        ]
        calls: list[str] = []

        def closing() -> list[tuple[str, str]]:
            calls.append("closing")
            return [("/r1", "aa"), ("/r1", "bb"), ("/r1", "zz")]

        await store.update_pending(closing, new)
        await store.update_pending(list)
        await store.update_pending(None)

        listed = await store.list_pending()
        assert ["closing"] == calls
        assert {("/r2", "aa", 1), ("/r1", "cc", 3), ("/r1", "bb", 4)} == {
            (p.scope, p.sha256, p.size) for p in listed
        }

    async def test_update_pending_fails_whole(self, store: Any) -> None:
        """A step whose blocking part fails changes no entry."""
        entry = PendingMedia(sha256="aa", size=1, registered_at=T0, scope="/r")
        await store.add_pending(entry)

        def closing() -> list[tuple[str, str]]:
            raise OSError("disk gone")

        new = PendingMedia(sha256="bb", size=1, registered_at=T0, scope="/r")
        with pytest.raises(OSError, match="disk gone"):
            await store.update_pending(closing, [new])

        assert [entry] == await store.list_pending()


class VariantLists:
    """
    What both SQL stores keep beside a link: an article's variant numbers
    when it landed (`Link.variants`), or that they are not known.
    """

    async def test_variants_kept_with_the_link(self, store: Any) -> None:
        """A link's variant numbers come back in their order; none (an
        article without variants) and not known (``None``) stay apart,
        and a later write replaces them, ``None`` included."""
        articles = DataType.ARTICLES
        await store.put_links(
            "shop",
            articles,
            {
                "A": Link("p1", "c1", variants=("A-M", "A-S")),
                "B": Link("p2", "c2", variants=()),
                "C": Link("p3", "c3"),
                "D": Link("p4", "c4", variants=("D-1",)),
            },
        )
        await store.put_links("shop", articles, {"D": Link("p4", "c5")})

        links = await store.get_links("shop", articles, ["A", "B", "C", "D"])

        assert ("A-M", "A-S") == links["A"].variants
        assert () == links["B"].variants
        assert links["C"].variants is None
        assert Link("p4", "c5") == links["D"]


class StockLayoutsKept:
    """
    What both SQL stores keep per platform: the stock layout its stock
    was last written under in full (`StockLayouts`).
    """

    async def test_layout_kept_per_platform(self, store: Any) -> None:
        """No layout until one is set; a later one replaces it, an empty
        one included, and each platform keeps its own."""
        assert isinstance(store, StockLayouts)
        assert await store.get_stock_layout("shop") is None

        await store.set_stock_layout("shop", '{"WH1":"A"}')
        await store.set_stock_layout("other", '{"WH1":"B"}')
        await store.set_stock_layout("shop", '{"WH1":"C"}')
        kept = await store.get_stock_layout("shop")
        await store.set_stock_layout("other", "")

        assert '{"WH1":"C"}' == kept
        assert "" == await store.get_stock_layout("other")


class TestPostgresSteps:
    """
    PostgresStore's journal steps run their transaction on its async
    connection: a thread only for the blocking step.
    """

    @pytest.fixture(name="anyio_backend")
    def _anyio_backend(self) -> str:
        return "asyncio"  # psycopg's async driver needs asyncio

    async def test_adds_alone_take_no_thread(
        self, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A step with nothing to close (no blocking step) registers its
        entries without a worker-thread hop; one with a step takes one."""
        hops: list[object] = []
        run_sync = anyio.to_thread.run_sync

        async def counting(fn: Any, *args: Any, **kw: Any) -> Any:
            hops.append(fn)
            return await run_sync(fn, *args, **kw)

        entry = PendingMedia(sha256="aa", size=1, registered_at=T0, scope="/s")
        async with PostgresStore(postgres_dsn) as store:
            await store.list_pending()  # connected
            monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
            await store.update_pending(None, [entry])
            assert [] == hops
            await store.update_pending(lambda: [("/s", "aa")])
            assert 1 == len(hops)
            assert [] == await store.list_pending()


class TestSqliteFile(
    StateStoreContract,
    MediaIdsInBatches,
    PendingInOneStep,
    VariantLists,
    StockLayoutsKept,
):
    """SqliteStore in a file, with a second handle on the same file."""

    @pytest.fixture(name="store")
    async def _store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.aclose()

    @pytest.fixture(name="other_store")
    async def _other_store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.aclose()


class TestSqliteMemory(
    StateStoreContract,
    MediaIdsInBatches,
    PendingInOneStep,
    VariantLists,
    StockLayoutsKept,
):
    """SqliteStore in memory."""

    @pytest.fixture(name="store")
    async def _store(self) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(":memory:")
        yield store
        await store.aclose()


@pytest.mark.postgres
class TestPostgres(
    StateStoreContract,
    MediaIdsInBatches,
    PendingInOneStep,
    VariantLists,
    StockLayoutsKept,
):
    """PostgresStore, with a second store on the same database."""

    @pytest.fixture(name="anyio_backend")
    def _anyio_backend(self) -> str:
        return "asyncio"  # psycopg's async driver needs asyncio

    @pytest.fixture(name="store")
    async def _store(self, postgres_dsn: str) -> AsyncIterator[PostgresStore]:
        store = PostgresStore(postgres_dsn)
        yield store
        await store.aclose()

    @pytest.fixture(name="other_store")
    async def _other_store(
        self, postgres_dsn: str
    ) -> AsyncIterator[PostgresStore]:
        store = PostgresStore(postgres_dsn)
        yield store
        await store.aclose()
