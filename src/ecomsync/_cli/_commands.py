"""
The subcommands over a config file: check, plan, sync, runs, cancel,
resume, failures, schedules, serve.

Exit codes (also in docs/cli.md):

- 0: done, nothing failed;
- 1: the work ran and failed (a run failed or was abandoned, a check
  found a problem);
- 2: a usage or configuration error (nothing ran);
- 3: the run finished but some records failed (see ``failures``);
- 4: the run was cancelled;
- 130: interrupted (Ctrl-C or SIGTERM while a run was in flight).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import anyio

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

from ._config import load


__all__ = ["COMMANDS", "EXIT"]

#: Exit codes by meaning.
EXIT = {
    "ok": 0,
    "failed": 1,
    "usage": 2,
    "records_failed": 3,
    "cancelled": 4,
    "interrupted": 130,
}

#: The command line's name of each data type (its value everywhere).
TYPE_NAMES = {t.value: t for t in DataType}


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path("ecomsync.toml"),
        metavar="FILE",
        help="the TOML config file (default: %(default)s)",
    )


def _json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON document on standard output, for scripts",
    )


def _spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "types",
        nargs="*",
        metavar="TYPE",
        help="data types: "
        + ", ".join(TYPE_NAMES)
        + " (default: every type the platform handles)",
    )
    parser.add_argument(
        "--platform", metavar="NAME", help="the platform (if several)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--range",
        metavar="FIRST..LAST",
        help="only numbers from FIRST to LAST, inclusive",
    )
    which.add_argument(
        "--since",
        metavar="MOMENT",
        help="only records changed since MOMENT (ISO 8601 with a zone, "
        "e.g. 2026-11-01T00:00+01:00)",
    )
    which.add_argument(
        "--only",
        metavar="N[,N...]",
        help="exactly these record numbers",
    )


class UsageError(Exception):
    """
    A bad option: exit 2 with the message.
    """


def _selection(args: argparse.Namespace) -> Any:
    if args.range:
        first, sep, last = args.range.partition("..")
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
            raise UsageError(
                f"--since {args.since!r}: give a zone, e.g. {args.since}+00:00"
            )
        return ChangedSince(moment)
    if args.only:
        numbers = {n.strip() for n in args.only.split(",") if n.strip()}
        if not numbers:
            raise UsageError("--only: name at least one number")
        return Only(numbers)
    return All()


def _spec(sync: Synchronizer, args: argparse.Namespace) -> SyncSpec:
    selection = _selection(args)
    names = list(args.types)
    unknown = [n for n in names if n not in TYPE_NAMES]
    if unknown:
        raise UsageError(
            f"unknown data type {', '.join(unknown)}; "
            f"choose from {', '.join(TYPE_NAMES)}"
        )
    platform = args.platform
    if platform is None and len(sync.platforms) == 1:
        platform = next(iter(sync.platforms))
    if names:
        types = [TYPE_NAMES[n] for n in names]
    else:
        if platform not in sync.platforms:
            raise UsageError(
                "several platforms: name one with --platform "
                f"({', '.join(sorted(sync.platforms))})"
            )
        types = [
            t for t in DataType if t in sync.platforms[platform].supported
        ]
    return SyncSpec(platform=platform, types=dict.fromkeys(types, selection))


# -- output -------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.isoformat(timespec="seconds")


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _run_plain(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "trigger": run.trigger.value,
        "platform": run.platform,
        "status": run.status.value,
        "started_at": _when(run.started_at),
        "ended_at": _when(run.ended_at),
        "schedule_id": run.schedule_id,
        "error": run.error,
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


# -- running ------------------------------------------------------------------


@asynccontextmanager
async def _opened(args: argparse.Namespace) -> AsyncIterator[Synchronizer]:
    sync = load(args.config)
    try:
        yield sync
    finally:
        with anyio.CancelScope(shield=True):
            for platform in sync.platforms.values():
                await platform.aclose()
            closer = getattr(sync.erp, "aclose", None)
            if closer is not None:
                await closer()
            await sync.store.aclose()


def _command(
    work: Callable[[Synchronizer, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            async with _opened(args) as sync:
                return await work(sync, args)

        try:
            return anyio.run(main)
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
        except BrokenPipeError:
            # The reader went away (``| head``): not an error of ours.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT["ok"]

    return run


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


def _summary(args: argparse.Namespace, record: Any) -> int:
    failed = sum(c.failed for c in record.counts.values())
    if args.json:
        _print_json(_run_plain(record))
    else:
        line = f"run {record.id} {record.status.value}"
        if record.error:
            line += f": {record.error}"
        print(line)
    return _exit_of(record.status, failed)


async def _follow(
    args: argparse.Namespace,
    start: Callable[[], Any],
) -> int:
    with _progress(args) as show:
        async with start() as events:
            async for event in events:
                show(event)
    record = events.summary
    assert record is not None
    return _summary(args, record)


# -- the commands -------------------------------------------------------------


async def _check(sync: Synchronizer, args: argparse.Namespace) -> int:
    result = await sync.check(args.platform)
    names = [args.platform] if args.platform else sorted(sync.platforms)
    parts = [("ERP", "ERP")] + [(n, f"platform {n!r}") for n in names]
    lines = []
    for part, prefix in parts:
        problems = [p for p in result.problems if p.startswith(prefix)]
        lines.append({"part": part, "ok": not problems, "problems": problems})
    other = [
        p
        for p in result.problems
        if not any(p.startswith(prefix) for _, prefix in parts)
    ]
    if other:
        lines.append({"part": "other", "ok": False, "problems": other})
    if args.json:
        _print_json({"ok": result.ok, "parts": lines})
    else:
        for line in lines:
            text = "ok" if line["ok"] else "; ".join(line["problems"])
            print(f"{line['part']}: {text}")
    return EXIT["ok"] if result.ok else EXIT["failed"]


async def _plan(sync: Synchronizer, args: argparse.Namespace) -> int:
    plan = await sync.plan(_spec(sync, args))
    if args.json:
        _print_json(
            {
                "platform": plan.platform,
                "requests": plan.requests,
                "types": {
                    t.value: {
                        "create": sorted(p.create),
                        "update": sorted(p.update),
                        "unchanged": len(p.unchanged),
                        "invalid": [str(i) for i in p.invalid],
                        "dependencies": sorted(p.dependencies),
                        "media_upload": p.media_upload,
                        "media_reused": p.media_reused,
                    }
                    for t, p in plan.types.items()
                },
            }
        )
    else:
        print(plan.table())
    return EXIT["ok"]


async def _sync(sync: Synchronizer, args: argparse.Namespace) -> int:
    spec = _spec(sync, args)
    return await _follow(args, lambda: sync.run(spec))


async def _resume(sync: Synchronizer, args: argparse.Namespace) -> int:
    await sync.runs()  # ends dead runs as abandoned first
    return await _follow(args, lambda: sync.resume(args.run_id))


async def _cancel(sync: Synchronizer, args: argparse.Namespace) -> int:
    run = await sync.store.get_run(args.run_id)
    if run is None:
        raise UsageError(f"there is no run {args.run_id!r}")
    await sync.cancel(args.run_id)
    print(f"run {args.run_id}: cancel requested")
    return EXIT["ok"]


async def _runs(sync: Synchronizer, args: argparse.Namespace) -> int:
    if args.run_id is not None:
        runs = await sync.runs(limit=1_000_000)
        found = [r for r in runs if r.id == args.run_id]
        if not found:
            raise UsageError(f"there is no run {args.run_id!r}")
        run = found[0]
        if args.json:
            _print_json(_run_plain(run))
            return EXIT["ok"]
        plain = _run_plain(run)
        for key in (
            "id",
            "trigger",
            "platform",
            "status",
            "started_at",
            "ended_at",
        ):
            print(f"{key}: {plain[key]}")
        if run.error:
            print(f"error: {run.error}")
        for t, c in run.counts.items():
            print(
                f"{t.value}: {c.created} created, {c.updated} updated, "
                f"{c.unchanged} unchanged, {c.failed} failed"
            )
        for f in run.failures:
            print(f"failed: {f.data_type.value} {f.number}: {f.message}")
        return EXIT["ok"]
    runs = await sync.runs(limit=args.limit)
    if args.json:
        _print_json([_run_plain(r) for r in runs])
        return EXIT["ok"]
    for r in runs:
        print(
            f"{r.id}  {r.status.value:<10} {r.trigger.value:<9} "
            f"{r.platform}  {_when(r.started_at)}"
        )
    return EXIT["ok"]


async def _failures(sync: Synchronizer, args: argparse.Namespace) -> int:
    names = [args.platform] if args.platform else sorted(sync.platforms)
    ledger = {n: await sync.store.list_failures(n) for n in names}
    if args.action == "retry":
        total = 0
        code = EXIT["ok"]
        for name, failures in ledger.items():
            if not failures:
                continue
            by_type: dict[DataType, set[str]] = {}
            for f in failures:
                by_type.setdefault(f.data_type, set()).add(f.number)
            spec = SyncSpec(
                platform=name,
                types={t: Only(n) for t, n in by_type.items()},
            )
            total += len(failures)
            code = max(code, await _follow(args, partial(sync.run, spec)))
        if not total and not args.json:
            print("the failure ledger is empty")
        return code
    if args.json:
        _print_json(
            [
                {
                    "platform": n,
                    "type": f.data_type.value,
                    "number": f.number,
                    "field": f.field,
                    "message": f.message,
                    "run_id": f.run_id,
                }
                for n, failures in ledger.items()
                for f in failures
            ]
        )
        return EXIT["ok"]
    for n, failures in ledger.items():
        for f in failures:
            print(f"{n}  {f.data_type.value} {f.number}: {f.message}")
    return EXIT["ok"]


def _duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return timedelta(seconds=float(text))
    except (ValueError, IndexError):
        raise UsageError(
            f"--every {text!r}: write a number with s, m, h or d (e.g. 15m)"
        ) from None


async def _schedules(sync: Synchronizer, args: argparse.Namespace) -> int:
    action = args.action or "list"
    if action == "add":
        if (args.every is None) == (args.cron is None):
            raise UsageError("schedules add needs --every or --cron")
        schedule = await sync.add_schedule(
            _spec(sync, args),
            every=None if args.every is None else _duration(args.every),
            cron=args.cron,
            zone=args.zone,
            schedule_id=args.id,
        )
        if args.json:
            _print_json({"id": schedule.id})
        else:
            print(f"schedule {schedule.id} added")
        return EXIT["ok"]
    if action == "remove":
        remove = getattr(sync.store, "delete_schedule", None)
        if remove is None:
            raise UsageError("this store cannot remove schedules")
        if not await remove(args.id):
            raise UsageError(f"there is no schedule {args.id!r}")
        print(f"schedule {args.id} removed")
        return EXIT["ok"]
    schedules = await sync.store.list_schedules()
    if args.json:
        _print_json(
            [
                {
                    "id": s.id,
                    "platform": s.spec.platform,
                    "types": [t.value for t in s.spec.types],
                    "interval_s": s.interval.total_seconds(),
                    "cron": s.cron,
                    "zone": s.zone,
                    "next_due": _when(s.next_due),
                }
                for s in schedules
            ]
        )
        return EXIT["ok"]
    for s in schedules:
        types = ",".join(t.value for t in s.spec.types)
        rule = (
            f"every {s.interval}"
            if s.cron is None
            else f"cron '{s.cron}' {s.zone or 'UTC'}"
        )
        print(
            f"{s.id}  {rule}  next {_when(s.next_due)}  "
            f"{s.spec.platform}  {types}"
        )
    return EXIT["ok"]


async def _serve(sync: Synchronizer, args: argparse.Namespace) -> int:
    def on_event(event: Event) -> None:
        if isinstance(event, RunStarted):
            print(f"run {event.run_id} started", flush=True)
        elif isinstance(event, RunFinished):
            print(f"run {event.run_id} {event.status.value}", flush=True)

    stopped = False
    async with anyio.create_task_group() as tg:

        async def stop_on_signal() -> None:
            nonlocal stopped
            with anyio.open_signal_receiver(
                signal.SIGTERM, signal.SIGINT
            ) as signals:
                async for signum in signals:
                    print(
                        f"ecomsync serve: {signal.Signals(signum).name}, "
                        "stopping",
                        file=sys.stderr,
                        flush=True,
                    )
                    stopped = True
                    tg.cancel_scope.cancel()
                    return

        async def serve() -> None:
            await sync.serve(poll_interval=args.poll, on_event=on_event)

        tg.start_soon(stop_on_signal)
        print(
            f"ecomsync serve: serving schedules (since "
            f"{datetime.now(UTC).isoformat(timespec='seconds')})",
            flush=True,
        )
        tg.start_soon(serve)
    return EXIT["ok"] if stopped else EXIT["failed"]


# -- the table ----------------------------------------------------------------


def _add_check(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    _json_argument(p)
    p.add_argument("--platform", metavar="NAME", help="check only this one")


def _add_plan(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    _json_argument(p)
    _spec_arguments(p)


def _add_sync(p: argparse.ArgumentParser) -> None:
    _add_plan(p)
    p.add_argument("--plain", action="store_true", help="no progress bars")


def _add_resume(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    _json_argument(p)
    p.add_argument("run_id", metavar="RUN", help="the run to resume")
    p.add_argument("--plain", action="store_true", help="no progress bars")


def _add_cancel(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    p.add_argument("run_id", metavar="RUN", help="the run to cancel")


def _add_runs(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    _json_argument(p)
    p.add_argument(
        "show", nargs="?", choices=["show"], help="show one run in full"
    )
    p.add_argument("run_id", nargs="?", metavar="RUN", help="the run to show")
    p.add_argument(
        "--limit", type=int, default=50, help="runs listed (default: 50)"
    )


def _add_failures(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    _json_argument(p)
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "retry"],
        default="list",
        help="list the ledger (default) or sync its records again",
    )
    p.add_argument("--platform", metavar="NAME", help="only this platform")
    p.add_argument("--plain", action="store_true", help="no progress bars")


def _add_schedules(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    _json_argument(p)
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "add", "remove"],
        default="list",
        help="list (default), add or remove a schedule",
    )
    _spec_arguments(p)
    p.add_argument("--every", metavar="DURATION", help="e.g. 30s, 15m, 1h, 1d")
    p.add_argument(
        "--cron",
        metavar="RULE",
        help="a 5-field cron rule instead of --every, e.g. '0 2 * * *' "
        "(extra cron)",
    )
    p.add_argument(
        "--zone",
        metavar="ZONE",
        help="the time zone of --cron, e.g. Europe/Berlin (default: UTC)",
    )
    p.add_argument("--id", metavar="ID", help="the schedule's id")


def _add_serve(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    p.add_argument(
        "--poll",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often to look for due schedules (default: %(default)s)",
    )


def _runs_command(args: argparse.Namespace) -> int:
    if args.show and args.run_id is None:
        print("ecomsync runs show: name a RUN", file=sys.stderr)
        return EXIT["usage"]
    if args.show is None and args.run_id is not None:
        print("ecomsync runs: write 'runs show RUN'", file=sys.stderr)
        return EXIT["usage"]
    return _command(_runs)(args)


def _schedules_command(args: argparse.Namespace) -> int:
    if args.action == "remove" and not args.id:
        print("ecomsync schedules remove: name it with --id", file=sys.stderr)
        return EXIT["usage"]
    return _command(_schedules)(args)


#: name -> (help, add arguments, run), merged into ``ecomsync.__main__``.
COMMANDS: dict[
    str,
    tuple[
        str,
        Callable[[argparse.ArgumentParser], None],
        Callable[[argparse.Namespace], int],
    ],
] = {
    "check": (
        "check every connection and credential, one line each",
        _add_check,
        _command(_check),
    ),
    "plan": (
        "preview what a sync would do, writing nothing",
        _add_plan,
        _command(_plan),
    ),
    "sync": ("synchronise now, with progress", _add_sync, _command(_sync)),
    "runs": (
        "list runs, or 'runs show RUN' with counts and failures",
        _add_runs,
        _runs_command,
    ),
    "cancel": (
        "stop a run, whichever process runs it",
        _add_cancel,
        _command(_cancel),
    ),
    "resume": (
        "continue a run whose process died",
        _add_resume,
        _command(_resume),
    ),
    "failures": (
        "list the failure ledger, or 'failures retry'",
        _add_failures,
        _command(_failures),
    ),
    "schedules": (
        "list, add or remove schedules",
        _add_schedules,
        _schedules_command,
    ),
    "serve": (
        "run due schedules until stopped (SIGTERM or Ctrl-C)",
        _add_serve,
        _command(_serve),
    ),
}
