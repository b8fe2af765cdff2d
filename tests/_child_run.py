"""
A sync run in a child process, for the kill/resume and cross-process
cancel tests: ``python -m tests._child_run DIR``.

The platform journals every write to DIR/journal.jsonl so the parent can
see what reached "the shop" after the child is gone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync._contracts import Outcome
from ecomsync._model import Record
from ecomsync.testing import demo_erp


SPEC = SyncSpec(
    types={
        DataType.CATEGORIES: All(),
        DataType.ARTICLES: All(),
        DataType.STOCK: All(),
    }
)


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


def synchronizer(directory: Path, latency: float) -> Synchronizer:
    return Synchronizer(
        erp=demo_erp(articles=60, categories=10, image_bytes=256),
        platforms={
            "shop": JournalPlatform(directory / "journal.jsonl", latency)
        },
        store=SqliteStore(directory / "state.db"),
        staging=MediaStaging(directory / "staging"),
        batch_size=5,
    )


async def main(directory: Path) -> None:
    sync = synchronizer(directory, latency=0.05)
    async with sync.run(SPEC) as events:
        print(events.run_id, flush=True)
        async for _ in events:
            pass
    assert events.summary is not None
    print(events.summary.status.value, flush=True)


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]))
