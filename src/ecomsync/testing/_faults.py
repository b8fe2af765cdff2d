"""
The emulators' cost model and fault switchboard: what a request costs in
time, and which of the next requests go wrong and how.  Shared by every
emulator under `ecomsync.testing` and re-exported by each as ``Faults``.

`Faults` is frozen configuration; the mutable part (how many of the "next
N" requests are still to be hit, the seeded random, the shared link) lives
in `FaultRuntime`, which the emulator rebuilds whenever ``emulator.faults``
is assigned, so a new `Faults` always starts counting afresh.
"""

from __future__ import annotations

import random

import anyio
import attrs


@attrs.frozen(kw_only=True)
class Faults:
    """
    What the emulated shop costs and how it misbehaves.  All off by default.

    Costs (reliability-performance.md C.1: ``L_net + S_base + n*S_item +
    bytes/BW``):

    * *latency_ms*: network latency paid by every request, outside the
      worker pool (it does not hold a PHP-FPM worker).
    * *base_ms*: server time per request, inside the worker pool.
    * *per_item_ms*: server time per written/deleted sync item.
    * *per_upload_ms*: server time per media upload.
    * *bandwidth_bps*: bytes per second of one shared link; request and
      response bodies queue on it, so parallel transfers share it.
    * *workers_limit*: how many requests the server processes at once.

    Faults (D.2):

    * *storm_next* / *storm_probability*: answer the next N requests (or
      each request with that probability, from a ``random.Random`` seeded
      with *storm_seed*) with *storm_status* (429 or 503) and a
      ``Retry-After: <retry_after>`` header (``None``: no header; any
      string is sent verbatim so garbage and HTTP-dates can be tested).
      The token endpoint is spared unless *storm_auth*.
    * *reset_next*: drop the connection of the next N requests before
      anything is processed.  In-process this surfaces as
      `httpx.ReadError`; on uvicorn the connection is closed.
    * *drip_chunk_bytes* / *drip_interval_ms*: trickle every response body
      in chunks of that size with a pause between them (F5).
    * *commit_then_timeout*: for the next N writing requests, commit and
      then hold the response for *hang_s* seconds so the client's deadline
      fires after the write took effect (F3).
    """

    latency_ms: float = 0.0
    base_ms: float = 0.0
    per_item_ms: float = 0.0
    per_upload_ms: float = 0.0
    bandwidth_bps: float | None = None
    workers_limit: int | None = None

    storm_next: int = 0
    storm_probability: float = 0.0
    storm_seed: int = 0
    storm_status: int = 429
    retry_after: str | None = "1"
    storm_auth: bool = False

    reset_next: int = 0

    drip_chunk_bytes: int = 0
    drip_interval_ms: float = 50.0

    commit_then_timeout: int = 0
    hang_s: float = 60.0


@attrs.define
class FaultRuntime:
    """
    The consumable state behind one `Faults` value.
    """

    faults: Faults
    storms_left: int
    resets_left: int
    hangs_left: int
    rng: random.Random
    limiter: anyio.CapacityLimiter | None
    # Monotonic time at which the shared link is free again: transfers
    # queue behind each other like packets on one wire.
    link_free_at: float = 0.0

    @classmethod
    def from_faults(cls, faults: Faults) -> FaultRuntime:
        return cls(
            faults=faults,
            storms_left=faults.storm_next,
            resets_left=faults.reset_next,
            hangs_left=faults.commit_then_timeout,
            rng=random.Random(faults.storm_seed),  # noqa: S311 - not crypto
            limiter=(
                anyio.CapacityLimiter(faults.workers_limit)
                if faults.workers_limit
                else None
            ),
        )

    def take_storm(self, *, auth: bool) -> bool:
        """
        Whether this request is answered by the storm.
        """
        if auth and not self.faults.storm_auth:
            return False
        if self.storms_left > 0:
            self.storms_left -= 1
            return True
        p = self.faults.storm_probability
        return p > 0 and self.rng.random() < p

    def take_reset(self) -> bool:
        if self.resets_left > 0:
            self.resets_left -= 1
            return True
        return False

    def take_hang(self) -> bool:
        if self.hangs_left > 0:
            self.hangs_left -= 1
            return True
        return False

    async def transfer(self, nbytes: int) -> None:
        """
        Pay for *nbytes* on the shared link (no-op without a cap).
        """
        bps = self.faults.bandwidth_bps
        if not bps or nbytes <= 0:
            return
        now = anyio.current_time()
        start = max(now, self.link_free_at)
        self.link_free_at = start + nbytes / bps
        await anyio.sleep(self.link_free_at - now)


class FaultSwitch:
    """
    An emulator's ``faults``: assigning a `Faults` value rebuilds the
    `FaultRuntime`, so its counters start afresh.
    """

    _faults: Faults
    fault_runtime: FaultRuntime

    def _switch_faults(self, value: Faults | None) -> None:
        self._faults = value or Faults()
        self.fault_runtime = FaultRuntime.from_faults(self._faults)

    @property
    def faults(self) -> Faults:
        """
        The active faults; assigning starts their counters afresh.
        """
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._switch_faults(value)
