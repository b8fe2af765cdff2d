"""
The small anyio helpers: `GroupCommit` groups what is submitted while a
flush runs, with no timing window, and never deadlocks.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from ecomsync._anyio_util import GroupCommit


pytestmark = pytest.mark.anyio


class TestGroupCommit:
    async def test_ready_tasks_share_a_group(self) -> None:
        """Items submitted by tasks that run in the same turn of the event
        loop go in one flush, the first one's included."""
        groups: list[list[int]] = []

        async def flush(items: list[int]) -> None:
            groups.append(items)
            await anyio.lowlevel.checkpoint()

        commit = GroupCommit(flush)
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(commit.submit, i)
        # (trio starts them in any order)
        assert [[0, 1, 2, 3, 4]] == [sorted(g) for g in groups]

    async def test_interrupted_before_its_group(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error raised while a submitter waits for its group's turn
        reaches it; the next submit flushes what is queued (no deadlock)."""
        groups: list[list[int]] = []

        async def flush(items: list[int]) -> None:
            groups.append(items)

        async def interrupted() -> None:
            raise RuntimeError("interrupted")

        commit = GroupCommit(flush)
        with monkeypatch.context() as patch:
            patch.setattr(anyio.lowlevel, "checkpoint", interrupted)
            with pytest.raises(RuntimeError, match="interrupted"):
                await commit.submit(1)
        with anyio.fail_after(5):
            await commit.submit(2)
        assert [[1, 2]] == groups
