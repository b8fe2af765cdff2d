"""
Rows and records: how both built-in stores turn what they keep into the
records of `ecomsync` and back (a run is kept as JSON, its heartbeat in a
column of its own).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .._contracts import (
    Failure,
    Link,
    PendingMedia,
    RunOwner,
    RunRecord,
    RunStatus,
    Schedule,
    TypeCounts,
)
from .._spec import DataType, Trigger, spec_from_plain, spec_to_plain


__all__ = [
    "failure_from_row",
    "link_from_row",
    "link_row",
    "moment_from_row",
    "pending_from_row",
    "run_from_json",
    "run_to_json",
    "schedule_from_row",
]

Row = tuple[Any, ...]


def link_from_row(row: Row) -> tuple[str, Link]:
    """
    A ``(number, platform_id, checksum, variants)`` row as a link.
    """
    number, platform_id, checksum, variants = row
    return number, Link(
        platform_id,
        checksum,
        variants=None if variants is None else tuple(json.loads(variants)),
    )


def link_row(
    platform: str, data_type: DataType, number: str, link: Link
) -> Row:
    """
    The row a link is kept as, its variant numbers a JSON list (``NULL``:
    not known).
    """
    variants = None if link.variants is None else json.dumps(link.variants)
    return (
        platform,
        data_type.value,
        number,
        link.platform_id,
        link.checksum,
        variants,
    )


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def run_to_json(run: RunRecord) -> str:
    return json.dumps(
        {
            "id": run.id,
            "trigger": run.trigger.value,
            "platform": run.platform,
            "spec": spec_to_plain(run.spec),
            "status": run.status.value,
            "started_at": run.started_at.isoformat(),
            "ended_at": run.ended_at.isoformat() if run.ended_at else None,
            "holder": run.holder,
            "counts": {
                t.value: [c.created, c.updated, c.unchanged, c.failed]
                for t, c in run.counts.items()
            },
            "failures": [_failure_to_plain(f) for f in run.failures],
            "error": run.error,
            "schedule_id": run.schedule_id,
            "owner": None
            if run.owner is None
            else {
                "host": run.owner.host,
                "pid": run.owner.pid,
                "started": run.owner.started,
                "pid_space": run.owner.pid_space,
                "boot": run.owner.boot,
            },
        }
    )


def run_from_json(blob: str, heartbeat: Any = None) -> RunRecord:
    """
    The run kept as *blob*, with the *heartbeat* column's value.
    """
    data = json.loads(blob)
    owner = data.get("owner")
    started = _dt(data["started_at"])
    assert started is not None
    return RunRecord(
        id=data["id"],
        trigger=Trigger(data["trigger"]),
        platform=data["platform"],
        spec=spec_from_plain(data["spec"]),
        status=RunStatus(data["status"]),
        started_at=started,
        ended_at=_dt(data["ended_at"]),
        holder=data["holder"],
        counts={
            DataType(t): TypeCounts(
                created=c[0], updated=c[1], unchanged=c[2], failed=c[3]
            )
            for t, c in data["counts"].items()
        },
        failures=tuple(_failure_from_plain(f) for f in data["failures"]),
        error=data["error"],
        schedule_id=data.get("schedule_id"),
        owner=None if owner is None else RunOwner(**owner),
        heartbeat_at=moment_from_row(heartbeat),
    )


def moment_from_row(value: Any) -> datetime | None:
    """
    A timestamp column's value (a datetime, or UTC ISO text in SQLite).
    """
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _failure_to_plain(failure: Failure) -> dict[str, Any]:
    return {
        "data_type": failure.data_type.value,
        "number": failure.number,
        "message": failure.message,
        "field": failure.field,
        "run_id": failure.run_id,
    }


def _failure_from_plain(data: dict[str, Any]) -> Failure:
    return Failure(
        data_type=DataType(data["data_type"]),
        number=data["number"],
        message=data["message"],
        field=data["field"],
        run_id=data["run_id"],
    )


def failure_from_row(row: Row) -> Failure:
    data_type, number, message, field, run_id = row
    return Failure(
        data_type=DataType(data_type),
        number=number,
        message=message,
        field=field,
        run_id=run_id,
    )


def schedule_from_row(row: Row) -> Schedule:
    schedule_id, spec, interval, next_due, rule = row
    cron = json.loads(rule) if rule else {}
    return Schedule(
        id=schedule_id,
        spec=spec_from_plain(json.loads(spec)),
        interval=timedelta(seconds=interval),
        next_due=datetime.fromisoformat(next_due),
        cron=cron.get("cron"),
        zone=cron.get("zone"),
    )


def pending_from_row(row: Row) -> PendingMedia:
    scope, sha256, size, registered, meta = row
    return PendingMedia(
        scope=scope,
        sha256=sha256,
        size=size,
        registered_at=datetime.fromisoformat(registered),
        meta=json.loads(meta),
    )
