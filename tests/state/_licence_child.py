"""
A licence holder in a child process, for the kill and contention tests:

- ``python -m tests.state._licence_child hold DSN SIZE HOLDER``: take a
  licence, print ``held SLOT`` and wait to be killed.
- ``python -m tests.state._licence_child churn DSN SIZE HOLDER ROUNDS``:
  take and return a licence ROUNDS times; while holding, count this holder
  in the ``gauge`` table and record the count seen in ``seen``.
"""

from __future__ import annotations

import random
import sys

import anyio
import psycopg

from ecomsync.licensing import PostgresLicensePool


async def hold(dsn: str, size: int, holder: str) -> None:
    pool = PostgresLicensePool(dsn, size=size)
    async with pool.lease(holder, timeout=30) as lease:
        print(f"held {lease.slot}", flush=True)
        await anyio.sleep(3600)


async def churn(dsn: str, size: int, holder: str, rounds: int) -> None:
    pool = PostgresLicensePool(dsn, size=size, poll_interval=0.01)
    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True
    ) as conn:
        for _ in range(rounds):
            async with pool.lease(holder, timeout=60) as lease:
                cur = await conn.execute(
                    "UPDATE gauge SET n = n + 1 RETURNING n"
                )
                row = await cur.fetchone()
                assert row is not None
                await conn.execute(
                    "INSERT INTO seen VALUES (%s, %s, %s)",
                    (holder, lease.slot, row[0]),
                )
                await anyio.sleep(random.uniform(0, 0.02))
                await conn.execute("UPDATE gauge SET n = n - 1")
    print("done", flush=True)


def main(argv: list[str]) -> None:
    mode, dsn, size, holder, *rest = argv
    if mode == "hold":
        anyio.run(hold, dsn, int(size), holder)
    else:
        anyio.run(churn, dsn, int(size), holder, int(rest[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
