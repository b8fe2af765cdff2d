"""
The config file's ``[[schedules]]``: read, and installed into the store
(`reconcile`) when ``ecomsync serve`` starts or on
``ecomsync schedules apply``.

A schedule of the file is stored under the id ``config:NAME``; that
prefix marks it as the file's.  Installing is idempotent: a schedule the
store already has with the same data types, platform and rule is left
alone (its next due time too), a changed one is saved again (due anew),
a ``config:`` schedule the file no longer names is removed.  Schedules
added with ``ecomsync schedules add`` (any other id) are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from ecomsync import All, DataType, Synchronizer, SyncSpec
from ecomsync._schedules import new_schedule
from ecomsync.exceptions import ConfigurationError

from ._config_table import Table, load_config


__all__ = [
    "PREFIX",
    "Reconciled",
    "Wanted",
    "check_schedules",
    "parse_schedules",
    "reconcile",
    "rule_problems",
    "schedules_of",
]

#: The id prefix of the schedules the config file installs.
PREFIX = "config:"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

_SELECTIONS = ("range", "since", "only", "selection")


@attrs.frozen
class Wanted:
    """
    One ``[[schedules]]`` entry.
    """

    name: str
    platform: str | None
    types: tuple[str, ...] | None
    every: timedelta | None
    cron: str | None
    zone: str | None
    force: bool

    @property
    def id(self) -> str:
        """
        The id it is stored under.
        """
        return f"{PREFIX}{self.name}"


def _entry(table: Table) -> Wanted:
    for key in _SELECTIONS:
        if key in table.data:
            raise ConfigurationError(
                f"{table.where}.{key}: a schedule takes no selection: each "
                "scheduled run reads what changed since the type's last "
                "scheduled run (its watermark), and everything the first "
                "time"
            )
    name = table.text("name")
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{table.where}.name: {name!r}: use letters, digits, '_', '.' "
            "and '-'"
        )
    types = table.texts("types")
    names = {t.value for t in DataType}
    for value in types or ():
        if value not in names:
            raise ConfigurationError(
                f"{table.where}.types: unknown data type {value!r}; choose "
                f"from {', '.join(t.value for t in DataType)}"
            )
    every = table.seconds("every", None)
    cron = table.text("cron", None)
    zone = table.text("zone", None)
    if (every is None) == (cron is None):
        raise ConfigurationError(
            f'{table.where}: give every (e.g. "15m") or cron '
            '(e.g. "0 2 * * *"), one of them'
        )
    if zone is not None and cron is None:
        raise ConfigurationError(
            f"{table.where}.zone: a time zone applies to cron rules only"
        )
    wanted = Wanted(
        name=name,
        platform=table.text("platform", None),
        types=types,
        every=every,
        cron=cron,
        zone=zone,
        force=table.flag("force", False),
    )
    table.done()
    return wanted


def parse_schedules(data: Mapping[str, Any], base: Path) -> list[Wanted]:
    """
    The ``[[schedules]]`` of a config file's *data*.
    """
    value = data.get("schedules", [])
    if not isinstance(value, list) or not all(
        isinstance(v, Mapping) for v in value
    ):
        raise ConfigurationError(
            "schedules: an array of tables ([[schedules]]) is required"
        )
    wanted: list[Wanted] = []
    for i, item in enumerate(value):
        entry = _entry(Table.of(item, f"schedules[{i}]", base))
        if any(w.name == entry.name for w in wanted):
            raise ConfigurationError(
                f"schedules[{i}].name: {entry.name!r} is used twice"
            )
        wanted.append(entry)
    return wanted


def schedules_of(path: Path) -> list[Wanted]:
    """
    The ``[[schedules]]`` of the config file at *path*.
    """
    return parse_schedules(load_config(path), path.parent)


def check_schedules(sync: Synchronizer, wanted: list[Wanted]) -> None:
    """
    Refuse a schedule *sync* could not run (platform, data types).
    """
    for i, w in enumerate(wanted):
        spec = _spec(sync, w, f"schedules[{i}]")
        try:
            sync.validate(spec)
        except ConfigurationError as exc:
            raise ConfigurationError(f"schedules[{i}]: {exc}") from None


def rule_problems(sync: Synchronizer, wanted: list[Wanted]) -> list[str]:
    """
    What ``serve`` would refuse in the rules of *wanted* (a cron rule or
    time zone it cannot read), in the words `reconcile` uses; read by the
    code that installs them, without storing anything.
    """
    problems: list[str] = []
    for i, w in enumerate(wanted):
        try:
            new_schedule(
                _spec(sync, w, f"schedules[{i}]"),
                now=sync.clock(),
                every=w.every,
                first_due=None,
                schedule_id=w.id,
                cron=w.cron,
                zone=w.zone,
            )
        except ConfigurationError as exc:
            problems.append(f"schedule {w.name!r}: {exc}")
    return problems


def _spec(sync: Synchronizer, wanted: Wanted, where: str) -> SyncSpec:
    platform = wanted.platform
    if platform is None:
        if len(sync.platforms) != 1:
            raise ConfigurationError(
                f"{where}.platform: name one of "
                f"{', '.join(sorted(sync.platforms))}"
            )
        platform = next(iter(sync.platforms))
    if platform not in sync.platforms:
        raise ConfigurationError(
            f"{where}.platform: {platform!r} is not one of "
            f"{', '.join(sorted(sync.platforms))}"
        )
    if wanted.types is None:
        types = [
            t for t in DataType if t in sync.platforms[platform].supported
        ]
    else:
        types = [DataType(t) for t in wanted.types]
    return SyncSpec(
        platform=platform,
        types=dict.fromkeys(types, All()),
        force=wanted.force,
    )


@attrs.frozen
class Reconciled:
    """
    What `reconcile` did, by schedule id.
    """

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """
        One line per schedule, for people.
        """
        return [
            f"schedule {i} {what}"
            for what, ids in (
                ("added", self.added),
                ("changed", self.changed),
                ("unchanged", self.unchanged),
                ("removed", self.removed),
            )
            for i in ids
        ]


async def reconcile(sync: Synchronizer, wanted: list[Wanted]) -> Reconciled:
    """
    Make the store's ``config:`` schedules those of *wanted*.
    """
    specs = {
        w.id: _spec(sync, w, f"schedules[{i}]") for i, w in enumerate(wanted)
    }
    stored = {s.id: s for s in await sync.store.list_schedules()}
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    for w in wanted:
        spec = specs[w.id]
        old = stored.get(w.id)
        if (
            old is not None
            and old.spec == spec
            and old.interval == (w.every or timedelta(0))
            and old.cron == w.cron
            and old.zone == w.zone
        ):
            unchanged.append(w.id)
            continue
        try:
            await sync.add_schedule(
                spec,
                every=w.every,
                cron=w.cron,
                zone=w.zone,
                schedule_id=w.id,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"schedule {w.name!r}: {exc}") from None
        (added if old is None else changed).append(w.id)
    removed: list[str] = []
    gone = sorted(i for i in stored if i.startswith(PREFIX) and i not in specs)
    for schedule_id in gone:
        if await sync.store.delete_schedule(schedule_id):
            removed.append(schedule_id)
    return Reconciled(
        tuple(added), tuple(changed), tuple(unchanged), tuple(removed)
    )
