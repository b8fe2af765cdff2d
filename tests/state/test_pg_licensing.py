"""
PostgresLicensePool: licences shared by processes through one database.
What every pool does is in `test_licence_contract.py`, what the pools
shared between processes do in `test_shared_licensing.py`; here what is
the database pool's own.
"""

from __future__ import annotations

from typing import Any

import anyio
import psycopg
import pytest

from ecomsync.exceptions import ConfigurationError, LicenseError, NoFreeLicense
from ecomsync.licensing import PostgresLicensePool


def cut(dsn: str, pool: str) -> None:
    """End the connections of *pool*'s leases, as a database restart or
    an administrator does."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (f"ecomsync-licence:{pool}",),
        )


async def held_again(pool: PostgresLicensePool, holder: str) -> None:
    """Wait (up to 10 s) until *holder* holds *pool*'s licence again (the
    database's lock table is polled: no event tells)."""
    with anyio.fail_after(10):
        while True:
            if (holder,) == await pool.holders():
                return
            await anyio.sleep(0.05)


def fail_second_take(
    monkeypatch: pytest.MonkeyPatch, error: Exception, nth: int = 2
) -> list[str]:
    """The *nth* time a lease takes a licence (the second: the first
    after a cut), it fails with *error*; returns the holders of every
    take."""
    take = PostgresLicensePool._take
    calls: list[str] = []

    async def flaky(
        self: PostgresLicensePool, conn: Any, holder: str, slot: int
    ) -> int | None:
        calls.append(holder)
        if len(calls) == nth:
            raise error
        return await take(self, conn, holder, slot)

    monkeypatch.setattr(PostgresLicensePool, "_take", flaky)
    return calls


class TestDatabase:
    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_pools_are_separate(self, postgres_dsn: str) -> None:
        """Pools with different names do not share licences."""
        erp_a = PostgresLicensePool(postgres_dsn, size=1, name="erp-a")
        erp_b = PostgresLicensePool(postgres_dsn, size=1, name="erp-b")
        async with erp_a.lease("x", timeout=1), erp_b.lease("y", timeout=1):
            assert ("x",) == await erp_a.holders()
            assert ("y",) == await erp_b.holders()

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_cut_connection_takes_the_licence_back(
        self, postgres_dsn: str
    ) -> None:
        """A lease whose connection was cut (its lock gone with it) takes
        its licence back, so no other holder gets one of a full pool (it
        was free until the block ended: two runs on one licence)."""
        pool = PostgresLicensePool(
            postgres_dsn, size=1, name="cut", check_interval=0.1
        )
        async with pool.lease("first", timeout=1):
            cut(postgres_dsn, "cut")
            await held_again(pool, "first")
            with pytest.raises(NoFreeLicense):
                async with pool.lease("second", timeout=0.5):
                    pass

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_new_connection_cut_too_is_retried(
        self, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A new connection cut before it took the licence back (the
        database still restarting) is replaced by another one; the
        holder keeps its licence and its block runs on (the driver's
        error stopped it before)."""
        calls = fail_second_take(
            monkeypatch,
            psycopg.OperationalError("server closed the connection"),
        )
        pool = PostgresLicensePool(
            postgres_dsn, size=1, name="cut", check_interval=0.1
        )
        async with pool.lease("first", timeout=1):
            cut(postgres_dsn, "cut")
            await held_again(pool, "first")

        assert ["first"] * 3 == calls
        assert () == await pool.holders()

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_database_error_taking_it_back_is_a_licence_error(
        self, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Any other database error while taking the licence back stops
        the holder with LicenseError naming it, not the driver's own."""
        fail_second_take(
            monkeypatch, psycopg.errors.InsufficientPrivilege("denied")
        )
        pool = PostgresLicensePool(
            postgres_dsn, size=1, name="cut", check_interval=0.1
        )

        async def hold() -> None:
            async with pool.lease("first", timeout=1):
                cut(postgres_dsn, "cut")
                await anyio.sleep(30)

        with pytest.raises(
            LicenseError, match="while first took licence 1 back: denied"
        ):
            await hold()
        assert () == await pool.holders()

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_database_error_while_waiting_is_a_licence_error(
        self, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A database error while a holder waits for a licence is a
        LicenseError naming the holder, not the driver's own error."""
        fail_second_take(monkeypatch, psycopg.OperationalError("gone"), nth=1)
        pool = PostgresLicensePool(postgres_dsn, size=1, name="cut")

        async def hold() -> None:
            async with pool.lease("first", timeout=1):
                pytest.fail("leased")  # pragma: no cover

        with pytest.raises(LicenseError, match="while first waited: gone"):
            await hold()

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_licence_taken_meanwhile_stops_the_holder(
        self, postgres_dsn: str
    ) -> None:
        """A holder whose licence another one took while its connection
        was cut is stopped with LicenseError naming it."""
        pool = PostgresLicensePool(
            postgres_dsn, size=1, name="cut", check_interval=2
        )
        other = PostgresLicensePool(postgres_dsn, size=1, name="cut")
        went_on = False

        async def hold() -> None:
            nonlocal went_on
            async with pool.lease("first", timeout=1):
                cut(postgres_dsn, "cut")
                async with other.lease("second", timeout=1):
                    await anyio.sleep(30)
                went_on = True

        with pytest.raises(LicenseError, match="first lost licence 1 of 1"):
            await hold()
        assert not went_on
        assert () == await other.holders()

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_old_session_still_holding_is_said(
        self, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A holder whose connection failed its check while the database
        kept its session (a stalled network or proxy) cannot take the
        licence back from that session: it stops with a LicenseError
        saying so and naming the session, not that another holder took
        it."""
        check = PostgresLicensePool._check
        stalled = []

        async def stall_once(self: PostgresLicensePool, conn: Any) -> Any:
            if not stalled:
                stalled.append(conn.info.backend_pid)
                return "did not answer its check within 5 s"
            return await check(self, conn)  # pragma: no cover

        monkeypatch.setattr(PostgresLicensePool, "_check", stall_once)
        pool = PostgresLicensePool(
            postgres_dsn, size=1, name="stall", check_interval=0.1
        )

        async def hold() -> None:
            async with pool.lease("first", timeout=1):
                await anyio.sleep(30)

        with pytest.raises(LicenseError) as info:
            await hold()
        message = str(info.value)

        assert message.startswith(
            "first lost licence 1 of 1 in pool 'stall': its connection to "
        )
        assert "did not answer its check within 5 s" in message
        assert (
            f"its old session (server process {stalled[0]}) still holds "
            "the licence"
        ) in message
        assert "No other holder has the licence" in message
        assert "another holder took" not in message
        assert () == await pool.holders()

    @pytest.mark.parametrize("interval", [0, -1, float("nan"), "1", True])
    def test_check_interval_out_of_range(self, interval: object) -> None:
        """A check interval that is not a number of seconds above 0 is a
        ConfigurationError naming it (0 queried the database in a busy
        loop)."""
        with pytest.raises(ConfigurationError, match="check_interval"):
            PostgresLicensePool(
                "postgresql://h/db",
                size=1,
                check_interval=interval,  # type: ignore[arg-type]
            )

    def test_repr_hides_password(self) -> None:
        """The DSN's password is not in the repr."""
        pool = PostgresLicensePool("postgresql://u:s3cret@h/db", size=1)

        assert "s3cret" not in repr(pool)


@pytest.mark.anyio
@pytest.mark.postgres
async def test_lease_ended_while_its_loss_is_told_closes_every_connection(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease whose block ends while the holder, its connection failed
    and the licence not had back, asks the database who holds it,
    closes the new connection too: it was left open (a session on the
    server until the object was collected, and a ResourceWarning)."""
    made: list[Any] = []
    asking = anyio.Event()
    connect = PostgresLicensePool._connect
    check = PostgresLicensePool._check

    async def tracked(self: PostgresLicensePool) -> Any:
        conn = await connect(self)
        made.append(conn)
        return conn

    async def fail_once(self: PostgresLicensePool, conn: Any) -> Any:
        if len(made) == 1:
            return "did not answer its check within 5 s"
        return await check(self, conn)  # pragma: no cover

    async def stall(self: PostgresLicensePool, conn: Any, slot: int) -> Any:
        asking.set()
        await anyio.sleep_forever()

    monkeypatch.setattr(PostgresLicensePool, "_connect", tracked)
    monkeypatch.setattr(PostgresLicensePool, "_check", fail_once)
    monkeypatch.setattr(PostgresLicensePool, "_locker", stall)
    pool = PostgresLicensePool(
        postgres_dsn, size=1, name="told", check_interval=0.05
    )

    with anyio.fail_after(10):
        async with pool.lease("first", timeout=1):
            await asking.wait()

    assert 2 == len(made)
    assert [True, True] == [conn.closed for conn in made]
