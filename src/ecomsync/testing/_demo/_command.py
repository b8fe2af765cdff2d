"""
``ecomsync demo`` as a command-line plugin.

The command line finds `DEMO` through the entry point
``[project.entry-points."ecomsync.cli"] demo`` in pyproject.toml, as
pytest finds its plugins: the product never imports the test kit, the
test kit plugs into it.  `DEMO` brings the arguments of ``ecomsync
demo``, what runs it, and the seeded ERP a config file names with
``type = "demo"``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import attrs

from ...typing import ErpSource
from .._seed import demo_erp


__all__ = ["DEMO", "SHOPS", "CommandPlugin"]

#: The shops the demo knows; ``auto`` is the first that can be built.
SHOPS = ("auto", "shopware6", "memory")


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """
    The arguments of ``ecomsync demo``.
    """
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


def run_demo_command(args: argparse.Namespace) -> int:
    """
    Run ``ecomsync demo``; the exit status.
    """
    if args.articles < 1:
        print("ecomsync demo: --articles must be at least 1", file=sys.stderr)
        return 2
    from ._run import run_demo

    interrupted = False

    async def main() -> None:
        # Ctrl-C is read as a signal and cancels the demo's scope, rather
        # than left to asyncio's handler: that one cancels the main task
        # natively, and a cancellation landing as one of the run's own
        # scopes ends could be taken for that scope's and lost (the demo
        # then ran to the end and exited 0).
        nonlocal interrupted
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                nonlocal interrupted
                with anyio.open_signal_receiver(signal.SIGINT) as signals:
                    async for _ in signals:
                        interrupted = True
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch)
            try:
                await run_demo(
                    articles=args.articles,
                    keep=args.keep,
                    shop=args.shop,
                    fancy=False if args.plain else None,
                )
            except Exception as exc:  # raised as itself, not in a group
                failure = exc
            tg.cancel_scope.cancel()
        if failure is not None:
            raise failure

    try:
        anyio.run(main)
    except FileExistsError as exc:
        print(f"ecomsync demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the signal receiver was in place
        interrupted = True
    if interrupted:
        print("ecomsync demo: interrupted", file=sys.stderr)
        return 130
    return 0


@attrs.frozen
class CommandPlugin:
    """
    What the command line needs of a contributed command (the shape
    ``ecomsync/_cli/_plugins.py`` expects).
    """

    #: One line for ``ecomsync --help``.
    help: str
    #: Adds the command's arguments to its subparser.
    add_arguments: Callable[[argparse.ArgumentParser], None]
    #: Runs the command; the exit status.
    run: Callable[[argparse.Namespace], int]
    #: The ERP a config file names with ``type = <the command's name>``,
    #: built from the table's checked keys; None if the command has none.
    erp: Callable[..., ErpSource] | None = None


#: ``ecomsync demo`` and the config file's ``type = "demo"`` ERP.
DEMO = CommandPlugin(
    help="synchronise a seeded ERP with a shop, in seconds, and clean up",
    add_arguments=add_demo_arguments,
    run=run_demo_command,
    erp=demo_erp,
)
