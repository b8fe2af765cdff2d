"""
``python -m bench.staging``: the cost of the media staging path per file.

Each file goes the way `MediaTransfer` sends it: hashed once by the
engine, staged, read by the platform's upload (in a worker thread, as the
bundled platforms do), released; 16 at a time, on a `SqliteStore` file.
The store's media-id look-ups are left out (they are the same either way).

Reports, per file: wall and CPU microseconds, thread hops, store
transactions, fsyncs, SHA-256 passes and reads from disk.  To compare with
an older checkout, put its ``src`` first on ``PYTHONPATH`` (a checkout
without ``MediaStaging.for_run`` is driven through ``stage``/``release``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.to_thread
import attrs

from ecomsync import MediaStaging, SqliteStore
from ecomsync._contracts import PendingMedia


def _counting(
    counts: Counter[str], name: str, fn: Callable[..., Any]
) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return fn(*args, **kwargs)

    return call


@contextmanager
def _counted(counts: Counter[str]) -> Iterator[None]:
    """
    Count thread hops, fsyncs, hashes and disk reads while inside.
    """
    patches: list[tuple[Any, str, Any]] = [
        (anyio.to_thread, "run_sync", "thread hops"),
        (os, "fsync", "fsyncs"),
        (hashlib, "sha256", "sha256 passes"),
        (pathlib.Path, "read_bytes", "disk reads"),
    ]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
    for obj, attr, name in patches:
        setattr(obj, attr, _counting(counts, name, getattr(obj, attr)))
    try:
        yield
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)


class _CountingStore(SqliteStore):
    counts: Counter[str]

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        # *before* (update_pending's blocking step) passes through.
        self.counts["store transactions"] += 1
        return await super()._run(fn, *args, **kwargs)


class _OneByOneStore(_CountingStore):
    """
    A store without the batch journal methods (`SupportsPendingBatch`
    sees ``None`` as absent): `MediaStaging` writes entries one by one.
    """

    add_pending_many = None  # type: ignore[assignment]
    remove_pending_many = None  # type: ignore[assignment]


class _BatchingStore(_CountingStore):
    """
    For an older checkout without them: the optional batch journal
    methods `MediaStaging` uses when a store has them, one transaction
    per group of files (the store's own statements, gathered into one
    of its ops).
    """

    async def _together(self, calls: list[Awaitable[None]]) -> None:
        # Imported here: an older checkout (compared against) lacks it.
        from ecomsync.state._sql import Op

        ops: list[Op[Any]] = []

        async def capture(op: Op[Any]) -> None:
            ops.append(op)

        self._perform = capture  # type: ignore[method-assign]
        try:
            for call in calls:
                await call
        finally:
            del self._perform
        stmts = tuple(s for op in ops for s in op.stmts)
        await self._perform(Op(stmts, lambda _: None, write=True))

    async def add_pending_many(self, items: list[PendingMedia]) -> None:
        await self._together([self.add_pending(p) for p in items])

    async def remove_pending_many(self, shas: list[str]) -> None:
        await self._together([self.remove_pending(s) for s in shas])


async def _measure(
    files: int, size: int, memory: bool, concurrency: int, batched: bool
) -> dict[str, float]:
    contents = [
        i.to_bytes(8, "big") + os.urandom(size - 8) for i in range(files)
    ]
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        # A checkout whose stores have the batch methods is measured with
        # them (--batched-store) or with them hidden; an older one gets
        # them emulated (--batched-store) or not.
        native = hasattr(SqliteStore, "add_pending_many")
        kind: type[_CountingStore]
        if batched:
            kind = _CountingStore if native else _BatchingStore
        else:
            kind = _OneByOneStore if native else _CountingStore
        store = kind(pathlib.Path(tmp) / "state.db")
        store.counts = counts
        options: dict[str, int] = {}
        if memory:
            options["memory_bytes"] = 64 * 2**20
        elif "memory_bytes" in attrs.fields_dict(MediaStaging):
            # On disk: small files stay in memory by default since 59de5d1.
            options["memory_bytes"] = 0
        staging = MediaStaging(pathlib.Path(tmp) / "staging", **options)
        await staging.open(store)
        limiter = anyio.CapacityLimiter(concurrency)
        scoped = hasattr(staging, "for_run")

        async def one(stager: Any, content: bytes) -> None:
            async with limiter:
                sha = hashlib.sha256(content).hexdigest()
                kwargs = {"sha256": sha} if scoped else {}
                staged = await stager.stage(
                    content, filename="f.jpg", mime_type="image/jpeg", **kwargs
                )
                try:
                    data = await anyio.to_thread.run_sync(staged.read_bytes)
                    assert len(data) == size
                finally:
                    await stager.release(staged)

        async def all_files(stager: Any) -> None:
            async with anyio.create_task_group() as tg:
                for content in contents:
                    tg.start_soon(one, stager, content)

        counts.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        with _counted(counts):
            if scoped:
                async with staging.for_run("bench") as run:
                    await all_files(run)
            else:
                await all_files(staging)
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        await store.aclose()
    result = {
        "wall µs/file": wall / files * 1e6,
        "CPU µs/file": cpu / files * 1e6,
    }
    result.update({k: v / files for k, v in sorted(counts.items())})
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.staging")
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--size", type=int, default=20_000, help="bytes per file")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument(
        "--memory", action="store_true", help="stage small files in memory"
    )
    p.add_argument(
        "--batched-store",
        action="store_true",
        help="a store with add_pending_many/remove_pending_many "
        "(built in now; emulated for an older checkout)",
    )
    args = p.parse_args(argv)
    results = [
        anyio.run(
            _measure,
            args.files,
            args.size,
            args.memory,
            args.concurrency,
            args.batched_store,
        )
        for _ in range(args.runs)
    ]
    summary = {
        key: {
            "min": min(r[key] for r in results),
            "median": sorted(r[key] for r in results)[len(results) // 2],
            "max": max(r[key] for r in results),
        }
        for key in results[0]
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
