"""
SqliteStore failures become StateStoreError naming the store, and a
failed transaction leaves nothing half-written; a PostgreSQL store or
licence pool that cannot connect says which and why.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecomsync import (
    DataType,
    LicenseError,
    Link,
    PostgresLicensePool,
    PostgresStore,
    SqliteStore,
    StateStoreError,
)


#: Nothing listens there: the connection is refused at once.
NOBODY = "postgresql://sync:s3cret@127.0.0.1:1/nowhere"


pytestmark = pytest.mark.anyio


class TestSqliteErrors:
    async def test_unopenable(self, tmp_path: Path) -> None:
        """A store that cannot be opened is a StateStoreError naming it."""
        store = SqliteStore(tmp_path / "missing" / "state.db")

        with pytest.raises(StateStoreError, match="cannot open"):
            await store.get_watermark("shop", DataType.STOCK)

    async def test_failed_write_rolls_back(self, tmp_path: Path) -> None:
        """A failing statement rolls the transaction back and raises a
        StateStoreError; the store stays usable."""
        store = SqliteStore(tmp_path / "state.db")

        def half_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO links (platform, data_type, number, "
                "platform_id, checksum) "
                "VALUES ('shop', 'stock', 'A-1', 'x', 'c')"
            )
            conn.execute("INSERT INTO nowhere VALUES (1)")

        with pytest.raises(StateStoreError, match="no such table"):
            await store._run(half_then_fail)

        assert {} == await store.get_links("shop", DataType.STOCK, ["A-1"])
        await store.put_links("shop", DataType.STOCK, {"A-1": Link("x", "c")})
        assert ["A-1"] == list(
            await store.get_links("shop", DataType.STOCK, ["A-1"])
        )
        await store.aclose()

    async def test_other_errors_roll_back(self, tmp_path: Path) -> None:
        """Any other error rolls back too and comes out unchanged."""
        store = SqliteStore(tmp_path / "state.db")

        def half_then_bug(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO links (platform, data_type, number, "
                "platform_id, checksum) "
                "VALUES ('shop', 'stock', 'A-1', 'x', 'c')"
            )
            raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            await store._run(half_then_bug)

        assert {} == await store.get_links("shop", DataType.STOCK, ["A-1"])
        await store.aclose()


class TestPostgresConnect:
    async def test_store_unreachable(self) -> None:
        """A PostgresStore that cannot connect is a StateStoreError naming
        the server (without the password) and the driver's reason."""
        store = PostgresStore(NOBODY)

        with pytest.raises(StateStoreError) as info:
            await store.get_watermark("shop", DataType.STOCK)

        message = str(info.value)
        assert message.startswith(
            "cannot connect to the state store "
            "postgresql://127.0.0.1:1/nowhere: "
        )
        assert "s3cret" not in message

    async def test_pool_unreachable(self) -> None:
        """A PostgresLicensePool that cannot connect is a LicenseError
        naming the server (without the password)."""
        pool = PostgresLicensePool(NOBODY, size=1)

        with pytest.raises(LicenseError) as info:
            async with pool.lease("run-1", timeout=1):
                pass

        message = str(info.value)
        assert message.startswith(
            "cannot reach the licence pool at "
            "postgresql://127.0.0.1:1/nowhere: "
        )
        assert "s3cret" not in message
