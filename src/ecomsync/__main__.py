"""
The ``ecomsync`` command (also ``python -m ecomsync``).

Subcommands live in `COMMANDS`: each entry names a function that adds its
arguments to a subparser and a function that runs it and returns the exit
status.  Add a new subcommand (``worker``, ...) by adding an entry.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from ._cli._commands import COMMANDS as _CONFIG_COMMANDS
from ._demo import SHOPS
from ._worker import add_worker_arguments, run_worker_command


__all__ = ["COMMANDS", "main"]


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--articles",
        type=int,
        default=2000,
        metavar="N",
        help="articles in the seeded ERP (default: %(default)s)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="DIR",
        help="work in DIR (new or empty) and keep the state store there, "
        "instead of a temporary directory that is removed",
    )
    parser.add_argument(
        "--shop",
        choices=SHOPS,
        default="auto",
        help="the platform: the Shopware 6 emulator in process (needs the "
        "extra 'testing'), the in-memory platform, or the first of these "
        "that is available (default: %(default)s)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="plain lines instead of progress bars and tables",
    )


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    if args.articles < 1:
        print("ecomsync demo: --articles must be at least 1", file=sys.stderr)
        return 2
    try:
        anyio.run(
            lambda: run_demo(
                articles=args.articles,
                keep=args.keep,
                shop=args.shop,
                fancy=False if args.plain else None,
            )
        )
    except FileExistsError as exc:
        print(f"ecomsync demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecomsync demo: interrupted", file=sys.stderr)
        return 130
    return 0


#: name -> (help, add arguments, run).
COMMANDS: dict[
    str,
    tuple[
        str,
        Callable[[argparse.ArgumentParser], None],
        Callable[[argparse.Namespace], int],
    ],
] = {
    "demo": (
        "synchronise a seeded ERP with a shop, in seconds, and clean up",
        _demo_arguments,
        _demo,
    ),
    **_CONFIG_COMMANDS,
    "worker": (
        "work on partitioned runs from a shared PostgreSQL",
        add_worker_arguments,
        run_worker_command,
    ),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecomsync",
        description="Synchronise an ERP with the online shops a merchant "
        "sells on.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the ``ecomsync`` command line; return the exit status.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
