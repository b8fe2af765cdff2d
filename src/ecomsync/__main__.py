"""
The ``ecomsync`` command (also ``python -m ecomsync``).

Subcommands live in `COMMANDS`: each entry names a function that adds its
arguments to a subparser and a function that runs it and returns the exit
status.  Add a new subcommand (``worker``, ...) by adding an entry.
``demo`` runs on the test kit, reached only through ``_cli/_demo.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ._cli._arguments import Command
from ._cli._commands import COMMANDS as _CONFIG_COMMANDS
from ._cli._demo import add_demo_arguments, run_demo_command
from ._worker import add_worker_arguments, run_worker_command


__all__ = ["COMMANDS", "main"]


#: name -> (help, add arguments, run).
COMMANDS: dict[str, Command] = {
    "demo": (
        "synchronise a seeded ERP with a shop, in seconds, and clean up",
        add_demo_arguments,
        run_demo_command,
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
