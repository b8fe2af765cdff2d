"""
A sync run in a child process, for the kill/resume and cross-process
cancel tests: ``python -m tests._child_run DIR [manual|scheduled] [DSN]``
(a scheduled run with DSN: on a PostgresStore instead of DIR/state.db),
or ``python -m tests._child_run DIR serve``: schedule SPEC hourly as
schedule "hourly" and serve it.

The platform journals every write to DIR/journal.jsonl so the parent can
see what reached "the shop" after the child is gone.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import anyio

from ecomsync import (
    DataType,
    LocalLicensePool,
    MediaStaging,
    MemoryPlatform,
    PostgresStore,
    SqliteStore,
    Synchronizer,
    Trigger,
)
from ecomsync._contracts import Outcome
from ecomsync._model import Record
from ecomsync.events import Event, RunStarted
from ecomsync.licensing import PostgresLicensePool
from ecomsync.testing import demo_erp
from ecomsync.typing import LicensePool, StateStore

from ._push import PUSH as SPEC


class JournalPlatform(MemoryPlatform):
    """
    A MemoryPlatform whose writes survive its process, in a JSONL file.
    """

    def __init__(self, journal: Path, latency: float = 0.0) -> None:
        super().__init__(batch_size=5, latency=latency)
        self.journal = journal
        if journal.exists():
            for line in journal.read_text().splitlines():
                entry = json.loads(line)
                self.held(DataType(entry["type"]))[entry["number"]] = None  # type: ignore[assignment]

    def _write(self, data_type: DataType, record: Record) -> Outcome:
        outcome = super()._write(data_type, record)
        if outcome.ok:
            with self.journal.open("a") as fh:
                fh.write(
                    json.dumps(
                        {
                            "type": data_type.value,
                            "number": record.number,
                            "id": outcome.platform_id,
                        }
                    )
                    + "\n"
                )
                fh.flush()
        return outcome


def synchronizer(
    directory: Path, latency: float, dsn: str | None = None
) -> Synchronizer:
    """
    The child's synchroniser; with *dsn*, on a PostgresStore and one
    licence of a PostgresLicensePool (the child dies holding it).
    """
    store: StateStore = (
        SqliteStore(directory / "state.db")
        if dsn is None
        else PostgresStore(dsn)
    )
    licenses: LicensePool = (
        LocalLicensePool(1)
        if dsn is None
        else PostgresLicensePool(dsn, size=1)
    )
    return Synchronizer(
        erp=demo_erp(articles=60, categories=10, image_bytes=256),
        platforms={
            "shop": JournalPlatform(directory / "journal.jsonl", latency)
        },
        store=store,
        licenses=licenses,
        staging=MediaStaging(directory / "staging", memory_bytes=0),
        batch_size=5,
        license_timeout=10,
    )


async def serve(directory: Path) -> None:
    sync = synchronizer(directory, latency=0.05)
    await sync.add_schedule(
        SPEC, every=timedelta(hours=1), schedule_id="hourly"
    )

    def started(event: Event) -> None:
        if isinstance(event, RunStarted):
            print(event.run_id, flush=True)

    await sync.serve(poll_interval=0.05, on_event=started)


async def main(directory: Path, trigger: Trigger, dsn: str | None) -> None:
    sync = synchronizer(directory, latency=0.05, dsn=dsn)
    async with sync.run(SPEC, trigger=trigger) as events:
        print(events.run_id, flush=True)
        async for _ in events:
            pass
    assert events.summary is not None
    print(events.summary.status.value, flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[1:2] == ["serve"]:
        anyio.run(serve, Path(args[0]))
        sys.exit(0)
    anyio.run(
        main,
        Path(args[0]),
        Trigger(args[1]) if len(args) > 1 else Trigger.MANUAL,
        args[2] if len(args) > 2 else None,
    )
