"""
A FileLicensePool holder in a child process, for the kill and contention
tests:

- ``python -m tests.state._file_licence_child hold DIR SIZE HOLDER``: take
  a licence, print ``held SLOT`` and wait to be killed.
- ``python -m tests.state._file_licence_child churn DIR SIZE HOLDER ROUNDS
  LOG``: take and return a licence ROUNDS times; while holding, append
  ``in HOLDER SLOT`` and then ``out HOLDER SLOT`` lines to LOG (appends
  are atomic, so the file's order is the order they happened in).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import anyio

from ecomsync import FileLicensePool


async def hold(path: str, size: int, holder: str) -> None:
    pool = FileLicensePool(path, size=size)
    async with pool.lease(holder, timeout=30) as lease:
        print(f"held {lease.slot}", flush=True)
        await anyio.sleep(3600)


def _append(log: Path, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


async def churn(
    path: str, size: int, holder: str, rounds: int, log: Path
) -> None:
    pool = FileLicensePool(path, size=size, poll_interval=0.005)
    for _ in range(rounds):
        async with pool.lease(holder, timeout=60) as lease:
            _append(log, f"in {holder} {lease.slot}")
            await anyio.sleep(random.uniform(0, 0.01))
            _append(log, f"out {holder} {lease.slot}")
    print("done", flush=True)


def main(argv: list[str]) -> None:
    mode, path, size, holder, *rest = argv
    if mode == "hold":
        anyio.run(hold, path, int(size), holder)
    else:
        anyio.run(churn, path, int(size), holder, int(rest[0]), Path(rest[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
