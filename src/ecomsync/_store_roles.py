"""
The state store's roles, as Protocols; documented and imported as
`ecomsync.typing` (kept apart so that neither file grows past the team's
size limit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from ._contracts import (
    Failure,
    Link,
    NumberClaim,
    PendingMedia,
    RunLease,
    RunRecord,
    Schedule,
)
from ._spec import DataType


__all__ = [
    "CancelReasons",
    "IdentityClaims",
    "LinkStore",
    "LinkedNumbers",
    "MediaJournal",
    "RunLeases",
    "RunOwnership",
    "RunStore",
    "ScheduleStore",
    "StateStore",
    "StockLayouts",
    "SupportsPendingBatch",
    "WatermarkStore",
]


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


@runtime_checkable
class LinkedNumbers(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** An optional store role: every number a platform holds
    a link for, per type, with its variants' numbers.  With it, the
    engine finds a number that landed in an earlier run (an article's,
    or a variant's) under another spelling the platform takes for the
    same (`~ecomsync.typing.SupportsNumberIdentity`), when a number it
    has no link for turns up in a read that is not `All`: it asks once
    per type and run, and only then, and again for a batch that holds
    such a twin.  A store without it still works;
    such a twin is then caught where it is read together with the
    number that landed, or by the platform adapter.

    .. versionadded:: 26.1.0
    """

    async def linked_numbers(
        self, platform: str, data_type: DataType
    ) -> dict[str, tuple[str, ...]]:
        """
        The numbers of *data_type* that *platform* has a link for, each
        with the numbers of the variants it landed with
        (``Link.variants``; ``()`` where it had none or the
        store does not know them).
        """


@runtime_checkable
class IdentityClaims(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** An optional store role: numbers new to a platform,
    claimed by the platform's identity of them
    (`~ecomsync.typing.SupportsNumberIdentity`) before their first write,
    one spelling per identity, across every process sharing the store.
    With it, two runs side by side (a manual run beside a scheduled one,
    two processes with different selections) that each hold one spelling
    of a number the platform takes for one (``A-01`` and ``"A-01 "`` on
    WooCommerce) never both write: the run that finds the identity held
    under another spelling reads that spelling's record from the ERP, and
    both fail as twins do; a spelling the ERP no longer has is taken
    over.  Claims stay (they are the store's index of identities); only
    an article's own or variant numbers without a link claim, one call
    per batch.  A store without it still works; such twins written side
    by side are then left to the platform (docs/concepts.md, "Duplicates
    and other ambiguities").

    .. versionadded:: 26.1.0
    """

    async def claim_numbers(
        self,
        platform: str,
        data_type: DataType,
        claims: Sequence[NumberClaim],
        *,
        seen: Sequence[NumberClaim] = (),
    ) -> list[NumberClaim]:
        """
        Take each of *claims* for its identity where nobody holds it, or
        where it is held as in *seen* (the claim of that identity as the
        caller saw it: taken over), all in one transaction; return the
        claims then held for the identities of *claims* under another
        spelling than asked (``NumberClaim.number``), which were not
        taken.  A claim held under the spelling asked counts as taken,
        whichever run took it.
        """


class RunStore(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** The runs, as the monitoring view shows them, and the
    cancel requests that reach a run from other tasks and processes.
    ``list_runs`` gives the newest first: by start, and runs started at
    one moment in the reverse order they were first saved.  A cancel
    request survives saves, but for a save as `RunStatus.QUEUED` (the
    run starts again, resumed), which clears it.

    .. versionadded:: 26.1.0
    """

    async def save_run(self, run: RunRecord) -> None: ...
    async def get_run(self, run_id: str) -> RunRecord | None: ...
    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]: ...
    async def request_cancel(self, run_id: str) -> None: ...
    async def cancel_requested(self, run_id: str) -> bool: ...


@runtime_checkable
class CancelReasons(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** An optional store role: a cancel request says who asked,
    so that a run stopped from another process records that
    (``RunRecord.error``: ``ecomsync cancel by ops@host``) instead of "the
    state store".  The first reason asked stays; a save as
    `RunStatus.QUEUED` clears it with the request.  A store without it
    still works; its cancelled runs just name no one.

    .. versionadded:: 26.1.0
    """

    async def request_cancel(
        self, run_id: str, reason: str | None = None
    ) -> None:
        """
        Ask run *run_id* to stop, for *reason* (``None``: none given).
        """

    async def cancel_reason(self, run_id: str) -> str | None:
        """
        The reason the cancel request of *run_id* gave; ``None`` if it
        gave none or nobody asked.
        """


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


@runtime_checkable
class StockLayouts(Protocol):  # pragma: no cover -- a Protocol only
    """
    **Protocol:** An optional store role: per platform, the stock layout
    (`~ecomsync.typing.SupportsStockLayout`) its stock was last written
    under in full.  A stock run whose selection is `~ecomsync.ChangedSince`
    (every scheduled run) reads all stock once when the platform's layout
    differs from the one kept here, so that a changed warehouse ->
    location mapping reaches every level, and says so
    (``RunStarted.widened``); the layout is kept once the run's stock
    went through, a level failed or not.  A store without it still works;
    a changed mapping then reaches the shop with the next stock run with
    `~ecomsync.All` only.

    .. versionadded:: 26.1.0
    """

    async def get_stock_layout(self, platform: str) -> str | None:
        """
        The layout *platform*'s stock was last written under in full;
        ``None`` if none was kept.
        """

    async def set_stock_layout(self, platform: str, layout: str) -> None:
        """
        *platform*'s stock went out in full under *layout*.
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
