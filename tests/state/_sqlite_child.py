"""
A child process for the SQLite contention test: waits for a start file,
then opens each given store file in turn and writes links and failures
tagged with its own name.  Exits 0 only if every open and write worked.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio

from ecomsync import DataType, Failure, Link, SqliteStore


async def main(tag: str, paths: list[str]) -> None:
    for path in paths:
        store = SqliteStore(path)
        try:
            await store.put_links(
                "shop",
                DataType.ARTICLES,
                {f"{tag}-{i}": Link(f"id-{tag}-{i}", tag) for i in range(20)},
            )
            await store.add_failures(
                "shop",
                [Failure(data_type=DataType.STOCK, number=tag, message=tag)],
            )
        finally:
            await store.aclose()


if __name__ == "__main__":
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    anyio.run(main, sys.argv[1], sys.argv[3:])
