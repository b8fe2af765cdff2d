"""
SIGKILL at steps of the staging directory and of its journal with the
state in PostgreSQL (`PostgresStore`): the next scheduled run recovers
as it does on SQLite (tests/faults/test_kill_staging.py): nothing lost,
nothing duplicated, staging clean, no remembered content uploaded again.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ..faults._kill_child import abandoned, synchronizer
from ..faults.test_kill_matrix import (
    UPLOADS,
    Kill,
    _after,
    _at,
    _id,
    _recovered,
    run_kills,
)
from ..faults.test_kill_staging import _uploaded_once


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

POINTS: list[Kill] = [
    _at("fs.run_dir", 1),
    _at("fs.write", UPLOADS // 2),
    _after("fs.renamed", "platform.upload_media", UPLOADS // 2),
    _after("fs.retired", "platform.upload_media", UPLOADS // 2),
    _after("store.update_pending", "platform.upload_media", UPLOADS // 2),
    _after(
        "store.update_pending:closed", "platform.upload_media", UPLOADS // 2
    ),
    _at("fs.close", 1),
]


@pytest.mark.parametrize("kill", POINTS, ids=[_id(k) for k in POINTS])
async def test_next_scheduled_run(
    tmp_path: Path, postgres_dsn: str, kill: Kill
) -> None:
    """A run killed in a staging or journal step on PostgreSQL: the next
    scheduled run ends it as abandoned, clears its staging and journal,
    and completes."""
    ((directory, run_id),) = run_kills(tmp_path, [kill], postgres_dsn).values()
    with psycopg.connect(postgres_dsn) as conn:
        remembered = {
            row[0] for row in conn.execute("SELECT sha256 FROM ecomsync.media")
        }
    sync = synchronizer(directory, dsn=postgres_dsn)
    await _recovered(directory, sync)
    _uploaded_once(directory, remembered)
    await abandoned(sync, run_id)
    await sync.store.aclose()
