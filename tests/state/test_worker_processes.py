"""
Partitioned runs worked by worker processes: claimed exactly once,
workers killed anywhere or stopped by SIGTERM, an app that cannot be
loaded, cancellation from the monitoring view.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from ecomsync import (
    RunStatus,
)
from ecomsync._spec import DataType
from ecomsync.licensing import PostgresLicensePool
from ecomsync.state._pg_partitions import (
    PostgresPartitionBoard as PartitionBoard,
)
from ecomsync.state._postgres import PostgresStore

from . import _pg_shop
from ._workers import (
    _store,
    _workers,
    exited,
    scalar,
    submit,
    wait_for,
    worker,
)


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

#: The fixtures "store" and "workers".
__all__ = ["_store", "_workers"]


class TestWorkers:
    @pytest.mark.slow
    async def test_worker_killed_mid_run(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """Three workers, two licences, one killed with SIGKILL mid-run:
        the run completes, every record is written exactly once, and at
        no instant are more than two ERP sessions open."""
        dsn = store.dsn
        run_id = await submit(store)
        victim = worker(dsn, tmp_path, stall=True)
        workers.append(victim)
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM stalls") == 1,
            30,
            "the victim to stall in its partition",
        )
        workers.append(worker(dsn, tmp_path))
        workers.append(worker(dsn, tmp_path))
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM shop_writes") >= 40,
            30,
            "the other workers to write",
        )
        os.kill(victim.pid, signal.SIGKILL)
        for proc in workers[1:]:
            await exited(proc, tmp_path)
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.SUCCEEDED, run
        counts = run.counts[DataType.ARTICLES]
        # What the victim wrote before it died counts as unchanged when
        # its partition is redone.
        assert counts.done == _pg_shop.ARTICLES
        assert counts.failed == 0
        assert counts.created >= _pg_shop.ARTICLES - 20
        assert scalar(dsn, "SELECT count(*) FROM shop_articles") == 200
        assert scalar(dsn, "SELECT count(*) FROM shop_writes") == 200
        assert scalar(dsn, "SELECT max(writes) FROM shop_articles") == 1
        assert scalar(dsn, "SELECT max(n) FROM erp_seen") <= 2
        assert (
            scalar(
                dsn,
                "SELECT count(*) FROM ecomsync.partitions "
                "WHERE state <> 'done'",
            )
            == 0
        )
        # The victim's partition was run a second time, by another worker.
        assert (
            scalar(dsn, "SELECT max(attempts) FROM ecomsync.partitions") == 2
        )
        links = await store.get_links(
            "shop",
            DataType.ARTICLES,
            [f"A-{i}" for i in range(1, 201)],
        )
        assert len(links) == 200

    @pytest.mark.slow
    async def test_worker_killed_anywhere(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """A worker killed at an arbitrary moment (maybe between a write
        to the shop and its commit): the run completes, every record is
        in the shop once, and at most the batches in flight were sent
        twice."""
        dsn = store.dsn
        run_id = await submit(store)
        victim = worker(dsn, tmp_path)
        workers.append(victim)
        await wait_for(
            lambda: (
                scalar(
                    dsn,
                    "SELECT count(*) FROM shop_writes "
                    f"WHERE pid = {victim.pid}",
                )
                >= 5
            ),
            30,
            "the victim to write",
        )
        workers.append(worker(dsn, tmp_path))
        workers.append(worker(dsn, tmp_path))
        await wait_for(
            lambda: (
                scalar(dsn, "SELECT count(*) FROM shop_writes") >= 60
                and scalar(
                    dsn,
                    "SELECT count(*) FROM ecomsync.partitions WHERE "
                    f"state = 'todo' AND worker LIKE '%:{victim.pid}:%'",
                )
                == 1
            ),
            30,
            "the victim to be inside a partition, the others writing",
        )
        os.kill(victim.pid, signal.SIGKILL)
        for proc in workers[1:]:
            await exited(proc, tmp_path)
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.SUCCEEDED, run
        assert scalar(dsn, "SELECT count(*) FROM shop_articles") == 200
        assert scalar(dsn, "SELECT max(writes) FROM shop_articles") <= 2
        extra = scalar(dsn, "SELECT count(*) FROM shop_writes") - 200
        # Up to write_concurrency (4) batches of 10 may have been in flight.
        assert 0 <= extra <= 40
        assert scalar(dsn, "SELECT max(n) FROM erp_seen") <= 2

    @pytest.mark.slow
    async def test_sigterm_hands_partition_back(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """A worker stopped with SIGTERM exits cleanly and its partition
        is claimable at once, without waiting for it to go stale."""
        dsn = store.dsn
        await submit(store)
        stopped = worker(dsn, tmp_path, stall=True)
        workers.append(stopped)
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM stalls") == 1,
            30,
            "the worker to be inside its partition",
        )
        stopped.send_signal(signal.SIGTERM)
        await exited(stopped, tmp_path)
        assert (
            scalar(
                dsn,
                "SELECT count(*) FROM ecomsync.partitions "
                "WHERE worker IS NOT NULL",
            )
            == 0
        )
        board = PartitionBoard(store)
        claim = await board.claim("next", stale_after=3600)
        assert claim is not None
        assert claim.index == 0

    def test_bad_app(self, postgres_dsn: str) -> None:
        """A worker whose --app cannot be loaded says so and exits 2, the
        exit code of every command's configuration errors."""
        from ecomsync._worker import main

        code = main(
            [
                "--store",
                postgres_dsn,
                "--app",
                "no_such_module:make",
                "--licences",
                "1",
            ]
        )
        assert code == 2

    @pytest.mark.slow
    async def test_cancel_stops_all_workers(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """Cancelling the run from the monitoring view stops every worker
        on it; the run ends cancelled."""
        dsn = store.dsn
        run_id = await submit(store, size=10)
        workers.append(worker(dsn, tmp_path))
        workers.append(worker(dsn, tmp_path))
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM shop_writes") >= 20,
            30,
            "the workers to write",
        )
        sync = _pg_shop.make_sync(
            store=store, licenses=PostgresLicensePool(dsn, size=2)
        )
        await sync.cancel(run_id)
        cancelled = time.monotonic()
        for proc in workers:
            await exited(proc, tmp_path)
        assert time.monotonic() - cancelled < 10
        written = scalar(dsn, "SELECT count(*) FROM shop_writes")
        assert written < 200
        await anyio.sleep(0.5)
        assert scalar(dsn, "SELECT count(*) FROM shop_writes") == written
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.CANCELLED
        assert run.ended_at is not None
