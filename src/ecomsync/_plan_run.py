"""
`Synchronizer.plan`: a recorded `Trigger.PREVIEW` run through the one
lifecycle every run shares (`_lifecycle`), that writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._check import refuse_unusable
from ._contracts import RunStatus
from ._lifecycle import lifecycle, new_run, pipeline_of
from ._planning import Plan, TypePlan, plan_all
from ._run import EventSink
from ._spec import DataType, SyncSpec, Trigger
from .exceptions import RunCancelled, SpecError


if TYPE_CHECKING:
    from ._engine import Synchronizer


async def plan(sync: Synchronizer, spec: SyncSpec, trigger: Trigger) -> Plan:
    """
    `Synchronizer.plan`: a recorded `Trigger.PREVIEW` run that writes
    nothing.
    """
    if not isinstance(trigger, Trigger):
        raise SpecError(f"a plan's trigger is a Trigger, got {trigger!r}")
    # A plan reports nothing while it works: its events go nowhere.
    run = new_run(sync, spec, Trigger.PREVIEW, EventSink())
    pipeline = pipeline_of(sync, run)
    plans: dict[DataType, TypePlan] = {}

    async def work() -> None:
        # A plan that never asked the platform would answer "create
        # all" for a shop that refuses us: ask first.
        await refuse_unusable(run.platform_name, run.platform)
        async with sync.erp.session() as session:
            plans.update(await plan_all(pipeline, session, trigger))

    final, error = await lifecycle(sync, run, work, resolve_as=trigger)
    if error is not None:
        raise error
    if final.status is RunStatus.CANCELLED:
        # Half a plan would read as the whole answer.
        raise RunCancelled(f"plan {run.id} was cancelled")
    return Plan(
        run_id=run.id, platform=final.platform, spec=run.spec, types=plans
    )
