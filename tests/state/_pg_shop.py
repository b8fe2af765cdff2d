"""
An ERP and a shop that several worker processes share through one
PostgreSQL, so a test can check from the database what they did:

- ``erp_seen (pid, n)``: at every ERP session opening and batch read, how
  many ERP sessions were open at that instant (connections named
  ``test-erp``; a killed worker's connection dies with it).
- ``shop_articles (number, name, writes)`` and ``shop_writes (number,
  pid)``: what reached the shop, and every single write.
- ``stalls (pid)``: a worker started with ``ECOMSYNC_TEST_STALL=1`` stops
  in its first partition's second read and records itself here, to be
  killed there.

`make_sync` is the worker's ``--app`` factory.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import attrs
import psycopg

from ecomsync import Article, MemoryErp, Synchronizer
from ecomsync._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from ecomsync._model import MediaRef, Order, Record
from ecomsync._spec import DataType, Selection
from ecomsync.typing import LicensePool, StateStore


ARTICLES = 200

TABLES = """
CREATE TABLE erp_seen (pid integer, n integer);
CREATE TABLE shop_articles (
    number text PRIMARY KEY, name text, writes integer NOT NULL);
CREATE TABLE shop_writes (number text, pid integer);
CREATE TABLE stalls (pid integer);
"""


def create_tables(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(TABLES)


async def _seen(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute(
        "INSERT INTO erp_seen SELECT %s, count(*) FROM pg_stat_activity "
        "WHERE application_name = 'test-erp'",
        (os.getpid(),),
    )


@attrs.define
class _Session:
    inner: Any
    conn: psycopg.AsyncConnection[Any]
    stall: bool

    async def read(
        self, data_type: DataType, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Record]]:
        reads = 0
        async for batch in self.inner.read(
            data_type, selection, batch_size=batch_size
        ):
            reads += 1
            await _seen(self.conn)
            if self.stall and reads == 2:
                await self.conn.execute(
                    "INSERT INTO stalls VALUES (%s)", (os.getpid(),)
                )
                await anyio.sleep(3600)
            yield batch

    async def count(
        self, data_type: DataType, selection: Selection
    ) -> int | None:
        result: int | None = await self.inner.count(data_type, selection)
        return result

    async def read_media(self, ref: MediaRef) -> bytes:
        content: bytes = await self.inner.read_media(ref)
        return content

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        result: list[Outcome] = await self.inner.import_orders(orders)
        return result


@attrs.define
class SharedErp:
    """
    A MemoryErp whose sessions are PostgreSQL connections, so that open
    sessions can be counted across processes.
    """

    dsn: str = attrs.field(repr=False)
    memory: MemoryErp
    stall: bool = False

    @asynccontextmanager
    async def session(self) -> AsyncIterator[_Session]:
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, application_name="test-erp"
        )
        try:
            await _seen(conn)
            async with self.memory.session() as inner:
                yield _Session(inner, conn, self.stall)
        finally:
            with anyio.CancelScope(shield=True):
                await conn.close()


@attrs.define
class SharedShop:
    """
    A shop in PostgreSQL tables: an article is keyed by its number (as
    real shops key products by product number).
    """

    dsn: str = attrs.field(repr=False)
    supported: frozenset[DataType] = frozenset({DataType.ARTICLES})
    batch_size: int = 10
    _conn: psycopg.AsyncConnection[Any] | None = None
    # The engine pushes several batches at once; one connection, in turn.
    _lock: anyio.Lock = attrs.field(factory=anyio.Lock)

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        async with self._lock:
            return await self._push(items)

    async def _push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        # A push cancelled mid-query (a worker stopping its partition)
        # makes psycopg close the connection; a real shop's HTTP client
        # opens a new one for the next request, and so does this one.
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True
            )
        outcomes = []
        async with self._conn.transaction():
            for item in items:
                record = item.record
                assert isinstance(record, Article)
                await self._conn.execute(
                    "INSERT INTO shop_articles VALUES (%s, %s, 1) "
                    "ON CONFLICT (number) DO UPDATE SET name = "
                    "excluded.name, writes = shop_articles.writes + 1",
                    (record.number, record.name),
                )
                await self._conn.execute(
                    "INSERT INTO shop_writes VALUES (%s, %s)",
                    (record.number, os.getpid()),
                )
                outcomes.append(
                    Outcome(number=record.number, platform_id=record.number)
                )
        return outcomes

    async def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        return
        yield  # pragma: no cover

    async def upload_media(self, media: StagedMedia) -> str:
        raise NotImplementedError

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def catalogue() -> list[Article]:
    return [
        Article(number=f"A-{i}", name=f"Artikel {i}", price=Decimal("9.99"))
        for i in range(1, ARTICLES + 1)
    ]


def make_sync(*, store: StateStore, licenses: LicensePool) -> Synchronizer:
    """
    The workers' ``--app``: the shared ERP and shop on the given store.
    """
    dsn = getattr(store, "dsn")  # noqa: B009 -- a PostgresStore
    return Synchronizer(
        erp=SharedErp(
            dsn,
            MemoryErp(catalogue(), latency=0.05),
            stall=os.environ.get("ECOMSYNC_TEST_STALL") == "1",
        ),
        platforms={"shop": SharedShop(dsn)},
        store=store,
        licenses=licenses,
        batch_size=10,
        license_timeout=60,
    )
