"""
The on-disk media staging path alone (issue 14): N files of 20 KB staged,
held 2 ms (the upload) and released, 16 at a time, on a `SqliteStore`;
prints the process CPU seconds, the wall time and the journal
transactions (adds, removes, or both in one step).
``python -m bench._staging [N]`` (default 3,000: the
images of 1,000 articles).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from ecomsync.media import MediaStaging
from ecomsync.state import SqliteStore


class _Counted(SqliteStore):
    adds: int = 0
    removes: int = 0
    #: `update_pending` calls: adds and removes in one transaction.
    steps: int = 0

    async def update_pending(self, closing: Any, adding: Any = ()) -> None:
        type(self).steps += 1
        await super().update_pending(closing, adding)

    async def add_pending_many(self, pendings: Any) -> None:
        type(self).adds += 1
        await super().add_pending_many(pendings)

    async def remove_pending_many(self, keys: Any) -> None:
        type(self).removes += 1
        await super().remove_pending_many(keys)


async def main(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ecomsync-bench-") as tmp:
        where = Path(tmp)
        contents = [os.urandom(20_000) for _ in range(n)]
        shas = [hashlib.sha256(c).hexdigest() for c in contents]
        store = _Counted(str(where / "state.db"))
        # On disk (small files stay in memory by default).
        on_disk = MediaStaging(where / "staging", memory_bytes=0)
        async with store, on_disk as staging:
            await staging.open(store)
            limiter = anyio.CapacityLimiter(16)
            cpu, wall = time.process_time(), time.perf_counter()
            async with staging.for_run("bench") as run:

                async def one(i: int) -> None:
                    async with limiter:
                        staged = await run.stage(
                            contents[i],
                            filename=f"{i}.jpg",
                            mime_type="image/jpeg",
                            sha256=shas[i],
                        )
                        await anyio.sleep(0.002)
                        await run.release(staged)

                async with anyio.create_task_group() as tg:
                    for i in range(n):
                        tg.start_soon(one, i)
            return {
                "files": n,
                "cpu_s": round(time.process_time() - cpu, 3),
                "wall_s": round(time.perf_counter() - wall, 3),
                "add_transactions": _Counted.adds,
                "remove_transactions": _Counted.removes,
                "step_transactions": _Counted.steps,
            }


if __name__ == "__main__":
    print(anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
