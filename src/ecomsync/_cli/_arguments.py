"""
The arguments of each config-file subcommand (argparse).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from ecomsync import DataType


#: The command line's name of each data type (its value everywhere).
TYPE_NAMES = {t.value: t for t in DataType}

#: A subcommand: its help, what adds its arguments, what runs it (and
#: returns the exit status).
Command: TypeAlias = tuple[
    str,
    Callable[[argparse.ArgumentParser], None],
    Callable[[argparse.Namespace], int],
]


def _positive(text: str) -> int:
    """
    A whole number of at least 1, or argparse's usage error (exit 2).
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"a whole number of at least 1 is required, not {text!r}"
        )
    return value


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


def _spec_arguments(
    parser: argparse.ArgumentParser, *, selection: bool = True
) -> None:
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
    if not selection:
        # a scheduled run reads what changed since its watermark
        parser.set_defaults(range=None, since=None, only=None, number=None)
        return
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
    which.add_argument(
        "--number",
        metavar="N",
        action="append",
        help="exactly this record number, as written (spaces and commas "
        "are part of it); repeat for several",
    )


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
        "--limit",
        type=_positive,
        default=50,
        help="runs listed (default: 50)",
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
        choices=["list", "add", "remove", "apply"],
        default="list",
        help="list (default), add or remove a schedule, or apply the "
        "config file's [[schedules]] now (serve does on start)",
    )
    _spec_arguments(p, selection=False)
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
    p.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="also write the library's log records (logger 'ecomsync': "
        "retries, abandoned runs, why a run failed) of this level and "
        "above to standard error (default: none)",
    )
