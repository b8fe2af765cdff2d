"""
SqliteStore failures become StateStoreError naming the store, and a
failed transaction leaves nothing half-written.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecomsync import DataType, Link, SqliteStore, StateStoreError


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
                "INSERT INTO links VALUES ('shop', 'stock', 'A-1', 'x', 'c')"
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
                "INSERT INTO links VALUES ('shop', 'stock', 'A-1', 'x', 'c')"
            )
            raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            await store._run(half_then_bug)

        assert {} == await store.get_links("shop", DataType.STOCK, ["A-1"])
        await store.aclose()
