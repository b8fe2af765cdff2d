"""
Commands other packages contribute to the command line, found through
entry points as pytest finds its plugins.

A distribution declares one in its metadata::

    [project.entry-points."ecomsync.cli"]
    demo = "ecomsync.testing._demo._command:DEMO"

The name is the subcommand; the object (a `Plugin`) brings its one-line
help, what adds its arguments, what runs it and, optionally, the ERP a
config file names with ``type = <name>``.  ``ecomsync demo`` comes this
way from the test kit, which the product never imports.  A plugin is
loaded only when its command is chosen (or ``ecomsync --help`` lists
them all), so other commands load none of it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, cast

from ecomsync.exceptions import ConfigurationError
from ecomsync.typing import ErpSource

from ._arguments import Command


__all__ = ["GROUP", "OWN", "Plugin", "commands", "erp_of_plugin", "missing"]

#: The entry-point group of contributed commands.
GROUP = "ecomsync.cli"
#: The commands ecomsync's own distribution contributes (pyproject.toml):
#: when one is missing, ecomsync is on ``sys.path`` without being
#: installed, so its entry points are not there.
OWN = ("demo",)
_INSTALL = (
    "it comes from ecomsync's entry points, which are missing: install "
    "ecomsync (python -m pip install ecomsync, or python -m pip install "
    "-e . in a checkout)"
)


class Plugin(Protocol):
    """
    What a contributed command brings.
    """

    @property
    def help(self) -> str: ...

    @property
    def add_arguments(self) -> Callable[[argparse.ArgumentParser], None]: ...

    @property
    def run(self) -> Callable[[argparse.Namespace], int]: ...

    @property
    def erp(self) -> Callable[..., ErpSource] | None: ...


def _found() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUP):
        found.setdefault(point.name, point)
    return found


def _load(point: EntryPoint) -> Plugin:
    return cast(Plugin, point.load())


def missing(name: str) -> str | None:
    """
    If *name* is one of ecomsync's own contributed commands and its entry
    point is missing, the one line that says how to install.
    """
    if name in OWN and name not in _found():
        return f"ecomsync {name}: {_INSTALL}"
    return None


def _missing(name: str) -> Command:
    def run(_: argparse.Namespace) -> int:
        print(f"ecomsync {name}: {_INSTALL}", file=sys.stderr)
        return 2

    return (f"not available: {_INSTALL}", lambda _: None, run)


def _unused(_: argparse.Namespace) -> int:  # pragma: no cover - never chosen
    raise AssertionError("a command that was not chosen ran")


def commands(
    chosen: str | None = None, *, builtin: Collection[str] = ()
) -> dict[str, Command]:
    """
    The contributed commands (ecomsync's own first), but for those named
    like a *builtin* one, loading only *chosen*'s plugin, or every plugin
    if *chosen* is None (for the help); one of ecomsync's own that is
    missing says how to install.
    """
    found = _found()
    names = [*OWN, *sorted(n for n in found if n not in OWN)]
    names = [n for n in names if n not in builtin]
    table: dict[str, Command] = {}
    for name in names:
        if chosen is not None and name != chosen:
            table[name] = ("", lambda _: None, _unused)
        elif name not in found:
            table[name] = _missing(name)
        else:
            plugin = _load(found[name])
            table[name] = (plugin.help, plugin.add_arguments, plugin.run)
    return table


def erp_of_plugin(name: str) -> Callable[..., ErpSource]:
    """
    The ERP factory that the plugin *name* contributes for a config
    file's ``type = <name>``.
    """
    point = _found().get(name)
    erp = None if point is None else _load(point).erp
    if erp is None:
        raise ConfigurationError(f"type {name!r}: {_INSTALL}")
    return erp
