"""
A licence holder in a child process, for the kill and contention tests of
the pools shared between processes.  POOL is ``file:DIRECTORY`` or
``postgres:DSN``:

- ``python -m tests.state._licence_child hold POOL SIZE HOLDER``: take a
  licence, print ``held SLOT`` and wait to be killed.
- ``python -m tests.state._licence_child churn POOL SIZE HOLDER ROUNDS
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

from ecomsync.licensing import FileLicensePool, PostgresLicensePool
from ecomsync.typing import LicensePool


def open_pool(spec: str, size: int, poll_interval: float) -> LicensePool:
    """
    The pool *spec* names (``file:DIRECTORY`` or ``postgres:DSN``).
    """
    kind, _, where = spec.partition(":")
    if kind == "file":
        return FileLicensePool(where, size=size, poll_interval=poll_interval)
    return PostgresLicensePool(where, size=size, poll_interval=poll_interval)


async def hold(spec: str, size: int, holder: str) -> None:
    pool = open_pool(spec, size, 0.05)
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
    spec: str, size: int, holder: str, rounds: int, log: Path
) -> None:
    pool = open_pool(spec, size, 0.005)
    for _ in range(rounds):
        async with pool.lease(holder, timeout=60) as lease:
            _append(log, f"in {holder} {lease.slot}")
            await anyio.sleep(random.uniform(0, 0.01))
            _append(log, f"out {holder} {lease.slot}")
    print("done", flush=True)


def main(argv: list[str]) -> None:
    mode, spec, size, holder, *rest = argv
    if mode == "hold":
        anyio.run(hold, spec, int(size), holder)
    else:
        anyio.run(churn, spec, int(size), holder, int(rest[0]), Path(rest[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
