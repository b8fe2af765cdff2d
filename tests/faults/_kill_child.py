"""
A scheduled sync run in a child process that SIGKILLs itself at one
chosen point: ``python -m tests.faults._kill_child DIR POINT N [ANCHOR K]``.

POINT names a call of the ERP, the platform or the state store (for
example ``store.put_links`` or ``platform.push.after:articles``); the
process kills itself at the N-th such call (counted from the K-th call
of ANCHOR, if given), so each kill point is exact, not a timer.  The
platform journals every write to DIR/journal.jsonl (so the parent sees
what reached "the shop" after the child is gone), and the run id goes to
stdout as soon as it is known.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from ecomsync import (
    DataType,
    MediaStaging,
    MemoryPlatform,
    PostgresStore,
    RunStatus,
    SqliteStore,
    Synchronizer,
    Trigger,
)
from ecomsync import _staging_fs as fs
from ecomsync._contracts import Outcome
from ecomsync._model import Record
from ecomsync.testing import demo_erp

from .._push import PUSH as SPEC


#: The repository's root, where the children run.
ROOT = Path(__file__).parents[2]


#: Articles and stock records in the catalogue, categories, batch size.
ARTICLES, CATEGORIES, BATCH = 30, 10, 5

#: The platform rejects this article: a poison record for the ledger.
POISON = "A-00013"


def fingerprint(record: Record) -> str:
    """What identifies a record's content in the journal."""
    return hashlib.sha256(repr(record).encode()).hexdigest()[:16]


class Killer:
    """
    Counts calls per point and SIGKILLs the process at the *at*-th call
    of *point*; with *after* = (anchor, k), at the *at*-th call of
    *point* made once *anchor* was called k times.

    *after* is for points whose count depends on the load (the journal
    steps: groups take what is ready), anchored to a point whose count
    does not: such a kill happens in every run, at the same stage.
    """

    def __init__(
        self,
        point: str = "",
        at: int = 0,
        after: tuple[str, int] | None = None,
    ) -> None:
        self.point, self.at, self.after = point, at, after
        self.seen: Counter[str] = Counter()
        #: Calls of *point* before *after* was reached (None: not yet).
        self._base: int | None = 0 if after is None else None

    def hit(self, point: str) -> None:
        self.seen[point] += 1
        if self.after is not None and self._base is None:
            anchor, k = self.after
            if point == anchor and self.seen[anchor] == k:
                self._base = self.seen[self.point]
        if (
            point == self.point
            and self._base is not None
            and self.seen[point] == self._base + self.at
        ):
            os.kill(os.getpid(), signal.SIGKILL)


class JournalPlatform(MemoryPlatform):
    """A MemoryPlatform whose writes survive its process (JSONL)."""

    def __init__(self, journal: Path, killer: Killer) -> None:
        super().__init__(
            batch_size=BATCH,
            reject=lambda r: "poison" if r.number == POISON else None,
        )
        self.journal = journal
        self.killer = killer
        if journal.exists():
            for line in journal.read_text().splitlines():
                entry = json.loads(line)
                held = self.held(DataType(entry["type"]))
                held[entry["number"]] = None  # type: ignore[assignment]

    def _write(self, data_type: DataType, record: Record) -> Outcome:
        outcome = super()._write(data_type, record)
        if outcome.ok:
            with self.journal.open("a") as fh:
                entry = {
                    "type": data_type.value,
                    "number": record.number,
                    "id": outcome.platform_id,
                    "content": fingerprint(record),
                }
                fh.write(json.dumps(entry) + "\n")
                fh.flush()
        return outcome

    async def push(self, data_type: DataType, batch: Sequence[Any]) -> Any:
        self.killer.hit(f"platform.push.before:{data_type.value}")
        result = await super().push(data_type, batch)
        self.killer.hit(f"platform.push.after:{data_type.value}")
        return result

    async def upload_media(self, media: Any) -> str:
        self.killer.hit("platform.upload_media")
        media_id = await super().upload_media(media)
        # Every upload that reached the shop, to tell a second one.
        with self.journal.with_name("uploads.jsonl").open("a") as fh:
            fh.write(json.dumps({"sha256": media.sha256}) + "\n")
        return media_id


class KillingStore:
    """
    A SqliteStore (a PostgresStore, given *dsn*) that counts (and may die
    in) each call.
    """

    def __init__(self, path: Path, killer: Killer, dsn: str = "") -> None:
        self._inner = PostgresStore(dsn) if dsn else SqliteStore(path)
        self._killer = killer

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name.startswith("_") or not callable(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._killer.hit(f"store.{name}")
            return await target(*args, **kwargs)

        return call

    async def update_pending(
        self,
        closing: Callable[[], Sequence[Any]] | None,
        adding: Sequence[Any] = (),
    ) -> None:
        # Defined here, not forwarded: `MediaStaging` takes its one-hop
        # journal step only from a store whose class has it.
        self._killer.hit("store.update_pending")

        def killing() -> Sequence[Any]:
            keys = [] if closing is None else closing()
            if keys:
                # The files are gone, their entries not closed yet.
                self._killer.hit("store.update_pending:closed")
            return keys

        await self._inner.update_pending(killing, adding)


class KillingErp:
    """
    An ERP (*inner*, else the demo ERP), counting batches read, media
    read and sessions.
    """

    def __init__(self, killer: Killer, inner: Any = None) -> None:
        self._inner = inner or demo_erp(
            articles=ARTICLES, categories=CATEGORIES, image_bytes=256
        )
        self._killer = killer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        self._killer.hit("erp.session")
        async with self._inner.session() as inner:
            yield _KillingSession(inner, self._killer)


class _KillingSession:
    def __init__(self, inner: Any, killer: Killer) -> None:
        self._inner, self._killer = inner, killer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def read(self, data_type: DataType, *args: Any, **kw: Any) -> Any:
        async for batch in self._inner.read(data_type, *args, **kw):
            self._killer.hit(f"erp.read:{data_type.value}")
            yield batch

    async def read_media(self, ref: Any) -> bytes:
        self._killer.hit("erp.read_media")
        data: bytes = await self._inner.read_media(ref)
        return data


#: The file of each chunk's first article made larger than the default
#: ``memory_file_bytes`` in the "mixed" staging: it goes to disk while
#: the article's other file stays in memory.
LARGE = [f"A-{i:05d}-0-original" for i in range(1, ARTICLES + 1, BATCH)]


#: `MediaStaging`'s settings per *staging* of `synchronizer` (the demo
#: ERP's images are 256 bytes, its documents 128).
STAGINGS: dict[str, dict[str, int]] = {
    "disk": {"memory_bytes": 0},
    "memory": {},
    "mixed": {},
    "full": {"memory_bytes": 256, "max_bytes": 512},
}


def large_content(key: str) -> bytes:
    """Content one byte over the default memory_file_bytes, per *key*."""
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (2**20 // len(seed) + 1))[: 2**20 + 1]


def synchronizer(
    directory: Path,
    killer: Killer | None = None,
    dsn: str = "",
    staging: str = "disk",
) -> Synchronizer:
    """
    The run's synchroniser; its store in *directory*, or the PostgreSQL
    database *dsn* (the child takes it from ``KILL_CHILD_DSN``).
    *staging* (the child's ``KILL_CHILD_STAGING``): "disk" stages every
    file on disk (``memory_bytes=0``); "memory" is `MediaStaging`'s
    default settings (the small files stay in memory); "mixed" is the
    default settings with the `LARGE` files over ``memory_file_bytes``;
    "full" has room for two files in memory and two on disk (the budget
    is full: staging waits for uploads to give bytes back).
    """
    killer = killer or Killer()
    erp = KillingErp(killer)
    if staging == "mixed":
        for key in LARGE:
            erp._inner.media[key] = large_content(key)
    return Synchronizer(
        erp=erp,  # type: ignore[arg-type]
        platforms={
            "shop": JournalPlatform(directory / "journal.jsonl", killer)
        },
        store=KillingStore(directory / "state.db", killer, dsn),  # type: ignore[arg-type]
        staging=MediaStaging(directory / "staging", **STAGINGS[staging]),
        batch_size=BATCH,
    )


def hook_staging(killer: Killer) -> None:
    """
    Count (and maybe die in) the steps of the staging directory: a run
    directory made, a file written, fsynced, a group renamed, files taken
    away (deleted or made spares), a run directory closed.
    """
    write, fsync, end_all = fs._write, fs._fsync, fs.end_all
    retire_all, new_run_dir, close = (
        fs.retire_all,
        fs.new_run_dir,
        fs.RunDir.close,
    )

    def hooked_write(fd: int, data: memoryview) -> int:
        killer.hit("fs.write")
        return write(fd, data)

    def hooked_fsync(fd: int) -> None:
        killer.hit("fs.fsync")
        fsync(fd)

    def hooked_end_all(writes: list[fs.Write], *, keep: bool = True) -> None:
        end_all(writes, keep=keep)
        killer.hit("fs.renamed")

    def hooked_retire_all(files: Any) -> Any:
        gone = retire_all(files)
        killer.hit("fs.retired")
        return gone

    def hooked_new_run_dir(root: Path) -> fs.RunDir:
        made = new_run_dir(root)
        killer.hit("fs.run_dir")
        return made

    def hooked_close(self: fs.RunDir) -> list[str]:
        killer.hit("fs.close")
        removed = close(self)
        killer.hit("fs.closed")
        return removed

    fs._write, fs._fsync, fs.end_all = (
        hooked_write,
        hooked_fsync,
        hooked_end_all,
    )
    fs.retire_all, fs.new_run_dir = hooked_retire_all, hooked_new_run_dir
    fs.RunDir.close = hooked_close  # type: ignore[method-assign]


#: A kill: the process dies at the n-th call of point, counted from the
#: k-th call of anchor if (anchor, k) is given, else from the start.
Kill = tuple[str, int, tuple[str, int] | None]


def kill_id(kill: Kill) -> str:
    """A kill as a test id: ``point#n`` or ``point#n@anchor#k``."""
    point, at, after = kill
    return f"{point}#{at}" + (
        "" if after is None else f"@{after[0]}#{after[1]}"
    )


def kill_args(kill: Kill) -> list[str]:
    """A kill as a child's last arguments: POINT N [ANCHOR K]."""
    point, at, after = kill
    return [
        point,
        str(at),
        *([] if after is None else [after[0], str(after[1])]),
    ]


def run_children(
    children: Sequence[tuple[Kill, list[str], dict[str, str]]],
) -> list[str]:
    """
    Run each child (its kill, its ``python -m`` arguments and environment
    additions), four at a time from the repository's root; each must die
    by its SIGKILL.  Per child, what it printed (its run id first).
    """
    started = []
    for kill, argv, env in children:
        child = subprocess.Popen(
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append((kill, child))
        if len(started) % 4 == 0:
            # Four at a time: enough to overlap start-up, not a fork bomb.
            for _, c in started[-4:]:
                c.wait(timeout=120)
    # Every child waited for before any is judged: one left running (a
    # point never reached) warned in whichever test came next.
    ended = [(kill, c, *c.communicate(timeout=120)) for kill, c in started]
    for kill, c, stdout, stderr in ended:
        assert -signal.SIGKILL == c.returncode, (
            f"{kill_id(kill)} was never reached: {stdout} {stderr[-2000:]}"
        )
    return [stdout for *_, stdout, _ in ended]


def remembered_media(directory: Path) -> set[str]:
    """The contents whose media id the store in *directory* holds."""
    with contextlib.closing(sqlite3.connect(directory / "state.db")) as db:
        return {row[0] for row in db.execute("SELECT sha256 FROM media")}


def uploads(directory: Path) -> Counter[str]:
    """How often each content reached the shop (`JournalPlatform`)."""
    path = directory / "uploads.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(json.loads(line)["sha256"] for line in lines)


async def abandoned(sync: Synchronizer, run_id: str | None) -> None:
    """The killed run *run_id* is ended as abandoned."""
    dead = await sync.store.get_run(run_id or "")
    assert dead is not None
    assert RunStatus.ABANDONED == dead.status


async def main(
    directory: Path, point: str, at: int, after: tuple[str, int] | None
) -> None:
    killer = Killer(point, at, after)
    hook_staging(killer)
    sync = synchronizer(
        directory,
        killer,
        os.environ.get("KILL_CHILD_DSN", ""),
        os.environ.get("KILL_CHILD_STAGING", "disk"),
    )
    async with sync.run(SPEC, trigger=Trigger.SCHEDULED) as events:
        print(events.run_id, flush=True)
        async for _ in events:
            pass
    # Not killed: say how often each point was reached.
    print(json.dumps(dict(killer.seen)), flush=True)


if __name__ == "__main__":
    anchor = (sys.argv[4], int(sys.argv[5])) if len(sys.argv) > 4 else None
    anyio.run(main, Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), anchor)
