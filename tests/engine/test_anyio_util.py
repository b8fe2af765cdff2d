"""
The small anyio helpers: `GroupCommit` groups what is submitted while a
flush runs, `TurnGroup` what is submitted in one turn of the event loop,
with no timing window; neither deadlocks.
"""

from __future__ import annotations

from functools import partial

import anyio
import anyio.lowlevel
import pytest

from ecomsync._anyio_util import GroupCommit, TurnGroup, concurrently
from ecomsync.exceptions import ConfigurationError


pytestmark = pytest.mark.anyio


#: Both helpers, each with what survives an interrupted first submit:
#: `GroupCommit` keeps the item queued (the next flush takes it along),
#: `TurnGroup` drops the group the interrupted item was forming.
_BOTH = pytest.mark.parametrize(
    ("group", "after_interruption"),
    [(GroupCommit, [[1, 2]]), (TurnGroup, [[2]])],
    ids=["GroupCommit", "TurnGroup"],
)


class TestGroups:
    @_BOTH
    async def test_ready_tasks_share_a_group(
        self,
        group: type[GroupCommit[int]] | type[TurnGroup[int]],
        after_interruption: object,
    ) -> None:
        """Items submitted by tasks that run in the same turn of the event
        loop go in one flush, the first one's included."""
        groups: list[list[int]] = []

        async def flush(items: list[int]) -> None:
            groups.append(items)
            await anyio.lowlevel.checkpoint()

        helper = group(flush)
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(helper.submit, i)

        # (trio starts them in any order)
        assert [[0, 1, 2, 3, 4]] == [sorted(g) for g in groups]

    @_BOTH
    async def test_interrupted_before_its_group(
        self,
        monkeypatch: pytest.MonkeyPatch,
        group: type[GroupCommit[int]] | type[TurnGroup[int]],
        after_interruption: list[list[int]],
    ) -> None:
        """An error raised while a submitter waits for its group's turn
        reaches it; the next submit is flushed (no deadlock), with what
        the helper kept of the interrupted group."""
        groups: list[list[int]] = []

        async def flush(items: list[int]) -> None:
            groups.append(items)

        async def interrupted() -> None:
            raise RuntimeError("interrupted")

        helper = group(flush)
        with monkeypatch.context() as patch:
            patch.setattr(anyio.lowlevel, "checkpoint", interrupted)
            with pytest.raises(RuntimeError, match="interrupted"):
                await helper.submit(1)
        with anyio.fail_after(5):
            await helper.submit(2)

        assert after_interruption == groups


class TestTurnGroup:
    async def test_flushes_overlap(self) -> None:
        """A group formed while another one's flush is still running is
        flushed at once, without waiting for it."""
        first_may_end = anyio.Event()
        order: list[str] = []

        async def flush(items: list[int]) -> None:
            order.append(f"start {items}")
            if items == [1]:
                await first_may_end.wait()
            order.append(f"end {items}")

        turns = TurnGroup(flush)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(turns.submit, 1)
                await anyio.wait_all_tasks_blocked()
                await turns.submit(2)
                first_may_end.set()

        assert ["start [1]", "start [2]", "end [2]", "end [1]"] == order

    async def test_error_reaches_its_group(self) -> None:
        """An error the flush raises reaches every item of its group; the
        next group is flushed as usual."""
        errors: list[Exception] = []
        groups: list[list[int]] = []

        async def flush(items: list[int]) -> None:
            groups.append(items)
            if 0 in items:
                raise RuntimeError("the disk is gone")

        async def submit(turns: TurnGroup[int], i: int) -> None:
            try:
                await turns.submit(i)
            except RuntimeError as exc:
                errors.append(exc)

        turns = TurnGroup(flush)
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(submit, turns, i)
        await turns.submit(3)

        assert 3 == len(errors)
        assert [[0, 1, 2], [3]] == [sorted(g) for g in groups]


class TestConcurrently:
    """
    Concurrent calls (the Tryton readers', Shopware's order pages) fail
    as one plain exception.
    """

    async def test_first_error_as_itself(self) -> None:
        """A failing call cancels the others and comes out unwrapped."""
        finished: list[str] = []

        async def slow() -> None:
            await anyio.sleep(5)
            finished.append("slow")

        async def bad() -> None:
            raise ConfigurationError("no such warehouse")

        with anyio.fail_after(3), pytest.raises(ConfigurationError):
            await concurrently(slow, bad)

        assert finished == []

    async def test_all_run(self) -> None:
        """Without errors every call runs to its end."""
        done: list[int] = []

        async def one(n: int) -> None:
            await anyio.lowlevel.checkpoint()
            done.append(n)

        await concurrently(*(partial(one, n) for n in range(3)))

        assert [0, 1, 2] == sorted(done)
