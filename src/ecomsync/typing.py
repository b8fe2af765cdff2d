"""
The pluggable parts of *ecomsync*, as Protocols.

Adapters implement these structurally; no base class is required.  The
data that crosses them (`Outgoing`, `Outcome`, `RunRecord`, ...) lives in
the top-level namespace.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from ._contracts import (
    Failure,
    Lease,
    Link,
    MediaLink,
    Outcome,
    Outgoing,
    PendingMedia,
    RunLease,
    RunRecord,
    Schedule,
    StagedMedia,
)
from ._model import MediaRef, Order, Record
from ._spec import DataType, Selection
from .events import Event


__all__ = [
    "ErpSession",
    "ErpSource",
    "Instrumentation",
    "LicensePool",
    "LinkStore",
    "MediaJournal",
    "Platform",
    "Record",
    "RunLeases",
    "RunOwnership",
    "RunStore",
    "ScheduleStore",
    "Selection",
    "StateStore",
    "SupportsAclose",
    "SupportsCheck",
    "SupportsMediaIdFor",
    "SupportsMediaOnPush",
    "SupportsPendingBatch",
    "SupportsRequestEstimate",
    "WatermarkStore",
]


@runtime_checkable
class SupportsAclose(Protocol):
    """
    **Protocol:** Something that holds resources until ``aclose()``.

    Everything *ecomsync* ships that holds resources (`Synchronizer`, the
    adapters, the stores, the licence pools, `MediaStaging`) implements
    it the same way: ``async with thing:`` closes *thing* on exit;
    closing twice does nothing; using it after ``aclose()`` raises
    `~ecomsync.exceptions.ResourceClosed`.  Whoever creates an object
    closes it: a `Synchronizer` closes what it made itself, and what it
    was given only with ``owns=True``.  An `ErpSource` or `LicensePool`
    of your own need not implement it.

    .. versionadded:: 26.1.0
    """

    async def aclose(self) -> None:
        """
        Release what the object holds (connections, files, locks).
        """


@runtime_checkable
class ErpSource(Protocol):
    """
    **Protocol:** An ERP ("Warenwirtschaft") that *ecomsync* reads from and
    imports orders into.

    A session is one ERP connection: the engine opens one per licence it
    holds and never more.
    """

    def session(self) -> AbstractAsyncContextManager[ErpSession]:
        """
        Open one connection to the ERP (log in), closed on exit.
        """


class ErpSession(Protocol):
    """
    **Protocol:** One open connection to an ERP.
    """

    def read(
        self, data_type: DataType, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Record]]:
        """
        Yield the selected records of *data_type* in batches, in number
        order (categories: every parent before its children, across
        batches).  `DataType.ADDRESSES_AND_ORDERS` is not read from an ERP.

        For `ChangedSince`, yield with each changed record every record
        that claims one of its numbers (its own or a variant's), changed
        or not: a duplicate added later is then read with the record it
        duplicates and both fail as ambiguous, instead of the newcomer
        silently overwriting what the shop shows.

        An adapter whose ERP keeps each order's platform (see
        `import_orders`) may take a keyword ``platform: str | None =
        None``: the engine then reads `DataType.ORDER_STATUS` with the
        run's platform name, and the read yields, per order number, the
        statuses of that platform's orders, else those of orders whose
        platform the ERP does not know; never another platform's.  The
        engine passes it only where ``read`` and ``count`` name it, and
        keeps only the platform's own statuses of what any adapter reads.

        .. versionchanged:: 26.1.0
           The optional ``platform`` keyword.
        """

    async def count(
        self, data_type: DataType, selection: Selection
    ) -> int | None:
        """
        How many records `read` would yield, or ``None`` if unknown; with
        the ``platform`` keyword where the adapter's `read` takes it.
        """

    async def read_media(self, ref: MediaRef) -> bytes:
        """
        The content of an image or document.
        """

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        """
        Create customers and orders; idempotent by the platform's order
        number (importing an order twice creates it once).

        The engine names each order's platform in ``Order.platform`` (the
        name it is registered under): shops number orders and customers
        each on their own, so an ERP that serves several platforms keeps
        them by platform and number, and names the platform in the
        ``OrderStatus.platform`` of what it reads back where it can.  An
        adapter that ignores it keeps working as before (matching by
        number alone); ``None`` means unknown.

        An order imported again (it changed in the shop) never reports
        success while the ERP holds something else: cancelled in the
        shop, its ERP order is cancelled, or, where the ERP cannot (it
        shipped), the outcome fails on ``state`` naming the order and the
        ERP order; edited in the shop (lines, addresses, charges), the
        outcome fails on the field that differs.  Another state (what
        order status pushed back) changes nothing.  `ErpSourceContract`
        holds an adapter to this.
        """


@runtime_checkable
class Platform(Protocol):
    """
    **Protocol:** An online shop or marketplace.

    Attributes:
        supported: The data types this platform can handle.
        batch_size: How many records `push` takes per call, at most.

    Optional capabilities refine what the engine does; each is a small
    protocol of its own, checked with ``isinstance``: `SupportsMediaOnPush`,
    `SupportsRequestEstimate` and `SupportsCheck`.
    """

    supported: frozenset[DataType]
    batch_size: int

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        """
        Create or update *items* (categories, articles, stock levels or
        order statuses); one outcome per item, in order.  One bad item
        fails alone.
        """

    def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        """
        Yield the selected orders with their customers and addresses.
        """

    async def upload_media(self, media: StagedMedia) -> str:
        """
        Upload a staged file; return the platform's media id.
        """

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        """
        Make *media* exactly the media of the written record *target*.
        """

    async def aclose(self) -> None:
        """
        Release connections.
        """


@runtime_checkable
class SupportsMediaOnPush(Protocol):
    """
    **Protocol:** A platform that writes a record's media with the record.

    When ``media_on_push`` is true, the engine uploads a record's media
    *before* `Platform.push` and hands them over in ``Outgoing.media`` (an
    empty tuple for a record without media), to be written in the same
    request; `Platform.attach_media` is then not called.  Check with
    ``isinstance(platform, SupportsMediaOnPush) and
    platform.media_on_push``.

    .. versionadded:: 26.1.0
    """

    @property
    def media_on_push(self) -> bool:
        """
        Whether `push` writes the media in ``Outgoing.media``.
        """


@runtime_checkable
class SupportsMediaIdFor(Protocol):
    """
    **Protocol:** A platform whose media ids follow from the content, so
    that a record's push can create its media entities itself.

    For a platform that is also `SupportsMediaOnPush`, the engine hands
    content its store does not know yet to `push` under
    ``media_id_for(sha256)`` (the push creates that media entity with the
    record) and uploads the bytes *after* the push, to that id; a failed
    upload fails the record, with no checksum, so the next run retries.
    `Platform.upload_media` must then answer that same id, or the id the
    platform already holds the content under (the record fails once and
    the next run links that one).

    .. versionadded:: 26.1.0
    """

    def media_id_for(self, sha256: str) -> str:
        """
        The platform's media id for content with this SHA-256 (hex).
        """


@runtime_checkable
class SupportsRequestEstimate(Protocol):
    """
    **Protocol:** A platform that estimates its own request count, for
    `Synchronizer.plan`.

    .. versionadded:: 26.1.0
    """

    def estimate_requests(
        self,
        data_type: DataType,
        *,
        writes: int,
        uploads: int,
        with_media: int,
    ) -> int:
        """
        An upper estimate of the requests for *writes* record writes,
        *uploads* new files and *with_media* records that carry media.
        """


@runtime_checkable
class SupportsCheck(Protocol):
    """
    **Protocol:** An adapter (platform or ERP source) that can say whether
    it is usable before a run: reachable, accepting its credentials,
    granting the permissions it needs.

    .. versionadded:: 26.1.0
    """

    async def check(self) -> list[str]:
        """
        One clear message per problem found (an unreachable host with the
        operating system's reason, refused credentials, a missing
        permission); an empty list when all is well.  Writes nothing.
        """


class LicensePool(Protocol):
    """
    **Protocol:** The ERP connection licences a tenant owns.
    """

    @property
    def size(self) -> int:
        """
        How many licences exist.
        """

    def lease(
        self, holder: str, *, timeout: float
    ) -> AbstractAsyncContextManager[Lease]:
        """
        Hold one licence for the block; wait up to *timeout* seconds, then
        raise `NoFreeLicense` (0: take a free licence, never wait;
        ``inf``: wait until one is free, or a cancel ends the wait).  The
        licence comes back however the block ends.
        """

    async def holders(self) -> tuple[str, ...]:
        """
        Who holds licences right now.
        """


class LinkStore(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** What a platform already has: per platform, type and
    record number the platform's id and the checksum of the payload last
    sent; and platform media by content hash.

    .. versionadded:: 26.1.0
    """

    async def get_links(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> dict[str, Link]: ...
    async def put_links(
        self, platform: str, data_type: DataType, links: Mapping[str, Link]
    ) -> None: ...
    async def get_media_id(self, platform: str, sha256: str) -> str | None: ...
    async def put_media_id(
        self, platform: str, sha256: str, media_id: str
    ) -> None: ...


class RunStore(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** The runs, as the monitoring view shows them, and the
    cancel requests that reach a run from other tasks and processes.
    ``list_runs`` gives the newest first: by start, and runs started at
    one moment in the reverse order they were first saved.

    .. versionadded:: 26.1.0
    """

    async def save_run(self, run: RunRecord) -> None: ...
    async def get_run(self, run_id: str) -> RunRecord | None: ...
    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]: ...
    async def request_cancel(self, run_id: str) -> None: ...
    async def cancel_requested(self, run_id: str) -> bool: ...


@runtime_checkable
class RunOwnership(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** An optional store role: the heartbeats of live runs, so
    that a run whose process died is found and ended as
    `RunStatus.ABANDONED` instead of staying "running" for ever.  A store
    without it still works; its dead runs just wait for `resume`.

    .. versionadded:: 26.1.0
    """

    async def live_runs(self) -> list[RunRecord]:
        """
        The queued and running runs, oldest first, with their heartbeats.
        """

    async def beat(self, run_id: str, at: datetime) -> bool:
        """
        The owner of *run_id* is alive at *at*; ``False`` once the run is
        no longer queued or running.
        """

    async def abandon_run(self, run: RunRecord, *, seen: RunRecord) -> bool:
        """
        Save *run*, ended, in place of *seen*, unless the run changed
        status or beat since *seen* was read.
        """

    async def drop_claim(self, schedule_id: str, holder_prefix: str) -> None:
        """
        Free schedule *schedule_id* if its claim's holder starts with
        *holder_prefix* (the dead process that claimed it), leaving it as
        due as it was.
        """


@runtime_checkable
class RunLeases(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** An optional store role: leases by name, held by one run
    at a time across every process sharing the store.  A run holds
    ``"orders:<platform>"`` while it imports that platform's orders, so
    two processes never import the same orders at once (two ERP orders
    for one shop order).  A store without it still works; runs of
    separate processes then import at once, as before.

    .. versionadded:: 26.1.0
    """

    async def lease_holder(self, name: str) -> RunLease | None:
        """
        Who holds lease *name*, or ``None``.
        """

    async def take_lease(
        self, lease: RunLease, *, seen: RunLease | None
    ) -> bool:
        """
        Hold *lease* in place of *seen* (``None``: nobody holds it); only
        if the lease is still as *seen* (same token and heartbeat).
        """

    async def renew_lease(self, name: str, token: str, at: datetime) -> bool:
        """
        The holder of *name* with *token* is alive at *at*; ``False`` once
        it no longer holds it (taken over).
        """

    async def release_lease(self, name: str, token: str) -> None:
        """
        Give lease *name* up, if it is still held with *token*.
        """


class WatermarkStore(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** Where the next scheduled run carries on: the watermark
    ("date of last synchronisation") per platform and type, and the
    failure ledger of records to try again (one entry per record; the
    last failure written wins).

    ``set_watermark`` never moves a watermark backwards: a moment not
    later (as an instant, whatever its offset) than the one kept leaves
    it, so resuming an old scheduled run cannot set it back to that
    run's start.

    .. versionadded:: 26.1.0
    """

    async def get_watermark(
        self, platform: str, data_type: DataType
    ) -> datetime | None: ...
    async def set_watermark(
        self, platform: str, data_type: DataType, moment: datetime
    ) -> None: ...
    async def add_failures(
        self, platform: str, failures: Sequence[Failure]
    ) -> None: ...
    async def list_failures(
        self, platform: str, data_type: DataType | None = None
    ) -> list[Failure]: ...
    async def clear_failures(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> None: ...


class MediaJournal(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** The staging journal: files registered before they are
    written, closed after their upload.

    An entry is keyed by its ``PendingMedia.scope`` and content hash.  A
    store that also has `SupportsPendingBatch` closes entries by that
    key; without it, `MediaStaging` writes entries one by one and closes
    them with ``remove_pending(sha256)``, which then closes the entries
    of that content (a store keyed by hash alone keeps working, for one
    process at a time).

    .. versionadded:: 26.1.0
    """

    async def add_pending(self, pending: PendingMedia) -> None: ...
    async def remove_pending(self, sha256: str) -> None: ...
    async def list_pending(self) -> list[PendingMedia]: ...


@runtime_checkable
class SupportsPendingBatch(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** A `MediaJournal` that writes many entries in one
    transaction each; `MediaStaging` uses it when the store has it, else
    the one-by-one methods.  The built-in stores have it, and also
    ``update_pending(closing, adding)``, which `MediaStaging` prefers: a
    group's files taken away, their entries closed and new entries
    registered in one call (one worker-thread hop with `SqliteStore`).
    ``add_pending_many(pendings)`` registers all of them (replacing an
    entry of the same scope and hash); ``remove_pending_many(keys)``
    closes the entries of *keys*, each ``(scope, sha256)``, and ignores
    unknown keys.

    .. versionadded:: 26.1.0
    """

    async def add_pending_many(
        self, pendings: Sequence[PendingMedia]
    ) -> None: ...
    async def remove_pending_many(
        self, keys: Sequence[tuple[str, str]]
    ) -> None: ...


class ScheduleStore(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** Schedules, and the claims that keep two processes from
    running one schedule at once.

    .. versionadded:: 26.1.0
    """

    async def save_schedule(self, schedule: Schedule) -> None: ...
    async def list_schedules(self) -> list[Schedule]: ...
    async def claim_schedule(
        self,
        schedule_id: str,
        holder: str,
        until: datetime,
        *,
        now: datetime | None = None,
    ) -> bool:
        """
        Claim the schedule for *holder* until *until* if it is due at
        *now* (the caller's clock; the store's wall clock if ``None``)
        and nobody holds it, or its claim ran out before *now*.  A
        schedule not yet due is refused (``False``).

        .. versionchanged:: 26.1.0
           Refuses a schedule that is not due yet.
        """

    async def release_schedule(
        self, schedule_id: str, holder: str, next_due: datetime
    ) -> None: ...
    async def delete_schedule(self, schedule_id: str) -> bool:
        """
        Remove the schedule *schedule_id*; whether there was one
        (``ecomsync schedules remove``).

        .. versionadded:: 26.1.0
        """


class StateStore(
    LinkStore,
    RunStore,
    WatermarkStore,
    MediaJournal,
    ScheduleStore,
    Protocol,
):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** Where *ecomsync* remembers: the union of the store roles
    (`LinkStore`, `RunStore`, `WatermarkStore`, `MediaJournal`,
    `ScheduleStore`) and ``aclose``.

    A component that needs one role asks for that role only; a store
    implements them all.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       Split into roles; `claim_schedule` takes the caller's *now*.
    """

    async def aclose(self) -> None: ...


@runtime_checkable
class Instrumentation(Protocol):
    """
    **Protocol:** What a run reports for telemetry, beyond its events.

    Passed as ``Synchronizer(..., instrumentation=...)``; the default
    observes nothing.  `ecomsync.telemetry.OpenTelemetry` implements it.
    Every method is called from inside the run and must return quickly;
    an exception from one is logged (``ecomsync.telemetry``) and ignored.
    Nothing passed carries a credential: no URL path or query, no header.

    .. versionadded:: 26.1.0
    """

    def event(self, event: Event) -> None:
        """
        Every event of every run, as it happens (also when no host reads
        the run's events).
        """

    def batch(
        self, run_id: str, data_type: DataType, size: int
    ) -> AbstractContextManager[object]:
        """
        A block around one batch of *size* records, in the task that
        works it: the events of its records and its HTTP requests happen
        inside.
        """

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
        One HTTP request attempt ended: *status* if an answer came,
        *error* (an exception class name, or the status code of a
        retryable answer) if it failed, *duration* in seconds, *sent*
        body bytes.
        """

    def license_wait(self, run_id: str, seconds: float) -> None:
        """
        Run *run_id* waited *seconds* for its ERP licence.
        """
