"""
SIGKILL around a write the shop applied and then answered failed, on
SQLite and PostgreSQL: with the ERP gone back to the state last in sync
before the next run, that run still sends the record (the shop ends as
the ERP) and the ledger keeps nothing but the
platform's poison record.  The shop's rename must never survive
as "unchanged".
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import attrs
import pytest

from ecomsync import DataType

from ..state.conftest import _postgres_dsn, _postgres_server_dsn
from ._kill_child import POISON, fingerprint
from ._ledger_child import RENAMED, SPEC, synchronizer
from .test_kill_matrix import _journal


pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parents[2]

__all__ = ["_postgres_dsn", "_postgres_server_dsn"]

#: Kill points of the second run, each after the shop applied the
#: rename (the first push and ledger entry are the poison record's
#: retry, the first link write takes the checksum back before the
#: push): before the rename's ledger entry, before its link write, and
#: just after the push that applied it.  The journal check below makes
#: sure of it.
POINTS = [
    ("store.add_failures", 2),
    ("store.put_links", 2),
    ("platform.push.after:articles", 2),
]


async def _killed_then_undone(
    directory: Path, store: str, kill: tuple[str, int]
) -> None:
    """Run the child to its kill, then sync with the rename undone: the
    shop must hold the ERP's name and the ledger only the poison record."""
    point, at = kill
    with anyio.fail_after(120):
        child = await anyio.run_process(
            [
                sys.executable,
                "-m",
                "tests.faults._ledger_child",
                str(directory),
                store,
                point,
                str(at),
            ],
            cwd=ROOT,
            check=False,
        )
    assert -signal.SIGKILL == child.returncode, (
        child.stdout + child.stderr[-2000:]
    ).decode()
    sync = synchronizer(directory, store)
    erp = sync.erp._inner  # type: ignore[attr-defined]
    renamed = attrs.evolve(erp.get(DataType.ARTICLES, RENAMED), name="B")
    written = [
        e["content"]
        for e in _journal(directory)
        if (e["type"], e["number"]) == ("articles", RENAMED)
    ]
    try:
        assert fingerprint(renamed) == written[-1], (
            "killed before the shop got the rename: nothing to undo"
        )
        await sync.execute(SPEC)
        failures = await sync.store.list_failures("shop")
    finally:
        await sync.store.aclose()
    last = {
        (e["type"], e["number"]): e["content"] for e in _journal(directory)
    }
    assert (
        fingerprint(erp.get(DataType.ARTICLES, RENAMED))
        == last["articles", RENAMED]
    ), "the shop kept the rename: the record was skipped as unchanged"
    # Only the platform's poison record stays ledgered.
    assert [POISON] == [f.number for f in failures]


class TestKillAroundFailedWrite:
    @pytest.mark.parametrize(
        "kill", POINTS, ids=[f"{p}#{n}" for p, n in POINTS]
    )
    async def test_sqlite(self, tmp_path: Path, kill: tuple[str, int]) -> None:
        """On SQLite, a kill anywhere after the shop applied a write it
        answered failed leaves the record to be sent again."""
        await _killed_then_undone(tmp_path, "sqlite", kill)

    @pytest.mark.postgres
    @pytest.mark.parametrize(
        "kill", POINTS, ids=[f"{p}#{n}" for p, n in POINTS]
    )
    async def test_postgres(
        self, tmp_path: Path, postgres_dsn: str, kill: tuple[str, int]
    ) -> None:
        """On PostgreSQL, likewise."""
        await _killed_then_undone(tmp_path, postgres_dsn, kill)
