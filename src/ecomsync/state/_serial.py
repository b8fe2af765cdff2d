"""
Turning run records, failures and schedules into JSON and back; shared by
every store so that they all keep exactly the same data.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .._contracts import Failure, RunRecord, RunStatus, Schedule, TypeCounts
from .._spec import DataType, Trigger, spec_from_plain, spec_to_plain


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
            "failures": [failure_to_plain(f) for f in run.failures],
            "error": run.error,
            "schedule_id": run.schedule_id,
        }
    )


def run_from_json(blob: str) -> RunRecord:
    data = json.loads(blob)
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
        failures=tuple(failure_from_plain(f) for f in data["failures"]),
        error=data["error"],
        schedule_id=data.get("schedule_id"),
    )


def failure_to_plain(failure: Failure) -> dict[str, Any]:
    return {
        "data_type": failure.data_type.value,
        "number": failure.number,
        "message": failure.message,
        "field": failure.field,
        "run_id": failure.run_id,
    }


def failure_from_plain(data: dict[str, Any]) -> Failure:
    return Failure(
        data_type=DataType(data["data_type"]),
        number=data["number"],
        message=data["message"],
        field=data["field"],
        run_id=data["run_id"],
    )


def schedule_to_row(schedule: Schedule) -> tuple[str, str, float, str]:
    return (
        schedule.id,
        json.dumps(spec_to_plain(schedule.spec)),
        schedule.interval.total_seconds(),
        schedule.next_due.isoformat(),
    )


def schedule_from_row(
    schedule_id: str, spec: str, interval: float, next_due: str
) -> Schedule:
    return Schedule(
        id=schedule_id,
        spec=spec_from_plain(json.loads(spec)),
        interval=timedelta(seconds=interval),
        next_due=datetime.fromisoformat(next_due),
    )
