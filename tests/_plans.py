"""
The check behind "the plan is what the run does", shared by the plan
tests of every platform.
"""

from __future__ import annotations

from ecomsync import Plan, RecordFailed, RecordSkipped, RecordSynced
from ecomsync.testing import CapturedRun


def assert_run_matches_plan(
    plan: Plan, run: CapturedRun, *, invalid: bool = True
) -> None:
    """
    The run created, updated, skipped (and, with *invalid*, refused)
    exactly the records the plan listed, type by type.
    """
    for data_type, planned in plan.types.items():
        synced = [e for e in run.of(RecordSynced) if e.data_type is data_type]
        assert set(planned.create) == {e.number for e in synced if e.created}
        assert set(planned.update) == {
            e.number for e in synced if not e.created
        }
        assert set(planned.unchanged) == {
            e.number for e in run.of(RecordSkipped) if e.data_type is data_type
        }
        if invalid:
            assert {r.number for r in planned.invalid} == {
                e.number
                for e in run.of(RecordFailed)
                if e.data_type is data_type
            }
