"""
An order import in a child process, for the cross-process order lease
tests: ``python -m tests._order_importer DIR GAP``.

Imports the orders of `placed(3)` (the same in every process) into an
ERP kept in DIR/sales.txt that finds, then creates, *GAP* seconds apart;
the state store is DIR/state.db, the licence pool the process's own.
Prints the run's status when it ends.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import attrs

from ecomsync import SqliteStore

from ._two_importers import ORDERS, SharedErp, importer, placed


@attrs.define
class FileSales:
    """
    The ERP's sales as lines of a file, shared by every process.
    """

    path: Path

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return self.path.read_text().splitlines()

    def __contains__(self, number: object) -> bool:
        return number in self._lines()

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._lines())

    def append(self, number: str) -> None:
        with self.path.open("a") as fh:
            fh.write(number + "\n")


async def main(directory: Path, gap: float) -> None:
    erp = SharedErp(gap=gap, sales=FileSales(directory / "sales.txt"))  # type: ignore[arg-type]
    async with (
        SqliteStore(directory / "state.db") as store,
        importer(erp, placed(3), store, directory / "staging") as sync,
    ):
        run = await sync.execute(ORDERS)
    print(run.status.value, flush=True)


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]), float(sys.argv[2]))
