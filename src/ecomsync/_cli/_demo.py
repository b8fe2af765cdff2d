"""
The one door from the product into the test kit.

``ecomsync demo`` is a demonstration built on the emulators and seeded
data of `ecomsync.testing`, and lives there (``testing/_demo``); so does
the seeded ERP a config file names with ``type = "demo"``.  This module
launches both, importing the test kit only when one of them is used:
importing ``ecomsync`` or the command line loads none of it.  No other
product module imports the test kit (tests/engine/test_architecture.py
checks both rules).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio


if TYPE_CHECKING:
    from ..typing import ErpSource


__all__ = ["SHOPS", "add_demo_arguments", "demo_erp", "run_demo_command"]

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
    from ..testing._demo import run_demo

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


def demo_erp(*, articles: int, categories: int) -> ErpSource:
    """
    The seeded in-memory ERP of a config file's ``type = "demo"``
    (`ecomsync.testing.demo_erp`).
    """
    from ..testing import demo_erp as seeded

    return seeded(articles=articles, categories=categories)
