"""
Telemetry: OpenTelemetry traces and metrics of every run.

Pass ``Synchronizer(..., instrumentation=OpenTelemetry())``; the engine
itself does not depend on OpenTelemetry (install the ``otel`` extra).
docs/telemetry.md lists the spans, metrics and attributes.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import attrs

from ._contracts import RunStatus, TypeCounts
from ._spec import DataType
from .events import (
    Event,
    RecordFailed,
    RecordSkipped,
    RecordSynced,
    RunFinished,
    RunStarted,
    TypeFinished,
    TypeStarted,
)
from .exceptions import ConfigurationError


if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider


__all__ = ["NoInstrumentation", "OpenTelemetry"]

#: The instrumentation scope's name.
SCOPE = "ecomsync"

_OUTCOMES = ("created", "updated", "unchanged", "failed")

#: Licence waits kept for run spans not started yet.
_WAITS_KEPT = 64

#: The metrics, by key: instrument kind, name, unit and description.
_METRICS = {
    "records": (
        "counter",
        "ecomsync.records",
        "{record}",
        "Records a run went through, by outcome.",
    ),
    "runs": (
        "counter",
        "ecomsync.runs",
        "{run}",
        "Runs that ended, by status.",
    ),
    "run_duration": (
        "histogram",
        "ecomsync.run.duration",
        "s",
        "How long runs took, queueing included.",
    ),
    "license_wait": (
        "histogram",
        "ecomsync.license.wait.duration",
        "s",
        "How long runs waited for an ERP licence.",
    ),
    "request_duration": (
        "histogram",
        "http.client.request.duration",
        "s",
        "Duration of HTTP client requests.",
    ),
    "request_size": (
        "histogram",
        "http.client.request.body.size",
        "By",
        "Size of HTTP client request bodies.",
    ),
}


class NoInstrumentation:
    """
    Observes nothing: the default `Instrumentation`.

    .. versionadded:: 26.1.0
    """

    def __repr__(self) -> str:
        return "NoInstrumentation()"

    def event(self, event: Event) -> None:
        pass

    def batch(
        self, run_id: str, data_type: DataType, size: int
    ) -> AbstractContextManager[object]:
        return nullcontext()

    def request(
        self,
        *,
        method: str,
        scheme: str,
        host: str,
        port: int | None,
        status: int | None,
        error: str | None,
        duration: float,
        sent: int,
    ) -> None:
        pass

    def license_wait(self, run_id: str, seconds: float) -> None:
        pass


@attrs.define
class _RunSpans:
    run: Span
    platform: str
    types: dict[DataType, Span] = attrs.Factory(dict)


@attrs.define(repr=False)
class OpenTelemetry:
    """
    Reports runs to OpenTelemetry: a span per run, per data type and per
    batch, and metrics of records, HTTP requests, bytes sent, runs and
    licence waits.

    Args:
        tracer_provider: Where spans go; ``None``: the global one.
        meter_provider: Where metrics go; ``None``: the global one.

    Raises:
        ConfigurationError: If ``opentelemetry-api`` is not installed
            (``pip install 'ecomsync[otel]'``).

    .. versionadded:: 26.1.0
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    _tracer: Any = attrs.field(init=False, default=None)
    _otel: Any = attrs.field(init=False, default=None)
    _instruments: dict[str, Any] = attrs.field(init=False, factory=dict)
    _runs: dict[str, _RunSpans] = attrs.field(init=False, factory=dict)
    _waits: dict[str, float] = attrs.field(init=False, factory=dict)
    _batches: set[int] = attrs.field(init=False, factory=set)

    def __attrs_post_init__(self) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            raise ConfigurationError(
                "OpenTelemetry is not installed: pip install 'ecomsync[otel]'"
            ) from None
        from importlib.metadata import version

        self._otel = trace
        self._tracer = trace.get_tracer(
            SCOPE, version("ecomsync"), tracer_provider=self.tracer_provider
        )
        meter = metrics.get_meter(
            SCOPE, version("ecomsync"), meter_provider=self.meter_provider
        )
        self._instruments = {
            key: getattr(meter, f"create_{kind}")(
                name, unit=unit, description=description
            )
            for key, (kind, name, unit, description) in _METRICS.items()
        }

    def __repr__(self) -> str:
        return "OpenTelemetry()"

    # -- Instrumentation --------------------------------------------------

    def event(self, event: Event) -> None:
        """
        Spans and record counts from a run's events.
        """
        if isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, TypeStarted):
            self._type_started(event)
        elif isinstance(event, RecordSynced | RecordSkipped | RecordFailed):
            self._record(event)
        elif isinstance(event, TypeFinished):
            self._type_finished(event.run_id, event.data_type, event.counts)
        elif isinstance(event, RunFinished):
            self._run_finished(event)

    def batch(
        self, run_id: str, data_type: DataType, size: int
    ) -> AbstractContextManager[object]:
        """
        A span for one batch, current while the batch is worked.
        """
        return self._batch(run_id, data_type, size)

    def request(
        self,
        *,
        method: str,
        scheme: str,
        host: str,
        port: int | None,
        status: int | None,
        error: str | None,
        duration: float,
        sent: int,
    ) -> None:
        """
        HTTP client metrics, by OpenTelemetry's semantic conventions.
        """
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.scheme": scheme,
            "server.address": host,
        }
        if port is not None:
            attributes["server.port"] = port
        if status is not None:
            attributes["http.response.status_code"] = status
        if error is not None:
            attributes["error.type"] = error
        self._instruments["request_duration"].record(duration, attributes)
        self._instruments["request_size"].record(sent, attributes)

    def license_wait(self, run_id: str, seconds: float) -> None:
        """
        The licence wait: a metric, and an attribute of the run's span.
        """
        self._waits[run_id] = seconds
        if len(self._waits) > _WAITS_KEPT:
            # Previews wait for a licence but start no run span.
            del self._waits[next(iter(self._waits))]
        self._instruments["license_wait"].record(seconds)

    # -- spans ----------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        span = self._tracer.start_span(
            "ecomsync.run",
            attributes={
                "ecomsync.run.id": event.run_id,
                "ecomsync.platform": event.platform,
                "ecomsync.run.trigger": event.trigger.value,
                "ecomsync.data_types": [t.value for t in event.spec.types],
            },
        )
        wait = self._waits.pop(event.run_id, None)
        if wait is not None:
            span.set_attribute("ecomsync.license.wait", wait)
        self._runs[event.run_id] = _RunSpans(span, event.platform)

    def _type_started(self, event: TypeStarted) -> None:
        spans = self._runs.get(event.run_id)
        if spans is None:
            return
        attributes: dict[str, str | int] = {
            "ecomsync.run.id": event.run_id,
            "ecomsync.platform": spans.platform,
            "ecomsync.data_type": event.data_type.value,
            "ecomsync.selection": type(event.selection).__name__,
        }
        if event.total is not None:
            attributes["ecomsync.records.total"] = event.total
        spans.types[event.data_type] = self._tracer.start_span(
            "ecomsync.data_type",
            context=self._otel.set_span_in_context(spans.run),
            attributes=attributes,
        )

    def _record(
        self, event: RecordSynced | RecordSkipped | RecordFailed
    ) -> None:
        if isinstance(event, RecordSynced):
            outcome = "created" if event.created else "updated"
        elif isinstance(event, RecordSkipped):
            outcome = "unchanged"
        else:
            outcome = "failed"
            self._failed_in_batch(event)
        spans = self._runs.get(event.run_id)
        self._instruments["records"].add(
            1,
            {
                "ecomsync.platform": "" if spans is None else spans.platform,
                "ecomsync.data_type": event.data_type.value,
                "ecomsync.record.outcome": outcome,
            },
        )

    def _failed_in_batch(self, event: RecordFailed) -> None:
        span = self._otel.get_current_span()
        if id(span) not in self._batches:
            return
        attributes = {
            "ecomsync.record.number": event.number,
            "ecomsync.record.message": event.message,
        }
        if event.field is not None:
            attributes["ecomsync.record.field"] = event.field
        span.add_event("ecomsync.record.failed", attributes)
        self._error(span, "a record of the batch failed")

    def _type_finished(
        self, run_id: str, data_type: DataType, counts: TypeCounts
    ) -> None:
        spans = self._runs.get(run_id)
        if spans is None or data_type not in spans.types:
            return
        self._end_type(spans.types.pop(data_type), counts)

    def _end_type(self, span: Span, counts: TypeCounts) -> None:
        self._end(
            span,
            lambda outcome: getattr(counts, outcome),
            f"{counts.failed} records failed" if counts.failed else None,
        )

    def _run_finished(self, event: RunFinished) -> None:
        spans = self._runs.pop(event.run_id, None)
        record = event.run
        attributes = {
            "ecomsync.platform": record.platform,
            "ecomsync.run.trigger": record.trigger.value,
            "ecomsync.run.status": event.status.value,
        }
        self._instruments["runs"].add(1, attributes)
        if record.ended_at is not None:
            self._instruments["run_duration"].record(
                (record.ended_at - record.started_at).total_seconds(),
                attributes,
            )
        if spans is None:
            return
        for data_type, open_span in spans.types.items():
            # A type the run did not finish (it failed or was cancelled).
            self._end_type(
                open_span, event.counts.get(data_type, TypeCounts())
            )
        spans.run.set_attribute("ecomsync.run.status", event.status.value)
        self._end(
            spans.run,
            lambda outcome: _total(event.counts, outcome),
            (record.error or "failed")
            if event.status is RunStatus.FAILED
            else None,
        )

    def _end(
        self, span: Span, count: Callable[[str], int], error: str | None
    ) -> None:
        """
        End a run's or a data type's span: its record counts by outcome,
        and *error* as its status where it failed.
        """
        for outcome in _OUTCOMES:
            span.set_attribute(f"ecomsync.records.{outcome}", count(outcome))
        if error is not None:
            self._error(span, error)
        span.end()

    def _error(self, span: Span, message: str) -> None:
        span.set_status(
            self._otel.Status(self._otel.StatusCode.ERROR, message)
        )

    @contextmanager
    def _batch(
        self, run_id: str, data_type: DataType, size: int
    ) -> Iterator[None]:
        spans = self._runs.get(run_id)
        parent = None
        if spans is not None:
            parent = self._otel.set_span_in_context(
                spans.types.get(data_type, spans.run)
            )
        with self._tracer.start_as_current_span(
            "ecomsync.batch",
            context=parent,
            attributes={
                "ecomsync.run.id": run_id,
                "ecomsync.data_type": data_type.value,
                "ecomsync.batch.size": size,
            },
        ) as span:
            self._batches.add(id(span))
            try:
                yield
            finally:
                self._batches.discard(id(span))


def _total(counts: Mapping[DataType, TypeCounts], outcome: str) -> int:
    return sum(getattr(c, outcome) for c in counts.values())
