"""
The ``ecomsync`` command (also ``python -m ecomsync``).

Subcommands live in `COMMANDS`: each entry names a function that adds its
arguments to a subparser and a function that runs it and returns the exit
status.  Add a new subcommand (``worker``, ...) by adding an entry.
Other packages contribute commands through the entry-point group
``ecomsync.cli`` (``_cli/_plugins.py``): ``demo`` comes that way from the
test kit, which the product never imports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ._cli._arguments import Command
from ._cli._commands import COMMANDS as _CONFIG_COMMANDS
from ._cli._plugins import commands as _plugins
from ._cli._plugins import missing as _missing
from ._worker import add_worker_arguments, run_worker_command


__all__ = ["COMMANDS", "main"]


#: name -> (help, add arguments, run).
COMMANDS: dict[str, Command] = {
    **_CONFIG_COMMANDS,
    "worker": (
        "work on partitioned runs from a shared PostgreSQL",
        add_worker_arguments,
        run_worker_command,
    ),
}


def _parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """
    The parser of every command; of the contributed ones, only *chosen*'s
    plugin is loaded (all of them if *chosen* is None).
    """
    parser = argparse.ArgumentParser(
        prog="ecomsync",
        description="Synchronise an ERP with the online shops a merchant "
        "sells on.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    contributed = _plugins(chosen, builtin=COMMANDS)
    for name, (help_text, add_arguments, run) in {
        **contributed,
        **COMMANDS,
    }.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the ``ecomsync`` command line; return the exit status.
    """
    given = sys.argv[1:] if argv is None else list(argv)
    if len(given) > 2 and given[0] in ("-c", "--config"):
        # `ecomsync -c FILE COMMAND ...`, as `git -C`: the command's own
        # option, moved behind it
        given = [given[2], *given[:2], *given[3:]]
    chosen = given[0] if given and not given[0].startswith("-") else None
    problem = None if chosen is None else _missing(chosen)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    parser = _parser(chosen)
    args = parser.parse_args(given)
    if args.command is None:
        parser.print_help()
        return 2
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
