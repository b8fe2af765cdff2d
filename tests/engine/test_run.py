"""
A run's state: the one error a run ends with, the cancel check, the
event sink and the host's end of the event stream.
"""

from __future__ import annotations

import anyio
import pytest

from ecomsync import (
    AuthenticationError,
    ConfigurationError,
    EcomsyncError,
    LicenseError,
    MediaStagingError,
    RetryableError,
    RunCancelled,
    SqliteStore,
    StateStoreError,
    SyncError,
)
from ecomsync._run import CancelCheck, EventSink, RunEvents, fatal_error
from ecomsync.events import Event, RunStarted


pytestmark = pytest.mark.anyio

_AUTH = AuthenticationError("refused")
_STORE = StateStoreError("read-only")
_STAGING = MediaStagingError("disk full")
_LICENCE = LicenseError("no licence")
_CONFIG = ConfigurationError("bad url")
_RETRY = RetryableError("503")
_SYNC = SyncError("odd answer")
_CANCEL = RunCancelled("cancelled")


class TestFatalError:
    @pytest.mark.parametrize(
        ("errors", "expected"),
        [
            ([_RETRY, _STORE, _AUTH, _CANCEL], _AUTH),
            ([_RETRY, _STAGING, _STORE], _STORE),
            ([_RETRY, _LICENCE, _STAGING], _STAGING),
            ([_CONFIG, _RETRY, _LICENCE], _LICENCE),
            ([_SYNC, _RETRY, _CONFIG], _CONFIG),
            ([_CANCEL, _SYNC, _RETRY], _RETRY),
            ([_CANCEL, _SYNC], _SYNC),
            ([_CANCEL, KeyError("x"), EcomsyncError("ours")], EcomsyncError),
            ([_CANCEL], _CANCEL),
        ],
    )
    def test_priority(self, errors: list[Exception], expected: object) -> None:
        """Of several errors, the one highest in the documented priority
        comes out, whatever the order they came in."""
        for order in (errors, errors[::-1]):
            chosen = fatal_error(ExceptionGroup("run", order))

            if isinstance(expected, type):
                assert type(chosen) is expected
            else:
                assert expected is chosen

    def test_others_attached(self) -> None:
        """The other errors are attached to the chosen one as notes, once
        each, even from nested groups."""
        error = AuthenticationError("refused")
        retry = RetryableError("503 from the shop")
        group = ExceptionGroup(
            "outer", [retry, ExceptionGroup("inner", [error, error, retry])]
        )

        chosen = fatal_error(group)

        assert error is chosen
        assert ["also: RetryableError: 503 from the shop"] == error.__notes__

    def test_same_text_noted_once(self) -> None:
        """Several errors with the same text (one per upload in flight)
        are one note, counted."""
        errors = [AuthenticationError("refused") for _ in range(4)]

        chosen = fatal_error(ExceptionGroup("uploads", errors))

        assert errors[0] is chosen
        assert [
            "also: AuthenticationError: refused (3 times)"
        ] == chosen.__notes__

    def test_foreign_error_wrapped(self) -> None:
        """An error that is not the library's comes out as EcomsyncError
        naming it, with the original as the cause."""
        bug = KeyError("img-1")

        chosen = fatal_error(bug)

        assert EcomsyncError is type(chosen)
        assert "KeyError: 'img-1'" == str(chosen)
        assert bug is chosen.__cause__

    def test_single_library_error_is_itself(self) -> None:
        """A lone library error is raised as it is, without notes."""
        error = SyncError("ERP went away")

        assert error is fatal_error(error)
        assert not hasattr(error, "__notes__")


class _CancelFlag:
    """
    The one store method a cancel check uses.
    """

    flag = False
    asked = 0

    async def cancel_requested(self, run_id: str) -> bool:
        self.asked += 1
        return self.flag


class _Outage:
    """
    Answers the cancel question from *answers* in turn: an exception is
    raised (the store cannot answer), a bool answered.
    """

    def __init__(self, answers: list[bool | Exception]) -> None:
        self.answers = answers

    async def cancel_requested(self, run_id: str) -> bool:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class TestCancelCheck:
    async def test_local_request_seen_at_once(
        self, store: SqliteStore
    ) -> None:
        """A cancel asked in this process is seen at the next check."""
        check = CancelCheck("r-1", store, interval=3600)
        await check.check(force=True)

        check.request()

        with pytest.raises(RunCancelled, match="r-1"):
            await check.check()
        assert check.cancelled

    async def test_store_asked_at_most_every_interval(self) -> None:
        """A cancel through the store (another process) is asked for at
        most every interval, unless forced."""
        store = _CancelFlag()
        check = CancelCheck("r-1", store, interval=3600)  # type: ignore[arg-type]
        assert not await check.requested(force=True)
        store.flag = True

        assert not await check.requested()
        assert await check.requested(force=True)
        assert 2 == store.asked

    async def test_wait_returns_on_request(self, store: SqliteStore) -> None:
        """wait() returns once the run is asked to stop."""
        check = CancelCheck("r-1", store, interval=3600)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(check.wait)
                await anyio.wait_all_tasks_blocked()
                check.request()

        assert check.cancelled

    async def test_outage_logged_once_and_its_end(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A store that cannot answer for many asks is logged once (a
        warning) and once when it answers again (info), not every ask."""
        store = _Outage(answers=[_STORE] * 6 + [False, False, _STORE, True])
        check = CancelCheck("r-1", store, interval=0.001)  # type: ignore[arg-type]

        with caplog.at_level("INFO", logger="ecomsync"), anyio.fail_after(5):
            await check.wait()

        assert [
            ("WARNING", "cannot tell"),
            ("INFO", "answers again"),
            ("WARNING", "cannot tell"),
            ("INFO", "answers again"),
        ] == [
            (
                r.levelname,
                next(
                    w
                    for w in ("cannot tell", "answers again")
                    if w in r.getMessage()
                ),
            )
            for r in caplog.records
            if "r-1" in r.getMessage()
        ]
        assert check.cancelled


class TestEventSink:
    async def test_host_gone_run_goes_on(self) -> None:
        """Once the host closed its end, events are dropped quietly and
        the sink closes its own end."""
        send, receive = anyio.create_memory_object_stream[Event](1)
        sink = EventSink(send)
        receive.close()
        event = RunStarted(
            run_id="r-1",
            platform="shop",
            trigger=None,
            spec=None,  # type: ignore[arg-type]
        )

        await sink.emit(event)
        await sink.emit(event)

        with pytest.raises(anyio.ClosedResourceError):
            await send.send(event)

    async def test_full_buffer_waits_for_the_host(self) -> None:
        """Events go into the buffer without waiting; with the buffer full
        the run waits for the host, and nothing is lost or reordered."""
        send, receive = anyio.create_memory_object_stream[Event](1)
        sink = EventSink(send)
        events = [
            RunStarted(
                run_id=f"r-{i}",
                platform="shop",
                trigger=None,  # type: ignore[arg-type]
                spec=None,  # type: ignore[arg-type]
            )
            for i in range(3)
        ]
        got: list[Event] = []

        async with anyio.create_task_group() as tg:

            async def run() -> None:
                for event in events:
                    await sink.emit(event)
                sink.close()

            tg.start_soon(run)
            await anyio.wait_all_tasks_blocked()
            assert 1 == receive.statistics().current_buffer_used
            assert 1 == receive.statistics().tasks_waiting_send
            async with receive:
                async for event in receive:
                    got.append(event)
        assert events == got

    async def test_host_gone_while_run_waits(self) -> None:
        """A run waiting on a full buffer goes on when the host closes its
        end; later events are dropped quietly."""
        send, receive = anyio.create_memory_object_stream[Event](0)
        sink = EventSink(send)
        event = RunStarted(
            run_id="r-1",
            platform="shop",
            trigger=None,  # type: ignore[arg-type]
            spec=None,  # type: ignore[arg-type]
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(sink.emit, event)
            await anyio.wait_all_tasks_blocked()
            receive.close()
        await sink.emit(event)
        with pytest.raises(anyio.ClosedResourceError):
            send.send_nowait(event)

    async def test_nowhere(self) -> None:
        """A sink without a stream (a plan) takes events and does nothing."""
        sink = EventSink()

        await sink.emit(None)  # type: ignore[arg-type]
        sink.close()


def _started(i: int) -> Event:
    return RunStarted(
        run_id=f"r-{i}",
        platform="shop",
        trigger=None,  # type: ignore[arg-type]
        spec=None,  # type: ignore[arg-type]
    )


class TestRunEvents:
    async def test_buffered_then_waiting_then_end(self) -> None:
        """The host gets what is buffered, then waits for the next event,
        in order, and the iteration ends when the run closes its end."""
        send, receive = anyio.create_memory_object_stream[Event](8)
        events = RunEvents("r-1", receive, lambda: None)
        first = [_started(i) for i in range(3)]
        later = _started(3)
        for event in first:
            send.send_nowait(event)
        got: list[Event] = []

        async def run_later() -> None:
            await anyio.wait_all_tasks_blocked()
            await send.send(later)
            await anyio.wait_all_tasks_blocked()  # the host waits again
            send.close()

        async with anyio.create_task_group() as tg, receive:
            tg.start_soon(run_later)
            got.extend([event async for event in events])
        assert [*first, later] == got

    async def test_host_closed_its_end(self) -> None:
        """Once the host's end is closed, the iteration just ends."""
        send, receive = anyio.create_memory_object_stream[Event](8)
        events = RunEvents("r-1", receive, lambda: None)
        send.send_nowait(_started(0))
        receive.close()
        assert [] == [event async for event in events]
        send.close()
