"""
Telemetry: the ``otel`` extra's spans and metrics (asserted with the
SDK's in-memory exporters), the instrumentation hook's guard, and the
library's logging (routable, silent when unconfigured).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from ecomsync import (
    All,
    Article,
    DataType,
    MediaStaging,
    MemoryErp,
    RunRecord,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.events import Event, TypeStarted
from ecomsync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    RetryableError,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.telemetry import NoInstrumentation, OpenTelemetry
from ecomsync.testing.shopware6 import Faults, ShopwareEmulator
from ecomsync.typing import Instrumentation

from ._retries import fast_retries
from .conftest import T0, small_catalogue


pytestmark = pytest.mark.anyio

CANARY = "canary-S3CR3T-otel-7c2e"
SPEC = SyncSpec(types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()})


_fast_retries = fast_retries(3)


@attrs.define
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    instrumentation: OpenTelemetry

    def finished(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        data = self.metrics.get_metrics_data()
        found = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        found += [
                            (dict(p.attributes or {}), p)
                            for p in metric.data.data_points
                        ]
        return found

    def dump(self) -> str:
        data = self.metrics.get_metrics_data()
        return "\n".join(
            [s.to_json() for s in self.spans.get_finished_spans()]
            + [data.to_json() if data else ""]
        )


@pytest.fixture(name="otel")
def _otel() -> Iterator[Otel]:
    spans = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[metrics])
    yield Otel(
        spans,
        metrics,
        OpenTelemetry(tracer_provider=tracers, meter_provider=meters),
    )
    tracers.shutdown()
    meters.shutdown()


def erp() -> MemoryErp:
    """
    The small catalogue plus an article whose category exists nowhere.
    """
    records = [*small_catalogue()]
    records.append(
        Article(
            number="A-404",
            name="Lost",
            price=Decimal("1.00"),
            categories=("C-404",),
        )
    )
    return MemoryErp(
        records,
        media={f"img-{i}": f"image {i}".encode() for i in range(1, 7)},
        clock=lambda: T0,
    )


def shop(emu: ShopwareEmulator) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        CANARY,
        transport=httpx.ASGITransport(app=emu.app),
    )


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    emu = ShopwareEmulator(client_id="SWIAOTEL", client_secret=CANARY)
    # The first request after the login is answered 429: one retry.
    emu.faults = Faults(storm_next=1, retry_after="0")
    return emu


def synchronizer(
    tmp_path: Path,
    platform: Shopware6,
    instrumentation: Instrumentation,
    *,
    batch_size: int = 100,
) -> Synchronizer:
    """
    A synchroniser from the ERP above to *platform*, its store and staging
    under *tmp_path*, instrumented by *instrumentation*.
    """
    return Synchronizer(
        erp=erp(),
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
        batch_size=batch_size,
        instrumentation=instrumentation,
    )


async def run_once(
    tmp_path: Path,
    emu: ShopwareEmulator,
    instrumentation: Instrumentation | None = None,
) -> RunRecord:
    platform = shop(emu)
    sync = synchronizer(
        tmp_path,
        platform,
        instrumentation or NoInstrumentation(),
        batch_size=4,
    )
    try:
        return await sync.execute(SPEC)
    finally:
        await platform.aclose()
        await sync.store.aclose()


class TestSpans:
    async def test_span_tree(
        self, otel: Otel, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """A run with two data types is one span, a child per type, a
        grandchild per batch; the failed record marks its batch and type
        as errors and the run's counts are on the spans."""
        record = await run_once(tmp_path, emu, otel.instrumentation)
        assert record.status is RunStatus.SUCCEEDED
        assert record.counts[DataType.ARTICLES].failed == 1

        (run,) = otel.finished("ecomsync.run")
        assert run.parent is None
        assert run.attributes is not None
        assert run.attributes["ecomsync.run.id"] == record.id
        assert run.attributes["ecomsync.platform"] == "shop"
        assert run.attributes["ecomsync.run.trigger"] == "manual"
        assert run.attributes["ecomsync.run.status"] == "succeeded"
        assert run.attributes["ecomsync.records.failed"] == 1
        assert run.attributes["ecomsync.records.created"] == 3 + 6
        assert run.attributes["ecomsync.license.wait"] >= 0
        assert run.status.status_code is StatusCode.UNSET

        types = {
            s.attributes["ecomsync.data_type"]: s
            for s in otel.finished("ecomsync.data_type")
            if s.attributes is not None
        }
        assert set(types) == {"categories", "articles"}
        for span in types.values():
            assert span.parent is not None
            assert span.parent.span_id == run.context.span_id
        assert types["categories"].status.status_code is StatusCode.UNSET
        assert types["articles"].status.status_code is StatusCode.ERROR
        assert types["articles"].attributes is not None
        assert types["articles"].attributes["ecomsync.records.created"] == 6

        sizes: dict[str, list[int]] = {}
        failed = []
        for batch in otel.finished("ecomsync.batch"):
            assert batch.attributes is not None
            assert batch.parent is not None
            data_type = str(batch.attributes["ecomsync.data_type"])
            assert batch.parent.span_id == types[data_type].context.span_id
            sizes.setdefault(data_type, []).append(
                int(batch.attributes["ecomsync.batch.size"])  # type: ignore[arg-type]
            )
            if batch.status.status_code is StatusCode.ERROR:
                failed.append(batch)
        assert sorted(sizes["categories"]) == [3]
        assert sorted(sizes["articles"]) == [3, 4]
        (bad,) = failed
        (event,) = bad.events
        assert event.name == "ecomsync.record.failed"
        assert event.attributes is not None
        assert event.attributes["ecomsync.record.number"] == "A-404"

    async def test_host_cancel_ends_spans(
        self, otel: Otel, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """A run the host cancels mid-type still ends its spans, as
        cancelled."""
        platform = shop(emu)
        sync = synchronizer(tmp_path, platform, otel.instrumentation)
        with anyio.CancelScope() as scope:
            async with sync.run(SPEC) as events:
                async for event in events:
                    if isinstance(event, TypeStarted):
                        scope.cancel()
        await platform.aclose()
        await sync.store.aclose()
        (run,) = otel.finished("ecomsync.run")
        assert run.attributes is not None
        assert run.attributes["ecomsync.run.status"] == "cancelled"
        (only,) = otel.finished("ecomsync.data_type")
        assert only.end_time is not None
        ((attributes, _),) = otel.points("ecomsync.runs")
        assert attributes["ecomsync.run.status"] == "cancelled"

    async def test_failed_run(
        self,
        otel: Otel,
        emu: ShopwareEmulator,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A run that fails (credentials refused) is an ERROR span with its
        error, counted as failed and logged as a warning; the refused
        secret is nowhere."""
        wrong = "wrong-S3CR3T-otel-19ab"
        platform = Shopware6(
            "http://shop.test",
            emu.client_id,
            wrong,
            transport=httpx.ASGITransport(app=emu.app),
        )
        sync = synchronizer(tmp_path, platform, otel.instrumentation)
        with pytest.raises(AuthenticationError):
            await sync.execute(SPEC)
        await platform.aclose()
        await sync.store.aclose()
        (run,) = otel.finished("ecomsync.run")
        assert run.status.status_code is StatusCode.ERROR
        assert run.status.description is not None
        assert run.status.description.startswith("AuthenticationError: ")
        for span in otel.finished("ecomsync.data_type"):
            assert span.end_time is not None
        ((attributes, point),) = otel.points("ecomsync.runs")
        assert attributes["ecomsync.run.status"] == "failed"
        assert point.value == 1
        (end,) = [
            r
            for r in caplog.records
            if r.name == "ecomsync.run" and r.levelno == logging.WARNING
        ]
        assert end.getMessage().startswith(
            f"run {run.attributes['ecomsync.run.id']} failed: "  # type: ignore[index]
            "AuthenticationError: "
        )
        assert end.status == "failed"  # type: ignore[attr-defined]
        assert wrong not in otel.dump()
        assert all(wrong not in r.getMessage() for r in caplog.records)

    async def test_plan_makes_no_spans(
        self, otel: Otel, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """A preview writes nothing and makes no span; its licence wait and
        requests are measured."""
        emu.faults = Faults()  # a preview's check is not retried
        platform = shop(emu)
        sync = synchronizer(tmp_path, platform, otel.instrumentation)
        plan = await sync.plan(SPEC)
        await platform.aclose()
        await sync.store.aclose()
        assert plan.types[DataType.CATEGORIES].create
        assert otel.spans.get_finished_spans() == ()
        ((_, point),) = otel.points("ecomsync.license.wait.duration")
        assert point.count == 1
        durations = otel.points("http.client.request.duration")
        assert sum(p.count for _, p in durations) == len(emu.requests)
        assert otel.points("ecomsync.records") == []

    def test_licence_waits_of_previews_are_not_kept(self) -> None:
        """Waits of runs that start no span (previews) are dropped once
        more than a few are held."""
        otel = OpenTelemetry()
        for i in range(1000):
            otel.license_wait(f"plan-{i}", 0.0)
        assert len(otel._waits) <= 64


class TestMetrics:
    async def test_values_match_the_run(
        self, otel: Otel, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """Records by outcome equal the run's counts; every request the
        shop saw is counted once, the retried 429 with its error type;
        bytes sent equal what the shop received; one run, one licence
        wait."""
        record = await run_once(tmp_path, emu, otel.instrumentation)

        records: dict[tuple[str, str], int] = {}
        for attributes, point in otel.points("ecomsync.records"):
            assert attributes["ecomsync.platform"] == "shop"
            key = (
                attributes["ecomsync.data_type"],
                attributes["ecomsync.record.outcome"],
            )
            records[key] = point.value
        expected = {
            (data_type.value, outcome): getattr(counts, outcome)
            for data_type, counts in record.counts.items()
            for outcome in ("created", "updated", "unchanged", "failed")
            if getattr(counts, outcome)
        }
        assert records == expected
        assert records[("articles", "failed")] == 1

        durations = otel.points("http.client.request.duration")
        assert sum(p.count for _, p in durations) == len(emu.requests)
        assert {a["server.address"] for a, _ in durations} == {"shop.test"}
        refused = [
            (a, p)
            for a, p in durations
            if a.get("http.response.status_code") == 429
        ]
        ((attributes, point),) = refused
        assert attributes["error.type"] == "429"
        assert point.count == 1
        sent = otel.points("http.client.request.body.size")
        assert sum(p.sum for _, p in sent) == sum(
            r.bytes_in for r in emu.requests
        )

        ((attributes, point),) = otel.points("ecomsync.runs")
        assert attributes["ecomsync.run.status"] == "succeeded"
        assert point.value == 1
        ((_, point),) = otel.points("ecomsync.run.duration")
        assert point.count == 1
        ((_, point),) = otel.points("ecomsync.license.wait.duration")
        assert point.count == 1

    async def test_no_secret_anywhere(
        self, otel: Otel, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """Neither the client secret nor a bearer token appears in any
        span, event, attribute or metric."""
        await run_once(tmp_path, emu, otel.instrumentation)
        dump = otel.dump()
        assert "shop.test" in dump  # the dump is not empty
        assert CANARY not in dump
        assert "Bearer" not in dump
        for token in getattr(emu, "tokens", {}):
            assert token not in dump

    async def test_failed_transport_is_counted(self, otel: Otel) -> None:
        """A request that never got an answer is counted with the
        transport error's class as its error type and no status."""
        from ecomsync import _instrument
        from ecomsync._http import HttpClient

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        http = HttpClient(
            "http://erp.test:8000", transport=httpx.MockTransport(refuse)
        )
        with (
            _instrument.using(otel.instrumentation),
            pytest.raises(RetryableError, match=r"POST /x"),
        ):
            await http.request("POST", "/x", json={"a": 1}, retry=False)
        await http.aclose()
        ((attributes, _),) = otel.points("http.client.request.duration")
        assert attributes == {
            "http.request.method": "POST",
            "url.scheme": "http",
            "server.address": "erp.test",
            "server.port": 8000,
            "error.type": "ConnectError",
        }


class TestHook:
    def test_default_observes_nothing(self) -> None:
        """The default instrumentation fits the Protocol and does
        nothing."""
        nothing = NoInstrumentation()
        assert isinstance(nothing, Instrumentation)
        assert isinstance(OpenTelemetry(), Instrumentation)
        with nothing.batch("r", DataType.STOCK, 1):
            pass
        nothing.license_wait("r", 0.0)
        nothing.request(
            method="GET",
            scheme="http",
            host="h",
            port=None,
            status=200,
            error=None,
            duration=0.0,
            sent=0,
        )
        assert repr(nothing) == "NoInstrumentation()"
        assert repr(OpenTelemetry()) == "OpenTelemetry()"

    async def test_broken_instrumentation_does_not_fail_a_run(
        self,
        emu: ShopwareEmulator,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An instrumentation that raises everywhere is logged on
        ecomsync.telemetry; the run succeeds as without it."""

        class Broken:
            def event(self, event: Event) -> None:
                raise RuntimeError("event")

            def batch(
                self, run_id: str, data_type: DataType, size: int
            ) -> AbstractContextManager[object]:
                raise RuntimeError("batch")

            def request(self, **kwargs: Any) -> None:
                raise RuntimeError("request")

            def license_wait(self, run_id: str, seconds: float) -> None:
                raise RuntimeError("license_wait")

        record = await run_once(tmp_path, emu, Broken())  # type: ignore[arg-type]
        assert record.status is RunStatus.SUCCEEDED
        assert record.counts[DataType.CATEGORIES].created == 3
        where = {
            r.getMessage()
            for r in caplog.records
            if r.name == "ecomsync.telemetry"
        }
        assert where == {
            f"instrumentation failed in {w}"
            for w in ("event", "batch", "request", "license_wait")
        }

    def test_without_opentelemetry(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without opentelemetry-api, OpenTelemetry() says what to
        install."""
        monkeypatch.setitem(sys.modules, "opentelemetry", None)
        with pytest.raises(ConfigurationError, match=r"ecomsync\[otel\]"):
            OpenTelemetry()


CHILD = """
import json, sys
from pathlib import Path
import anyio, stamina
from ecomsync import DataType
from tests.test_telemetry import run_once, ShopwareEmulator, Faults, CANARY

async def main() -> None:
    stamina.set_testing(True, attempts=3)
    emu = ShopwareEmulator(client_id="SWIAOTEL", client_secret=CANARY)
    emu.faults = Faults(storm_next=1, retry_after="0")
    record = await run_once(Path(sys.argv[1]), emu)
    json.dump(
        {
            "failed": record.counts[DataType.ARTICLES].failed,
            "refused": sum(r.status == 429 for r in emu.requests),
        },
        open(Path(sys.argv[1]) / "result.json", "w"),
    )

anyio.run(main)
"""


class TestLogging:
    async def test_records_a_host_can_route(
        self,
        emu: ShopwareEmulator,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A run with a retry and a failed record logs on ecomsync.run
        (with run_id, platform and data_type) and stamina logs the retry
        on "stamina"."""
        caplog.set_level(logging.INFO)
        record = await run_once(tmp_path, emu)
        ours = [r for r in caplog.records if r.name.startswith("ecomsync")]
        assert {r.name for r in ours} == {"ecomsync.run"}
        for r in ours:
            assert r.run_id == record.id  # type: ignore[attr-defined]
            assert r.platform == "shop"  # type: ignore[attr-defined]
            assert hasattr(r, "data_type")
        (failed,) = [r for r in ours if r.levelno == logging.WARNING]
        assert failed.data_type == "articles"  # type: ignore[attr-defined]
        assert failed.number == "A-404"  # type: ignore[attr-defined]
        assert "A-404" in failed.getMessage()
        messages = [r.getMessage() for r in ours]
        assert messages[0].startswith(f"run {record.id} started on shop")
        assert messages[-1] == f"run {record.id} succeeded"
        assert sum(" done: " in m for m in messages) == 2
        retries = [r for r in caplog.records if r.name == "stamina"]
        assert [r.getMessage() for r in retries] == ["stamina.retry_scheduled"]
        text = "\n".join(
            f"{r.getMessage()} {r.__dict__}" for r in caplog.records
        )
        assert CANARY not in text

    def test_silent_when_unconfigured(self, tmp_path: Path) -> None:
        """In a process that configured no logging, a run with a retry and
        a failed record writes nothing to stdout or stderr."""
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=Path(__file__).parent.parent,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        result = json.loads((tmp_path / "result.json").read_text())
        assert result == {"failed": 1, "refused": 1}
