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
- 130: interrupted (Ctrl-C or SIGTERM; ``serve`` exits 0 on them).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio
import anyio.abc
import attrs

from ecomsync import (
    DataType,
    Only,
    RunRecord,
    RunStatus,
    Synchronizer,
    SyncSpec,
)
from ecomsync._check import erp_problems, platform_problems
from ecomsync._run import asked_by
from ecomsync.events import (
    Event,
    RunFinished,
    RunStarted,
)
from ecomsync.exceptions import EcomsyncError, NoFreeLicense

from ._arguments import (
    Command,
    _add_cancel,
    _add_check,
    _add_failures,
    _add_plan,
    _add_resume,
    _add_runs,
    _add_schedules,
    _add_serve,
    _add_sync,
)
from ._config_schedules import (
    PREFIX,
    reconcile,
    rule_problems,
    schedules_of,
)
from ._running import (
    EXIT,
    UsageError,
    _command,
    _duration,
    _follow,
    _print_json,
    _run_plain,
    _spec,
    _when,
    known_platform,
    worst_exit,
)


__all__ = ["COMMANDS", "EXIT"]


def _problem(exc: Exception) -> str:
    if isinstance(exc, EcomsyncError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def _store_problems(sync: Synchronizer) -> list[str]:
    try:
        await sync.store.list_schedules()
    except Exception as exc:
        return [_problem(exc)]
    return []


async def _license_problems(
    sync: Synchronizer,
) -> tuple[list[str], NoFreeLicense | None]:
    """
    The licence pool's problems, and whether every licence was in use
    (by runs: the pool works, it is busy).
    """
    try:
        async with sync.licenses.lease(
            f"check-{uuid.uuid4().hex[:6]}", timeout=sync.license_timeout
        ):
            pass
    except NoFreeLicense as exc:
        return [], exc
    except Exception as exc:
        return [_problem(exc)], None
    return [], None


async def _check(sync: Synchronizer, args: argparse.Namespace) -> int:
    platform = known_platform(sync, args.platform)
    names = [platform] if platform else sorted(sync.platforms)
    licence_problems, busy = await _license_problems(sync)
    # part, problems, and what to say instead of "ok" (still ok)
    found: list[tuple[str, list[str], str | None]] = [
        ("store", await _store_problems(sync), None),
        (
            "licenses",
            licence_problems,
            None if busy is None else f"in use: {busy}",
        ),
        # loading checked their platforms and types; this their rules
        ("schedules", rule_problems(sync, schedules_of(args.config)), None),
    ]
    if busy is None:
        erp = await erp_problems(sync.erp, sync.licenses, sync.license_timeout)
        found.append(("ERP", [p.removeprefix("ERP: ") for p in erp], None))
    else:
        # Every licence is held by runs, which use the ERP: waiting as
        # long again to check it would only delay a gate (ExecStartPre).
        found.append(("ERP", [], "not checked: no licence is free"))
    for name in names:
        # the line names the part: "shop: Shopware at ... refused ..."
        problems = await platform_problems(name, sync.platforms[name])
        prefix = f"platform {name!r}: "
        found.append((name, [p.removeprefix(prefix) for p in problems], None))
    lines = [
        {"part": part, "ok": not problems, "problems": problems, "note": note}
        for part, problems, note in found
    ]
    ok = all(not problems for _, problems, _ in found)
    if args.json:
        _print_json({"ok": ok, "parts": lines})
    else:
        for part, problems, note in found:
            said = "; ".join(problems) if problems else note or "ok"
            print(f"{part}: {said}")
    return EXIT["ok"] if ok else EXIT["failed"]


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
    if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        raise UsageError(
            f"run {args.run_id!r} ended ({run.status.value}); nothing to "
            "cancel"
        )
    await sync.cancel(args.run_id, reason=asked_by("ecomsync cancel", None))
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
            value = plain[key]
            print(f"{key}: {'-' if value is None else value}")
        if run.owner is not None and not run.status.finished:
            print(
                f"owner: {run.owner} "
                f"(last heartbeat {_when(run.heartbeat_at)})"
            )
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
    named = known_platform(sync, args.platform)
    names = [named] if named else sorted(sync.platforms)
    ledger = {n: await sync.store.list_failures(n) for n in names}
    if args.action == "retry":
        total = 0
        code = EXIT["ok"]
        # --json: one document, a list of the retry runs (one per
        # platform with failures; none when the ledger is empty)
        runs: list[Any] = []
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
            try:
                code = worst_exit(
                    code,
                    await _follow(args, partial(sync.run, spec), into=runs),
                )
            except EcomsyncError:
                if args.json:
                    _print_json(runs)  # with the run that failed
                raise
        if args.json:
            _print_json(runs)
        elif not total:
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
    if not any(ledger.values()):
        print("the failure ledger is empty")
    return EXIT["ok"]


async def _schedules(sync: Synchronizer, args: argparse.Namespace) -> int:
    action = args.action or "list"
    if action == "apply":
        done = await reconcile(sync, schedules_of(args.config))
        if args.json:
            _print_json(attrs.asdict(done))
        else:
            for line in done.lines() or ["the config file names no schedules"]:
                print(line)
        return EXIT["ok"]
    if action == "add":
        if (args.every is None) == (args.cron is None):
            raise UsageError("schedules add needs --every or --cron")
        if args.id and args.id.startswith(PREFIX):
            raise UsageError(
                f"ids starting with {PREFIX!r} belong to the config file's "
                "[[schedules]]; choose another --id"
            )
        # an --id the store has is replaced (a new rule for it): say so
        replaced = args.id is not None and any(
            s.id == args.id for s in await sync.store.list_schedules()
        )
        schedule = await sync.add_schedule(
            _spec(sync, args),
            every=None if args.every is None else _duration(args.every),
            cron=args.cron,
            zone=args.zone,
            schedule_id=args.id,
        )
        if args.json:
            _print_json({"id": schedule.id, "replaced": replaced})
        else:
            print(
                f"schedule {schedule.id} {'replaced' if replaced else 'added'}"
            )
        return EXIT["ok"]
    if action == "remove":
        if not await sync.store.delete_schedule(args.id):
            raise UsageError(f"there is no schedule {args.id!r}")
        comes_back = args.id.startswith(PREFIX)
        if args.json:
            _print_json({"id": args.id, "removed": True})
            return EXIT["ok"]
        print(f"schedule {args.id} removed")
        if comes_back:
            print(
                "it comes back when 'serve' starts if the config file "
                "still names it"
            )
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
            f"every {_span(s.interval)}"
            if s.cron is None
            else f"cron '{s.cron}' {s.zone or 'UTC'}"
        )
        print(
            f"{s.id}  {rule}  next {_when(s.next_due)}  "
            f"{s.spec.platform}  {types}"
        )
    return EXIT["ok"]


async def _serve(sync: Synchronizer, args: argparse.Namespace) -> int:
    # runs started whose end this process has not printed yet
    going: set[str] = set()

    def on_event(event: Event) -> None:
        if isinstance(event, RunStarted):
            going.add(event.run_id)
            # which schedule: its platform and data types
            types = ",".join(t.value for t in event.spec.types)
            print(
                f"run {event.run_id} started: {event.platform} {types}",
                flush=True,
            )
        elif isinstance(event, RunFinished):
            going.discard(event.run_id)
            _print_end(event.run)

    if args.log_level:
        _log_to_stderr(args.log_level)
    installed = await reconcile(sync, schedules_of(args.config))
    for line in installed.lines():
        print(f"ecomsync serve: {line}", flush=True)
    stopped = False
    async with anyio.create_task_group() as tg:

        async def stop_on_signal(
            *, task_status: anyio.abc.TaskStatus[None]
        ) -> None:
            nonlocal stopped
            with anyio.open_signal_receiver(
                signal.SIGTERM, signal.SIGINT
            ) as signals:
                # handlers are in place before the ready line is printed
                task_status.started()
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

        await tg.start(stop_on_signal)
        print(
            f"ecomsync serve: serving schedules (since "
            f"{datetime.now(UTC).isoformat(timespec='seconds')})",
            flush=True,
        )
        tg.start_soon(serve)
    # Stopped while runs were going: they ended (cancelled) under the
    # stop, their end event undelivered; say how the store has them.
    for run_id in sorted(going):
        run = await sync.store.get_run(run_id)
        if run is not None:
            _print_end(run)
    return EXIT["ok"] if stopped else EXIT["failed"]


def _log_to_stderr(level: str) -> None:
    """
    The ``ecomsync`` logger's records of *level* and above, one line each
    on standard error (a service's journal); other loggers untouched.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger = logging.getLogger("ecomsync")
    logger.addHandler(handler)
    logger.setLevel(level.upper())


def _print_end(run: RunRecord) -> None:
    """
    ``run ID STATUS``, with the error of a run that failed.
    """
    error = f": {run.error}" if run.error else ""
    print(f"run {run.id} {run.status.value}{error}", flush=True)


def _span(interval: timedelta) -> str:
    """
    *interval* as ``--every`` takes it: ``15m``, ``2h``, ``1d``, ``90s``.
    """
    seconds = interval.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


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
COMMANDS: dict[str, Command] = {
    "check": (
        "check the store, licences, schedules, ERP and every platform "
        "(connections and credentials), one line each",
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
