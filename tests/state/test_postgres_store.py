"""
PostgresStore beyond the contract: schema versioning, secrets, errors and
a whole run of the engine on it, media ids many at once.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import psycopg
import pytest

from ecomsync import (
    Link,
    MemoryErp,
    MemoryPlatform,
    RunStatus,
    Synchronizer,
    SyncSpec,
)
from ecomsync._spec import All, DataType
from ecomsync.exceptions import ConfigurationError, StateStoreError
from ecomsync.state._postgres import SCHEMA_VERSION, PostgresStore


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


class TestSchema:
    async def test_created_at_current_version(self, postgres_dsn: str) -> None:
        """A new database gets the schema at the current version."""
        store = PostgresStore(postgres_dsn)
        try:
            assert await store.schema_version() == SCHEMA_VERSION
        finally:
            await store.aclose()

    async def test_concurrent_first_use(self, postgres_dsn: str) -> None:
        """Processes starting together migrate once, without errors."""
        stores = [PostgresStore(postgres_dsn) for _ in range(6)]
        async with anyio.create_task_group() as tg:
            for store in stores:
                tg.start_soon(store.get_run, "x")
        with psycopg.connect(postgres_dsn) as conn:
            rows = conn.execute(
                "SELECT version FROM ecomsync.schema_version ORDER BY 1"
            ).fetchall()
        assert [v for (v,) in rows] == list(range(1, SCHEMA_VERSION + 1))
        for store in stores:
            await store.aclose()

    async def test_partial_schema_is_completed(
        self, postgres_dsn: str
    ) -> None:
        """A database at an older version is migrated forward."""
        from ecomsync.state._postgres import MIGRATIONS

        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA ecomsync")
            conn.execute(
                "CREATE TABLE ecomsync.schema_version (version integer "
                "PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            conn.execute(MIGRATIONS[0].format(s="ecomsync"))
            conn.execute("INSERT INTO ecomsync.schema_version VALUES (1)")
        store = PostgresStore(postgres_dsn)
        try:
            assert await store.schema_version() == SCHEMA_VERSION
        finally:
            await store.aclose()

    async def test_links_of_version_7_keep_working(
        self, postgres_dsn: str
    ) -> None:
        """A database at version 7 (links without variant lists) is
        migrated: its links read as before, with variants not known, and
        take them after."""
        from ecomsync.state._postgres import MIGRATIONS

        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA ecomsync")
            conn.execute(
                "CREATE TABLE ecomsync.schema_version (version integer "
                "PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for version, step in enumerate(MIGRATIONS[:7], 1):
                conn.execute(step.format(s="ecomsync"))
                conn.execute(
                    "INSERT INTO ecomsync.schema_version VALUES (%s)",
                    (version,),
                )
            conn.execute(
                "INSERT INTO ecomsync.links "
                "VALUES ('shop', %s, 'A', '1', 'c')",
                (DataType.ARTICLES.value,),
            )
        articles = DataType.ARTICLES
        async with PostgresStore(postgres_dsn) as store:
            (old,) = (await store.get_links("shop", articles, ["A"])).values()
            await store.put_links(
                "shop", articles, {"A": Link("1", "d", variants=("A-S",))}
            )
            new = await store.get_links("shop", articles, ["A"])
        assert Link("1", "c") == old
        assert old.variants is None
        assert {"A": Link("1", "d", variants=("A-S",))} == new

    async def test_newer_schema_refused(self, postgres_dsn: str) -> None:
        """A schema newer than the library is refused, not touched."""
        store = PostgresStore(postgres_dsn)
        await store.get_run("x")
        await store.aclose()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO ecomsync.schema_version VALUES (%s)",
                (SCHEMA_VERSION + 1,),
            )
        store = PostgresStore(postgres_dsn)
        with pytest.raises(StateStoreError, match="newer than this ecomsync"):
            await store.get_run("x")
        await store.aclose()

    async def test_schemas_are_separate(self, postgres_dsn: str) -> None:
        """Two schemas in one database keep separate state."""
        one = PostgresStore(postgres_dsn, schema="tenant_a")
        two = PostgresStore(postgres_dsn, schema="tenant_b")
        await one.put_media_id("shop", "ab", "m1")
        assert await two.get_media_id("shop", "ab") is None
        await one.aclose()
        await two.aclose()

    def test_bad_schema_name(self) -> None:
        """Schema names are plain identifiers."""
        with pytest.raises(ConfigurationError):
            PostgresStore("postgresql://x/y", schema='a"; DROP')


class TestOptions:
    async def test_without_prepared_statements(
        self, postgres_dsn: str
    ) -> None:
        """With prepared statements off (old transaction poolers) the store
        works the same."""
        store = PostgresStore(postgres_dsn, prepared_statements=False)
        for i in range(10):
            await store.put_media_id("shop", f"s{i}", f"m{i}")
            assert await store.get_media_id("shop", f"s{i}") == f"m{i}"
        await store.aclose()

    async def test_survives_dropped_connections(
        self, postgres_dsn: str
    ) -> None:
        """Pooled connections killed by the server (restart, idle
        timeout) are replaced without an error."""
        store = PostgresStore(postgres_dsn, application_name="victim")
        await store.put_media_id("shop", "ab", "m1")
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) "
                "FROM pg_stat_activity WHERE application_name = 'victim'"
            ).fetchone()
        assert killed == (1,)
        await anyio.sleep(0.1)
        assert await store.get_media_id("shop", "ab") == "m1"
        await store.aclose()

    async def test_connections_notice_a_vanished_server(
        self, postgres_dsn: str
    ) -> None:
        """The store's connections send TCP keepalives, as the licence
        pool's do: a call to a database host that vanished (a lost
        machine, a cut network) fails within about 25 s instead of
        waiting for hours (the kernel's default), inside cleanups that a
        cancel cannot cut short (a run's end, its staging's journal)."""
        store = PostgresStore(postgres_dsn)
        conn = await store.connect()
        try:
            options = {
                o.keyword.decode(): o.val.decode()
                for o in conn.pgconn.info
                if o.val is not None
            }
        finally:
            await conn.close()
            await store.aclose()

        assert ("1", "10", "5", "3") == (
            options.get("keepalives"),
            options.get("keepalives_idle"),
            options.get("keepalives_interval"),
            options.get("keepalives_count"),
        )

    @pytest.mark.parametrize("anyio_backend", ["trio"])
    async def test_trio_refused_clearly(self, postgres_dsn: str) -> None:
        """On trio (which psycopg's async driver does not support) the
        store and the licence pool say so."""
        from ecomsync.licensing import PostgresLicensePool

        store = PostgresStore(postgres_dsn)
        with pytest.raises(ConfigurationError, match="asyncio"):
            await store.get_run("x")
        with pytest.raises(ConfigurationError, match="asyncio"):
            async with PostgresLicensePool(postgres_dsn, size=1).lease(
                "x", timeout=1
            ):
                pass


class TestSecrets:
    def test_repr_hides_password(self) -> None:
        """The password never shows in the repr."""
        store = PostgresStore("postgresql://u:s3cret@db.example:5433/sync")
        assert "s3cret" not in repr(store)
        assert "db.example:5433/sync" in repr(store)

    async def test_connect_error_hides_password(
        self, postgres_server_dsn: str
    ) -> None:
        """A refused connection is a StateStoreError without the secret."""
        port = postgres_server_dsn.rsplit(":", 1)[1].split("/", maxsplit=1)[0]
        store = PostgresStore(
            f"postgresql://nobody_here:s3cret@127.0.0.1:{port}/nope"
        )
        with pytest.raises(StateStoreError) as info:
            await store.get_run("x")
        assert "s3cret" not in str(info.value)

    @pytest.mark.parametrize(
        "dsn",
        [
            # a '%' not percent-encoded: libpq quotes the token
            "postgresql://sync:s3cr%et@127.0.0.1:1/db",
            "postgresql://sync@127.0.0.1:1/db?password=s3cr%et",
            # a URL libpq cannot parse: it quotes the whole URL
            "postgresql://sync:s3cret@[::1/db",
            "host=127.0.0.1 port=1 password= s3cret x",
        ],
    )
    async def test_malformed_dsn_hides_password(self, dsn: str) -> None:
        """A connection string libpq cannot parse is a StateStoreError
        (LicenseError for the pool) whose message, cause and context
        never quote the password, though libpq's own message does."""
        from ecomsync.exceptions import LicenseError
        from ecomsync.licensing import PostgresLicensePool

        store = PostgresStore(dsn)
        pool = PostgresLicensePool(dsn, size=1)
        with pytest.raises(StateStoreError) as stored:
            await store.get_run("x")
        with pytest.raises(LicenseError) as leased:
            async with pool.lease("run", timeout=1):
                pass
        for error in (stored.value, leased.value):
            for text in (error, error.__cause__, error.__context__):
                assert "s3cr" not in str(text)
        assert "s3cr" not in repr(store) + repr(pool)
        await store.aclose()

    async def test_user_without_password_is_not_hidden(self) -> None:
        """A URL whose user info has no password hides nothing: the user
        is no secret, and is often named like the host (postgres@postgres),
        which the error names (it read '***' and lost its cause)."""
        # libpq names the address, here as the user is named
        store = PostgresStore("postgresql://127.0.0.1@127.0.0.1:1/db")
        with pytest.raises(StateStoreError) as info:
            await store.get_run("x")
        await store.aclose()

        assert 'server at "127.0.0.1", port 1' in str(info.value)
        assert "***" not in str(info.value)
        assert info.value.__cause__ is not None

    def test_repr_of_several_hosts(self) -> None:
        """A URL naming several hosts (libpq's failover) has a repr with
        every host and no password (it raised ValueError on the ports)."""
        dsn = "postgresql://sync:s3cret@db1:5432,db2:5433/sync"
        assert repr(PostgresStore(dsn)) == (
            "<PostgresStore postgresql://db1:5432,db2:5433/sync "
            "schema='ecomsync'>"
        )


class TestEngineOnPostgres:
    async def test_run(self, postgres_dsn: str) -> None:
        """A whole run on a PostgresStore is recorded and not redone."""
        from tests.conftest import small_catalogue

        store = PostgresStore(postgres_dsn)
        erp = MemoryErp(
            small_catalogue(),
            media={f"img-{i}": f"image {i}".encode() for i in range(1, 7)},
        )
        sync = Synchronizer(
            erp=erp, platforms={"shop": MemoryPlatform()}, store=store
        )
        spec = SyncSpec(
            types={DataType.ARTICLES: All(), DataType.STOCK: All()}
        )
        first = await sync.execute(spec)
        again = await sync.execute(spec)
        assert first.counts[DataType.ARTICLES].created == 6
        assert again.counts[DataType.ARTICLES].unchanged == 6
        assert [r.id for r in await sync.runs()] == [again.id, first.id]
        await store.aclose()

    async def test_killed_run_abandoned_by_next_run(
        self, postgres_dsn: str, tmp_path: Path
    ) -> None:
        """A scheduled run killed with SIGKILL while it holds the one
        licence of a PostgresLicensePool is ended as abandoned, with its
        dead pid as the reason, by the next scheduled run on the
        PostgresStore, which gets the licence and completes from the
        watermark; the dead run can still be resumed."""
        from tests.test_processes import (
            check_abandoned_then_carried_on,
            kill,
            start_child,
            wait_for_writes,
        )

        child, run_id = start_child(tmp_path, "scheduled", postgres_dsn)
        wait_for_writes(tmp_path, 40)
        kill(child)
        store = PostgresStore(postgres_dsn)
        dead = await store.get_run(run_id)
        assert dead is not None
        assert RunStatus.RUNNING == dead.status
        assert dead.owner is not None
        assert child.pid == dead.owner.pid

        await check_abandoned_then_carried_on(
            tmp_path, store, run_id, child.pid
        )
        await store.aclose()

    async def test_database_restart_mid_run(self) -> None:
        """The database going down mid-run fails the run with a
        StateStoreError naming the store; its end is recorded once the
        database is back (by the next run), the licence is free, and the
        rerun completes what is left without writing anything twice."""
        from decimal import Decimal

        from ecomsync import Article
        from ecomsync.licensing import PostgresLicensePool
        from ecomsync.testing._pg import postgres_server

        with postgres_server() as dsn:
            pg = _Server(dsn)
            articles = [
                Article(number=f"A-{i}", name=f"A {i}", price=Decimal(1))
                for i in range(40)
            ]
            shop = MemoryPlatform()
            sync = Synchronizer(
                erp=MemoryErp(articles, latency=0.2),
                platforms={"shop": shop},
                store=PostgresStore(dsn),
                licenses=PostgresLicensePool(dsn, size=1, check_interval=0.1),
                batch_size=5,
            )
            spec = SyncSpec(types={DataType.ARTICLES: All()})

            async def stop_soon() -> None:
                await anyio.sleep(0.7)
                await anyio.to_thread.run_sync(pg.stop)

            async with anyio.create_task_group() as tg:
                tg.start_soon(stop_soon)
                with pytest.raises(StateStoreError, match="store") as info:
                    await sync.execute(spec)
            await anyio.to_thread.run_sync(pg.start)
            (failed,) = await sync.runs()
            rerun = await sync.execute(spec)
            ended = await sync.store.get_run(failed.id)

            assert "127.0.0.1" in str(info.value)
            assert ended is not None
            assert RunStatus.FAILED == ended.status
            assert "StateStoreError" in (ended.error or "")
            assert RunStatus.SUCCEEDED == rerun.status
            counts = rerun.counts[DataType.ARTICLES]
            assert 40 == counts.created + counts.unchanged
            assert counts.unchanged > 0
            assert 40 == len(shop.records[DataType.ARTICLES])
            # at most the batch in flight when the store went away again
            assert shop.calls["writes"] <= 40 + 5
            assert () == await PostgresLicensePool(dsn, size=1).holders()
            await sync.aclose()
            await sync.store.aclose()


class _Server:
    """
    Stop and start again the throwaway PostgreSQL behind *dsn*, on the
    same port and options.
    """

    def __init__(self, dsn: str) -> None:
        import shlex

        from ecomsync.testing._pg import _run_as, find_pg_bin

        with psycopg.connect(dsn) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        self.data = str(row[0])
        options = shlex.split(Path(self.data, "postmaster.opts").read_text())
        del options[options.index("-D") : options.index("-D") + 2]
        self.options = " ".join(shlex.quote(o) for o in options[1:])
        user = _run_as()
        self.prefix = ["runuser", "-u", user.pw_name, "--"] if user else []
        self.pg_ctl = str(find_pg_bin() or "pg_ctl") + "/pg_ctl"

    def _ctl(self, *args: str) -> None:
        import subprocess

        subprocess.run(
            [*self.prefix, self.pg_ctl, *args, "-D", self.data, "-w"],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        log = str(Path(self.data).parent / "restarted.log")
        self._ctl("start", "-l", log, "-o", self.options)
