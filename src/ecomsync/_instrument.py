"""
The engine's side of instrumentation: the no-op default, the observer in
effect for the running task (HTTP clients find it there: adapters create
them, so they cannot be handed one) and the guard that keeps a broken
observer from breaking a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar

from ._contracts import RunStatus
from ._spec import DataType
from .events import (
    Event,
    RecordFailed,
    RunFinished,
    RunStarted,
    TypeFinished,
)
from .telemetry import NoInstrumentation
from .typing import Instrumentation


log = logging.getLogger("ecomsync.telemetry")

#: The run's story for a host's logs: start, each type's counts, each
#: failed record, the end.  Every record carries ``run_id``, ``platform``
#: and ``data_type`` (``None`` for the run as a whole) as ``extra``.
run_log = logging.getLogger("ecomsync.run")

# A process that configured no logging prints nothing: without a handler
# on the way to the root, Python's last resort writes warnings to stderr.
# stamina logs its retries on "stamina"; they reach the host's handlers
# as before (docs/telemetry.md, "Logging").
for _name in ("ecomsync", "stamina"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


NOTHING = NoInstrumentation()

#: The run fields every record of an ``ecomsync.*`` logger carries as
#: ``extra`` (docs/telemetry.md, "Logging"): ``None`` outside a run.
NO_RUN: Mapping[str, str | None] = {
    "run_id": None,
    "platform": None,
    "data_type": None,
}
_fields: ContextVar[Mapping[str, str | None]] = ContextVar(
    "ecomsync_log_fields", default=NO_RUN
)


@contextmanager
def log_fields(**fields: str | None) -> Iterator[None]:
    """
    Records logged in this task (and those it starts) carry *fields*.
    """
    token = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def fields(**more: object) -> dict[str, object]:
    """
    The ``extra`` of a log record: the run fields of this task (``None``
    outside a run), then *more*.
    """
    return {**_fields.get(), **more}


_current: ContextVar[Instrumentation] = ContextVar(
    "ecomsync_instrumentation", default=NOTHING
)


def current() -> Instrumentation:
    """
    The instrumentation of the run this task works for.
    """
    return _current.get()


@contextmanager
def using(instrumentation: Instrumentation) -> Iterator[None]:
    """
    Make *instrumentation* `current` in this task and those it starts.
    """
    token = _current.set(instrumentation)
    try:
        yield
    finally:
        _current.reset(token)


def guarded(
    what: str, call: Callable[..., object], *args: object, **kwargs: object
) -> None:
    """
    Call an observer's *call*; an error in it is logged, never raised:
    telemetry must not fail a sync.
    """
    try:
        call(*args, **kwargs)
    except Exception:
        log.warning(
            "instrumentation failed in %s", what, exc_info=True, extra=fields()
        )


def batch(
    run_id: str, data_type: DataType, size: int
) -> AbstractContextManager[object]:
    """
    The current instrumentation's *batch* block (a no-op one if it fails).
    """
    try:
        return current().batch(run_id, data_type, size)
    except Exception:
        log.warning(
            "instrumentation failed in batch",
            exc_info=True,
            extra=fields(data_type=data_type.value),
        )
        return nullcontext()


def observe(
    instrumentation: Instrumentation, platform: str, event: Event
) -> None:
    """
    *event* of a run on *platform*: logged, then given to
    *instrumentation*.
    """
    log_event(platform, event)
    guarded("event", instrumentation.event, event)


def log_event(platform: str, event: Event) -> None:
    """
    Log what a host's operator wants to read of *event* on ``ecomsync.run``.
    """
    data_type = getattr(event, "data_type", None)
    extra = {
        "run_id": event.run_id,
        "platform": platform,
        "data_type": None if data_type is None else data_type.value,
    }
    if isinstance(event, RunStarted):
        run_log.info(
            "run %s started on %s (%s): %s",
            event.run_id,
            platform,
            event.trigger.value,
            ", ".join(t.value for t in event.spec.types),
            extra=extra,
        )
    elif isinstance(event, RecordFailed):
        run_log.warning(
            "run %s: %s %s failed%s: %s",
            event.run_id,
            event.data_type.value,
            event.number,
            "" if event.field is None else f" ({event.field})",
            event.message,
            extra={**extra, "number": event.number, "field": event.field},
        )
    elif isinstance(event, TypeFinished):
        c = event.counts
        run_log.info(
            "run %s: %s done: %d created, %d updated, %d unchanged, %d failed",
            event.run_id,
            event.data_type.value,
            c.created,
            c.updated,
            c.unchanged,
            c.failed,
            extra=extra,
        )
    elif isinstance(event, RunFinished):
        failed = event.status is RunStatus.FAILED
        run_log.log(
            logging.WARNING if failed else logging.INFO,
            "run %s %s%s",
            event.run_id,
            event.status.value,
            f": {event.run.error}" if failed and event.run.error else "",
            extra={**extra, "status": event.status.value},
        )
