"""
A partly landed write killed before the store holds its outcome:
``python -m tests.faults._ledger_child DIR STORE POINT N``.

The child syncs the catalogue once, renames `RENAMED` in its ERP and
syncs again while the shop applies that rename and then answers failed
(a later step of the write refused); it SIGKILLs itself at the N-th call
of POINT of that second run.  STORE is ``sqlite`` (DIR/state.db) or a
PostgreSQL DSN.  The shop's writes survive in DIR/journal.jsonl.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    Synchronizer,
    SyncSpec,
)
from ecomsync._contracts import Outcome

from ._kill_child import JournalPlatform, Killer, KillingErp, KillingStore


#: The article renamed, written and answered failed in the killed run.
RENAMED = "A-00007"

SPEC = SyncSpec(types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()})


class SpoilingPlatform(JournalPlatform):
    """Applies every write, then answers failed for the numbers in
    *spoil*."""

    def __init__(self, journal: Path, killer: Killer) -> None:
        super().__init__(journal, killer)
        self.spoil: set[str] = set()

    async def push(self, data_type: DataType, batch: Sequence[Any]) -> Any:
        outcomes = await super().push(data_type, batch)
        return [
            Outcome(number=o.number, error="step 2 failed", field="name")
            if o.number in self.spoil
            else o
            for o in outcomes
        ]


def synchronizer(
    directory: Path, store: str, killer: Killer | None = None
) -> Synchronizer:
    killer = killer or Killer()
    return Synchronizer(
        erp=KillingErp(killer),  # type: ignore[arg-type]
        platforms={
            "shop": SpoilingPlatform(directory / "journal.jsonl", killer)
        },
        store=KillingStore(  # type: ignore[arg-type]
            directory / "state.db", killer, "" if store == "sqlite" else store
        ),
        staging=MediaStaging(directory / "staging"),
        batch_size=5,
    )


async def main(directory: Path, store: str, point: str, at: int) -> None:
    first = synchronizer(directory, store)
    await first.execute(SPEC)
    await first.store.aclose()
    killer = Killer(point, at)
    sync = synchronizer(directory, store, killer)
    erp = sync.erp._inner  # type: ignore[attr-defined]
    erp.put(attrs.evolve(erp.get(DataType.ARTICLES, RENAMED), name="B"))
    platform = sync.platforms["shop"]
    assert isinstance(platform, SpoilingPlatform)
    platform.spoil.add(RENAMED)
    await sync.execute(SPEC)
    print("not killed", dict(killer.seen), flush=True)


if __name__ == "__main__":
    anyio.run(
        main, Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    )
