"""
Workers for partitioned runs: ``python -m ecomsync worker``.

A worker takes an ERP licence, claims the next open partition, runs it as
an ordinary run of the `Synchronizer` (heartbeating the claim meanwhile),
closes it and starts over.  Start as many as you like, on as many
machines as you like: the licences bound how many touch the ERP at once.

The ERP and platforms come from your code: ``--app module:function``
names a function ``(*, store, licenses) -> Synchronizer`` that builds the
synchroniser on the store and licence pool the worker passes it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from . import _instrument
from ._closing import hurried
from ._contracts import RunRecord, RunStatus
from ._partition import HeldLicence
from ._spec import DataType
from .exceptions import (
    ConfigurationError,
    EcomsyncError,
    LicenseError,
    NoFreeLicense,
    SpecError,
    StateStoreError,
)
from .licensing import PostgresLicensePool
from .state import PostgresStore
from .state._board import (
    Claim,
    PartitionBoard,
    PartitionLost,
    PartitionView,
    board_for,
)
from .typing import SupportsStockLayout


if TYPE_CHECKING:
    from ._engine import Synchronizer

__all__ = ["add_worker_arguments", "main", "run_worker", "work"]

log = logging.getLogger("ecomsync.worker")


def _fields(sync: Synchronizer, claim: Claim) -> dict[str, object]:
    """
    The run fields of a partition's log records (docs/telemetry.md).
    """
    platform: str | None
    try:
        platform = sync.validate(claim.spec)
    except SpecError:
        platform = claim.spec.platform
    types = list(claim.spec.types)
    return _instrument.fields(
        run_id=claim.sub_run_id,
        platform=platform,
        data_type=types[0].value if len(types) == 1 else None,
        worker=claim.worker,
    )


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:4]}"


async def work(
    sync: Synchronizer,
    *,
    worker_id: str | None = None,
    heartbeat: float = 2.0,
    stale_after: float = 15.0,
    poll_interval: float = 1.0,
    exit_when_idle: bool = False,
    max_attempts: int = 5,
) -> int:
    """
    Work on partitioned runs with *sync* (a `Synchronizer` on a
    `PostgresStore` and a shared licence pool) until cancelled, or, with
    *exit_when_idle*, until no run has an open partition left.  Return how
    many partitions this worker closed.

    Args:
        heartbeat: Seconds between heartbeats of a claimed partition.
        stale_after: Seconds without a heartbeat after which a partition
            counts as abandoned and is claimed again; keep it several
            heartbeats long.
        poll_interval: Seconds between looks for work when there is none.
        max_attempts: A partition whose workers died this many times is
            closed as failed instead of being claimed again.
    """
    board = board_for(sync.store)
    if stale_after <= 2 * heartbeat:
        raise ConfigurationError(
            f"stale_after ({stale_after} s) must exceed two heartbeats "
            f"({heartbeat} s)"
        )
    worker_id = worker_id or _worker_id()
    closed = 0
    while True:
        try:
            await board.sweep(
                stale_after=stale_after, max_attempts=max_attempts
            )
            idle = not await board.has_work()
        except StateStoreError as exc:
            _store_failed(worker_id, exc)
            await anyio.sleep(poll_interval)
            continue
        if idle:
            if exit_when_idle:
                return closed
            await anyio.sleep(poll_interval)
            continue
        try:
            ran = await _claim_and_run(
                sync, board, worker_id, stale_after, poll_interval, heartbeat
            )
            if ran is not None:
                closed += ran
                continue
        except NoFreeLicense:
            continue
        except LicenseError as exc:
            # The licence was lost while held (its connection cut, and
            # another worker took it): the partition went back to the
            # board; wait for a licence again.
            log.warning("worker %s: %s", worker_id, exc)
        except StateStoreError as exc:
            # Claiming or closing a partition failed: one not closed goes
            # stale and is claimed again (its writes are idempotent).
            _store_failed(worker_id, exc)
        # Open partitions, none claimable yet (held by live workers or
        # waiting for an earlier phase).
        await anyio.sleep(poll_interval)


async def _claim_and_run(
    sync: Synchronizer,
    board: PartitionBoard,
    worker_id: str,
    stale_after: float,
    poll_interval: float,
    heartbeat: float,
) -> bool | None:
    """
    Take a licence, claim a partition and run it; ``None`` if there was
    none to claim, else whether this worker closed it.  The licence is
    held in this task (a pool's lease is left in the task that took
    it) until the partition's run gives it back: at its end, or to wait
    for another run's order import, not keeping it idle meanwhile.
    """
    given_back = anyio.Event()
    closed: list[bool] = []
    failed: list[Exception] = []
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        try:
            async with sync.licenses.lease(
                worker_id, timeout=poll_interval
            ) as lease:
                claim = await board.claim(worker_id, stale_after=stale_after)
                if claim is None:
                    return None
                held = HeldLicence(lease, sync.licenses, given_back.set)

                async def run(claim: Claim) -> None:
                    try:
                        closed.append(
                            await _run_partition(
                                sync, board, claim, held, heartbeat
                            )
                        )
                    except Exception as exc:
                        failed.append(exc)
                    finally:
                        given_back.set()

                tg.start_soon(run, claim)
                await given_back.wait()
        except Exception as exc:
            # The licence lost while held: the partition stops (and goes
            # back to the board), as if this task ran it.
            error = exc
            tg.cancel_scope.cancel()
    if error is not None:
        raise error
    if failed:
        raise failed[0]
    return bool(closed and closed[0])


def _store_failed(worker_id: str, exc: StateStoreError) -> None:
    # A database restart, say: the worker goes on once it answers.
    log.warning(
        "worker %s: %s; trying again",
        worker_id,
        exc,
        extra=_instrument.fields(run_id=None, platform=None, data_type=None),
    )


async def _run_partition(
    sync: Synchronizer,
    board: PartitionBoard,
    claim: Claim,
    licence: HeldLicence,
    heartbeat: float,
) -> bool:
    """
    Run one claimed partition; return whether this worker closed it.
    """
    log.info(
        "worker %s runs partition %s (attempt %d)",
        claim.worker,
        claim.sub_run_id,
        claim.attempts,
        extra=_fields(sync, claim),
    )
    view = board.view(claim)
    sub = attrs.evolve(sync, store=view, licenses=licence)
    record: RunRecord | None = None
    error: str | None = None
    lost = busy_why = ""
    try:
        async with anyio.create_task_group() as tg:

            async def beat() -> None:
                while True:
                    await anyio.sleep(heartbeat)
                    try:
                        alive = await board.heartbeat(claim)
                    except EcomsyncError as exc:
                        log.warning(
                            "heartbeat failed: %s",
                            exc,
                            extra=_fields(sync, claim),
                        )
                        continue
                    if not alive:
                        await _lose(sub, view, board, claim)
                        return

            tg.start_soon(beat)
            events = None
            try:
                async with sub.run(
                    claim.spec, run_id=claim.sub_run_id
                ) as events:
                    async for _ in events:
                        pass
            except Exception as exc:
                if (gone := _find(exc, PartitionLost)) is not None:
                    view.lost, lost = True, str(gone)
                elif (busy := _find(exc, NoFreeLicense)) is not None:
                    # After giving the licence back to wait (another
                    # run's order import), none came free in time: the
                    # partition is not failed, it waits for a worker.
                    busy_why = str(busy)
                elif (failed := _find(exc, EcomsyncError)) is not None:
                    error = str(failed)
                else:
                    raise
            record = None if events is None else events.summary
            if record is not None and view.lost and not lost:
                lost = record.error or ""
            tg.cancel_scope.cancel()
    except BaseException:
        # Stopped (cancelled, SIGTERM) or crashed: hand the partition back
        # now rather than after `stale_after`.
        with (
            anyio.CancelScope(shield=True),
            hurried(),  # not for ever behind a row another session locks
            contextlib.suppress(EcomsyncError),
        ):
            await board.release(claim)
        raise
    else:
        why = (lost or "its claim was lost") if view.lost else busy_why
        return await _close(sync, board, claim, record, error, why, view.lost)


async def _close(
    sync: Synchronizer,
    board: PartitionBoard,
    claim: Claim,
    record: RunRecord | None,
    error: str | None,
    why: str,
    lost: bool,
) -> bool:
    """
    Close *claim*'s partition with its run's outcome; whether it did.  A
    *lost* claim is left to its new owner; a run that found no licence
    free after waiting (*why*) hands its partition back.
    """
    if lost:
        log.warning(
            "lost partition %s: %s",
            claim.sub_run_id,
            why,
            extra=_fields(sync, claim),
        )
        return False
    if why:
        log.warning(
            "partition %s handed back: %s",
            claim.sub_run_id,
            why,
            extra=_fields(sync, claim),
        )
        await board.release(claim)
        return False
    try:
        await board.finish(
            claim, record, error, stock_layout=_layout(sync, claim, record)
        )
    except PartitionLost:
        log.warning(
            "lost partition %s before closing it",
            claim.sub_run_id,
            extra=_fields(sync, claim),
        )
        return False
    return True


def _layout(
    sync: Synchronizer, claim: Claim, record: RunRecord | None
) -> str | None:
    """
    The stock layout a partition of stock was written under, once its
    run went through (`~ecomsync.typing.SupportsStockLayout`): the board
    keeps it for the platform once every stock partition of a run of
    all stock went through under it, as an unpartitioned run does
    (`_stock_layouts.keep`).  None for any other partition.
    """
    if (
        record is None
        or record.status is not RunStatus.SUCCEEDED
        or DataType.STOCK not in claim.spec.types
    ):
        return None
    platform = sync.platforms.get(record.platform)
    if not isinstance(platform, SupportsStockLayout):
        return None
    return platform.stock_layout()


async def _lose(
    sub: Synchronizer, view: PartitionView, board: PartitionBoard, claim: Claim
) -> None:
    """
    Stop the run of *claim*, lost, saying what became of it: a lost
    claim is not a cancel, and nobody asked through the store.
    """
    try:
        why = await board.loss(claim)
    except EcomsyncError as exc:
        why = f"partition {claim.index} of run {claim.run_id}: its claim "
        why += f"was lost (what became of it is unknown: {exc})"
    sub._runs.cancel(claim.sub_run_id, why)
    view.lost = True


def _find(
    exc: BaseException, kind: type[BaseException]
) -> BaseException | None:
    """
    *exc* or the first exception of *kind* inside it (exception groups).
    """
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


def _load_factory(spec: str) -> Callable[..., Any]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
            f"--app must look like 'package.module:function', not {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot import {module_name!r}: {exc}"
        ) from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ConfigurationError(f"{spec!r} is not a function")
    return factory  # type: ignore[no-any-return]


async def run_worker(
    *,
    store: str,
    app: str,
    licences: int,
    schema: str = "ecomsync",
    pool: str = "default",
    heartbeat: float = 2.0,
    stale_after: float = 15.0,
    poll_interval: float = 1.0,
    exit_when_idle: bool = False,
) -> int:
    """
    Build the synchroniser with *app* on a `PostgresStore` at *store* and
    a `PostgresLicensePool` of *licences*, and `work` with it.
    """
    factory = _load_factory(app)
    state = PostgresStore(
        store, schema=schema, application_name="ecomsync-worker"
    )
    licenses = PostgresLicensePool(
        store, size=licences, name=pool, schema=schema
    )
    sync = factory(store=state, licenses=licenses)
    try:
        return await work(
            sync,
            heartbeat=heartbeat,
            stale_after=stale_after,
            poll_interval=poll_interval,
            exit_when_idle=exit_when_idle,
        )
    finally:
        with anyio.CancelScope(shield=True):
            await state.aclose()


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """
    The ``worker`` subcommand's arguments.
    """
    parser.add_argument(
        "--store",
        required=True,
        metavar="DSN",
        help="the shared PostgreSQL (postgresql://user@host/db); "
        "a password is better given in PGPASSWORD or ~/.pgpass",
    )
    parser.add_argument(
        "--app",
        required=True,
        metavar="MODULE:FUNCTION",
        help="builds the Synchronizer: FUNCTION(*, store, licenses)",
    )
    parser.add_argument(
        "--licences",
        "--licenses",
        type=int,
        required=True,
        metavar="N",
        help="ERP licences shared by all workers (the same everywhere)",
    )
    parser.add_argument(
        "--schema",
        default="ecomsync",
        help="the PostgreSQL schema (default: ecomsync)",
    )
    parser.add_argument(
        "--pool",
        default="default",
        help="licence pool name, one per ERP (default: default)",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds between heartbeats (default: 2)",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=15.0,
        metavar="S",
        help="seconds after which a silent worker's partition is taken "
        "over (default: 15)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between looks for work (default: 1)",
    )
    parser.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="stop once no run has an open partition (default: keep polling)",
    )


def run_worker_command(args: argparse.Namespace) -> int:
    """
    Run the ``worker`` subcommand; return the exit status.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )

    async def until_signalled() -> None:
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                with anyio.open_signal_receiver(
                    signal.SIGTERM, signal.SIGINT
                ) as signals:
                    async for signum in signals:
                        log.info(
                            "stopping on signal %d",
                            signum,
                            extra=_instrument.fields(),
                        )
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch)
            await run_worker(
                store=args.store,
                app=args.app,
                licences=args.licences,
                schema=args.schema,
                pool=args.pool,
                heartbeat=args.heartbeat,
                stale_after=args.stale_after,
                poll_interval=args.poll_interval,
                exit_when_idle=args.exit_when_idle,
            )
            tg.cancel_scope.cancel()

    try:
        anyio.run(until_signalled)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        found = _find(exc, EcomsyncError)
        if found is None:
            raise
        print(f"ecomsync worker: {found}", file=sys.stderr)
        # as every command: 2 for a bad option or setting (nothing ran)
        return 2 if isinstance(found, ConfigurationError) else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """
    ``python -m ecomsync._worker ...``: the worker command on its own.
    """
    parser = argparse.ArgumentParser(
        prog="ecomsync worker", description="work on partitioned runs"
    )
    add_worker_arguments(parser)
    return run_worker_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
