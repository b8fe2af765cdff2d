"""
What every config-file subcommand shares: exit codes, selections and
specs from the arguments, opening the synchroniser, progress display and
summaries.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.abc

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    RunStatus,
    Synchronizer,
    SyncSpec,
)
from ecomsync.events import (
    Event,
    Progress,
    RecordFailed,
    RunFinished,
    RunStarted,
    TypeFinished,
    TypeStarted,
)
from ecomsync.exceptions import ConfigurationError, EcomsyncError

from ._arguments import TYPE_NAMES
from ._config import load
from ._config_table import parse_duration


#: Exit codes by meaning.
EXIT = {
    "ok": 0,
    "failed": 1,
    "usage": 2,
    "records_failed": 3,
    "cancelled": 4,
    "interrupted": 130,
}

#: Several runs' exit codes (``failures retry``: one run per platform)
#: come to the worst of them: a run that failed outweighs one cancelled,
#: which outweighs one with failed records.
_SEVERITY = (
    EXIT["ok"],
    EXIT["records_failed"],
    EXIT["cancelled"],
    EXIT["failed"],
)


def worst_exit(first: int, second: int) -> int:
    """
    The exit code of two runs together: the more severe one.
    """
    return max(first, second, key=_SEVERITY.index)


class UsageError(Exception):
    """
    A bad option: exit 2 with the message.
    """


def _selection(args: argparse.Namespace) -> Any:
    if args.range:
        # bounds stripped, as --only's numbers: "A-1 " sorts after A-1
        first, sep, last = (p.strip() for p in args.range.partition(".."))
        if not sep or not first or not last:
            raise UsageError(f"--range {args.range!r}: write FIRST..LAST")
        return NumberRange(first, last)
    if args.since:
        try:
            moment = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(
                f"--since {args.since!r}: not an ISO 8601 moment"
            ) from None
        if moment.tzinfo is None:
            # the moment as read (a date alone is its midnight), in UTC:
            # a valid --since, unlike the text with "+00:00" appended
            example = moment.replace(tzinfo=UTC).isoformat()
            raise UsageError(
                f"--since {args.since!r}: give a zone, e.g. {example}"
            )
        return ChangedSince(moment)
    if args.number:
        return Only(args.number)
    if args.only:
        numbers = {n.strip() for n in args.only.split(",") if n.strip()}
        if not numbers:
            raise UsageError("--only: name at least one number")
        return Only(numbers)
    return All()


def known_platform(sync: Synchronizer, name: str | None) -> str | None:
    """
    *name* (of ``--platform``), refused unless the config file has it.
    """
    if name is not None and name not in sync.platforms:
        raise UsageError(
            f"--platform {name!r}: the config file names "
            f"{', '.join(sorted(sync.platforms))}"
        )
    return name


def _spec(sync: Synchronizer, args: argparse.Namespace) -> SyncSpec:
    selection = _selection(args)
    names = list(args.types)
    unknown = [n for n in names if n not in TYPE_NAMES]
    if unknown:
        raise UsageError(
            f"unknown data type {', '.join(unknown)}; "
            f"choose from {', '.join(TYPE_NAMES)}"
        )
    platform = known_platform(sync, args.platform)
    if platform is None and len(sync.platforms) == 1:
        platform = next(iter(sync.platforms))
    if names:
        types = [TYPE_NAMES[n] for n in names]
    else:
        if platform is None:
            raise UsageError(
                "several platforms: name one with --platform "
                f"({', '.join(sorted(sync.platforms))})"
            )
        types = [
            t for t in DataType if t in sync.platforms[platform].supported
        ]
    return SyncSpec(platform=platform, types=dict.fromkeys(types, selection))


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.isoformat(timespec="seconds")


def _iso(moment: datetime | None) -> str | None:
    """
    *moment* for a JSON document: ``null`` when there is none.
    """
    return None if moment is None else moment.isoformat(timespec="seconds")


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _run_plain(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "trigger": run.trigger.value,
        "platform": run.platform,
        "status": run.status.value,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "schedule_id": run.schedule_id,
        "error": run.error,
        # which process runs it (queued, running): where to look, what
        # resume refuses while it lives
        "owner": None if run.owner is None else str(run.owner),
        "heartbeat_at": _iso(run.heartbeat_at),
        "counts": {
            t.value: {
                "created": c.created,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "failed": c.failed,
            }
            for t, c in run.counts.items()
        },
        "failures": [
            {
                "type": f.data_type.value,
                "number": f.number,
                "field": f.field,
                "message": f.message,
            }
            for f in run.failures
        ],
    }


def _exit_of(status: RunStatus, failed: int) -> int:
    if status is RunStatus.CANCELLED:
        return EXIT["cancelled"]
    if status is not RunStatus.SUCCEEDED:
        return EXIT["failed"]
    return EXIT["records_failed"] if failed else EXIT["ok"]


@asynccontextmanager
async def _opened(args: argparse.Namespace) -> AsyncIterator[Synchronizer]:
    sync = load(args.config)
    # The command made all of it from the config: the synchroniser closes
    # the ERP, platforms, store, licences and staging (shielded).
    sync.owns = True
    async with sync:
        yield sync


def _command(
    work: Callable[[Synchronizer, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            async with _opened(args) as sync:
                if args.command == "serve":  # it reads SIGTERM itself
                    return await work(sync, args)
                return await _until_sigterm(work(sync, args))

        if sys.stdout is None:
            # ``>&-``: the work runs; what it prints goes nowhere, and the
            # exit code says the output was lost, as for a full disk.
            _lose_stdout(OSError(errno.EBADF, "standard output is closed"))
        try:
            code = anyio.run(main)
        except UsageError as exc:
            print(f"ecomsync {args.command}: {exc}", file=sys.stderr)
            return EXIT["usage"]
        except ConfigurationError as exc:
            print(f"ecomsync {args.command}: {exc}", file=sys.stderr)
            return EXIT["usage"]
        except EcomsyncError as exc:
            print(f"ecomsync {args.command}: {exc}", file=sys.stderr)
            return EXIT["failed"]
        except KeyboardInterrupt:
            print(f"ecomsync {args.command}: interrupted", file=sys.stderr)
            return EXIT["interrupted"]
        except _Terminated:
            print(
                f"ecomsync {args.command}: interrupted (SIGTERM)",
                file=sys.stderr,
            )
            return EXIT["interrupted"]
        except BrokenPipeError as exc:
            # The reader went away (``| head``): not an error of ours.
            _lose_stdout(exc)
            return EXIT["ok"]
        except OSError as exc:
            # Standard output failed otherwise (a full disk): one line,
            # not a traceback.
            _lose_stdout(exc)
            with contextlib.suppress(OSError):
                print(f"ecomsync {args.command}: {exc}", file=sys.stderr)
            return EXIT["failed"]
        lost = _output_lost()
        if lost is None or _stdout_told:
            return code
        with contextlib.suppress(OSError):
            print(
                f"ecomsync {args.command}: standard output failed ({lost})",
                file=sys.stderr,
            )
        return code if code != EXIT["ok"] else EXIT["failed"]

    return run


class _Terminated(Exception):
    """
    SIGTERM stopped the command (its run ended cancelled).
    """


async def _until_sigterm(work: Awaitable[int]) -> int:
    """
    *work*'s exit code, or `_Terminated` once SIGTERM (a service
    manager, ``docker stop``, a job's timeout) cancelled it: as for
    Ctrl-C, a run in flight stops at the next record boundary and is
    recorded cancelled, instead of the process dying and the run being
    found abandoned.
    """
    code: int | None = None
    error: Exception | None = None
    stop = anyio.CancelScope()
    async with anyio.create_task_group() as tg:

        async def watch(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                task_status.started()
                async for _ in signals:
                    stop.cancel()
                    return

        await tg.start(watch)
        try:
            with stop:
                code = await work
        except Exception as exc:
            # raised as it is after the task group, not in a group
            error = exc
        tg.cancel_scope.cancel()
    if error is not None:
        raise error
    if code is None:
        raise _Terminated
    return code


@contextmanager
def _progress(args: argparse.Namespace) -> Iterator[Callable[[Event], None]]:
    """
    Progress of a run: bars on a terminal with rich, lines otherwise.
    """
    if args.json:
        yield lambda event: None
        return
    fancy = sys.stdout.isatty() and not args.plain
    if fancy:
        try:
            from rich.progress import Progress as Bars
        except ImportError:
            fancy = False
    if fancy:
        with Bars() as bars:
            tasks: dict[DataType, Any] = {}

            def on_bar(event: Event) -> None:
                if isinstance(event, TypeStarted):
                    tasks[event.data_type] = bars.add_task(
                        event.data_type.value, total=event.total
                    )
                elif isinstance(event, Progress) and event.data_type in tasks:
                    bars.update(tasks[event.data_type], completed=event.done)
                elif isinstance(event, TypeFinished):
                    done = event.counts.done
                    bars.update(
                        tasks[event.data_type], total=done, completed=done
                    )

            yield on_bar
        return
    last: dict[DataType, float] = {}

    def on_line(event: Event) -> None:
        now = anyio.current_time()
        if isinstance(event, RunStarted):
            print(f"run {event.run_id} started", flush=True)
        elif isinstance(event, TypeStarted):
            total = "?" if event.total is None else event.total
            print(
                f"{event.data_type.value}: started, {total} records",
                flush=True,
            )
        elif isinstance(event, Progress):
            if now - last.get(event.data_type, -10.0) >= 1.0:
                last[event.data_type] = now
                total = "?" if event.total is None else event.total
                print(
                    f"{event.data_type.value}: {event.done}/{total} "
                    f"({event.rate:,.0f}/s)",
                    flush=True,
                )
        elif isinstance(event, RecordFailed):
            print(
                f"{event.data_type.value} {event.number}: failed: "
                f"{event.message}",
                flush=True,
            )
        elif isinstance(event, TypeFinished):
            c = event.counts
            print(
                f"{event.data_type.value}: {c.created} created, "
                f"{c.updated} updated, {c.unchanged} unchanged, "
                f"{c.failed} failed",
                flush=True,
            )
        elif isinstance(event, RunFinished):
            pass

    yield on_line


def _summary(args: argparse.Namespace, record: Any) -> None:
    if args.json:
        _print_json(_run_plain(record))
    else:
        line = f"run {record.id} {record.status.value}"
        failed = sum(c.failed for c in record.counts.values())
        if failed:
            # the bars on a terminal show no failures: the last line does
            line += (
                f", {failed} record{'s' if failed > 1 else ''} failed "
                "('ecomsync failures' lists them)"
            )
        if record.error:
            line += f": {record.error}"
        print(line)


#: Why standard output took no more writes, once it did not.
_stdout_lost: list[OSError] = []
#: Whether a line on standard error said so (and named the run).
_stdout_told: list[bool] = []


def _output_lost() -> OSError | None:
    """
    Why standard output failed, unless only because its reader left.
    """
    return next(
        (e for e in _stdout_lost if not isinstance(e, BrokenPipeError)), None
    )


def _lose_stdout(exc: OSError) -> None:
    """
    Standard output failed with *exc* (its reader left, its disk is
    full, it was closed before the start): what is still to be written
    to it goes nowhere.
    """
    _stdout_lost.append(exc)
    if sys.stdout is None:
        # Started with descriptor 1 closed (``>&-``): hold it with
        # os.devnull, so that no file the command opens (the SQLite
        # store) can become descriptor 1, and give print() a target.
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != 1:
            os.dup2(devnull, 1)
            os.close(devnull)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _emit(
    args: argparse.Namespace, record: Any, into: list[Any] | None
) -> None:
    """
    The summary of the run *record*: printed, or kept in *into*.
    """
    if into is not None and args.json:
        into.append(_run_plain(record))
    elif not _stdout_lost:
        try:
            _summary(args, record)
            sys.stdout.flush()
        except OSError as exc:
            _lose_stdout(exc)


async def _follow(
    args: argparse.Namespace,
    start: Callable[[], Any],
    *,
    into: list[Any] | None = None,
) -> int:
    """
    Show the run *start* opens, then its summary (appended to *into*
    instead, with ``--json``, when the caller prints several runs as one
    document); the exit code its end calls for.
    """
    events: Any = None
    try:
        with _progress(args) as show:
            async with start() as events:
                async for event in events:
                    if _stdout_lost:
                        continue
                    try:
                        show(event)
                    except OSError as exc:
                        # Progress is not the work: a reader gone (``|
                        # head``) or a full disk stops the lines, never
                        # the run.
                        _lose_stdout(exc)
    except EcomsyncError:
        # The run failed (credentials refused, the ERP lost) and is
        # recorded so: its summary still ends the output ("run ID
        # failed: ...", or its record with --json); the error is then
        # the line on standard error, exit 1.
        if events is not None and events.summary is not None:
            _emit(args, events.summary, into)
        raise
    record = events.summary
    assert record is not None
    code = _exit_of(
        record.status, sum(c.failed for c in record.counts.values())
    )
    _emit(args, record, into)
    lost = _output_lost()
    if lost is None:
        return code
    # Not a reader that left on purpose: whoever reads the output (a
    # script, a log) has not got it all, so the command cannot say "ok".
    _stdout_told.append(True)
    with contextlib.suppress(OSError):
        print(
            f"ecomsync {args.command}: standard output failed ({lost}); "
            f"run {record.id} {record.status.value}",
            file=sys.stderr,
        )
    return code if code != EXIT["ok"] else EXIT["failed"]


def _duration(text: str) -> timedelta:
    found = parse_duration(text)
    if found is None:
        raise UsageError(
            f"--every {text!r}: write a number with s, m, h or d (e.g. 15m)"
        )
    return found
