"""
The data that crosses the Protocols in `ecomsync.typing`: what the engine
hands adapters and stores, and what they hand back.  Frozen, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import anyio
import anyio.to_thread
import attrs

from ._model import MediaKind, Record, StockLevel
from ._spec import DataType, SyncSpec, Trigger
from .exceptions import ConfigurationError


@attrs.frozen(kw_only=True)
class Outgoing:
    """
    A record on its way to a platform, with the platform id the store
    already knows for it (``None`` on first contact).

    For a platform that declares ``media_on_push = True``, *media* holds
    the record's media, already uploaded, to write with the record (an
    empty tuple: the record has none, its old media go); it is ``None``
    for a type the platform keeps no media on
    (`~ecomsync.typing.SupportsMediaTypes`: leave its media alone).
    Otherwise it is ``None`` and the engine calls `Platform.attach_media`
    after the push.

    For a platform that declares ``stock_on_push = True``
    (`~ecomsync.typing.SupportsStockOnPush`), an article's *stock* holds
    the stock levels of its own number and its variants' that the run has
    at hand, to write in the product rows of the article's own write
    (``None``: none to write, as for every other platform and type).

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0 *stock*.
    """

    record: Record
    platform_id: str | None = None
    media: tuple[MediaLink, ...] | None = None
    stock: tuple[StockLevel, ...] | None = None


@attrs.frozen(kw_only=True)
class Outcome:
    """
    What happened to one record at the far side.

    ``error is None`` means it was written; *platform_id* is then the id it
    has there.  Otherwise *error* is the far side's own message and *field*
    the offending field where known.

    *stock* answers an article's ``Outgoing.stock``: one outcome per stock
    level written with the article (its number, the id of the product
    that holds it); a level without an outcome here that is ``ok`` is sent
    by the run's stock sync as usual.

    *media_gone* names media ids of the record's links (`MediaLink`) that the
    shop no longer has (deleted there): the engine forgets them, so the
    next run uploads their content again.  The record should fail on
    such a link rather than land pointing at a missing file.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0 *stock*, *media_gone*.
    """

    number: str
    platform_id: str | None = None
    error: str | None = None
    field: str | None = None
    stock: tuple[Outcome, ...] = ()
    media_gone: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.frozen(kw_only=True)
class StagedMedia:
    """
    A file in the staging directory, named by its content hash.

    *content*, when given, is the file's content already in memory:
    `read_bytes` returns it without reading the disk.  A file staged in
    memory only (`MediaStaging` *memory_bytes*) has no file at *path*.

    .. versionadded:: 26.1.0
    """

    sha256: str
    path: Path
    size: int
    filename: str
    mime_type: str
    kind: MediaKind = MediaKind.IMAGE
    content: bytes | None = attrs.field(
        default=None, repr=False, eq=False, hash=False
    )

    def read_bytes(self) -> bytes:
        """
        The file's content (from memory when the stager kept it).
        """
        if self.content is not None:
            return self.content
        return self.path.read_bytes()

    async def aread(self) -> bytes:
        """
        The file's content without blocking the event loop: from memory
        at once when the stager kept it (no thread), else read from disk
        in a worker thread.

        .. versionadded:: 26.1.0
        """
        if self.content is not None:
            return self.content
        return await anyio.to_thread.run_sync(self.path.read_bytes)


@attrs.frozen(kw_only=True)
class MediaLink:
    """
    A platform media item to attach to a record, in *position* order; the
    first image is the cover.

    *remembered*: the id is one the store kept from an earlier run, not
    one this run uploaded or made; the shop may have lost it since (the
    merchant deleted the file), so a platform checks it before linking
    it to a record that does not hold it (and reports it in
    ``Outcome.media_gone`` if it is gone).

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0 *remembered*.
    """

    media_id: str
    sha256: str
    position: int
    kind: MediaKind = MediaKind.IMAGE
    remembered: bool = False


@attrs.frozen
class Link:
    """
    What the store remembers of a record on a platform: its id there and
    the checksum of the payload last sent.

    For an article, *variants* are the numbers of the variants it had when
    it last landed (``()``: none, the shop sells it under its own number);
    ``None`` where that is not known (links of other types, links written
    before, or a store that does not keep it).  The engine sends the stock
    of a variant the last push gave the article anew (docs/concepts.md,
    "Stock of variants made anew"); where it does not know, it sends the
    stock of every variant of an article that landed with changes.

    .. versionchanged:: 26.1.0
       *variants* (keyword only).
    """

    platform_id: str | None
    checksum: str
    variants: tuple[str, ...] | None = attrs.field(default=None, kw_only=True)


class RunStatus(enum.Enum):
    """
    Where a run is in its life.

    .. versionadded:: 26.1.0
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Its process died (or stopped beating) before it ended; another
    #: process found it and ended it, with the reason in its record's
    #: *error*.
    #: It can be resumed.
    #:
    #: .. versionadded:: 26.1.0
    ABANDONED = "abandoned"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


@attrs.frozen(kw_only=True)
class TypeCounts:
    """
    What happened to the records of one data type in a run.

    .. versionadded:: 26.1.0
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


@attrs.frozen(kw_only=True)
class Refusal:
    """
    A record that would fail validation, and why; or an order a platform
    cannot hand over as it is (`ecomsync.typing.Platform.fetch_orders`).

    *if_imported*, for an order a platform yields, says for which orders
    the refusal holds where the platform cannot tell whether the ERP has
    the order: ``None`` (the default) for every order, ``True`` only for
    an order the engine imported before (the state store links its
    number), ``False`` only for one it did not.  The engine drops a
    refusal that does not hold without a word, so a platform may yield
    one of each for a number, each with its own reason.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0 *if_imported*.
    """

    number: str
    field: str
    reason: str
    if_imported: bool | None = None


@attrs.frozen(kw_only=True)
class Failure:
    """
    A record that failed: kept in the ledger until a run gets it through.

    .. versionadded:: 26.1.0
    """

    data_type: DataType
    number: str
    message: str
    field: str | None = None
    run_id: str = ""


def _counts(
    value: Mapping[DataType, TypeCounts],
) -> Mapping[DataType, TypeCounts]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class RunOwner:
    """
    The process that runs a run: *host* name, process id *pid*, when that
    process started (*started*, seconds after the host booted: a step of
    the wall clock does not move it) and which boot of the host that was
    (*boot*, Linux's boot id), so that a reused pid is not taken for the
    owner, and the *pid_space* the pid counts in (Linux: the pid
    namespace), so that containers sharing a host name do not judge each
    other's pids.  ``None`` where the system does not tell.

    .. versionadded:: 26.1.0
    """

    host: str
    pid: int
    started: float | None = None
    pid_space: str | None = None
    boot: str | None = None

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


@attrs.frozen(kw_only=True)
class RunLease:
    """
    Who holds the lease *name* in a store (`ecomsync.typing.RunLeases`):
    run *run_id*, in process *owner*, since it took it with *token* (new
    at each take, so a holder that lost the lease cannot release or renew
    the next one's); *heartbeat_at* is when the holder last said it was
    alive.  A run holds ``"orders:<platform>"`` while it imports that
    platform's orders, so that no other process imports them at once.

    .. versionadded:: 26.1.0
    """

    name: str
    run_id: str
    token: str
    owner: RunOwner | None
    heartbeat_at: datetime


@attrs.frozen(kw_only=True)
class NumberClaim:
    """
    A number new to the shop claimed in a store before its first write
    (`ecomsync.typing.IdentityClaims`): the platform's *identity* of it
    (`~ecomsync.typing.SupportsNumberIdentity`; ``"a-01"`` for ``A-01``,
    ``a-01`` and ``"A-01 "`` on WooCommerce), held under the spelling
    *number*, which the record *holder* carries (its own number, or a
    variant's of that article), by run *run_id*.  Two spellings of one
    identity are one product to the platform: of two runs side by side,
    the one whose spelling does not hold the claim finds the other.

    .. versionadded:: 26.1.0
    """

    identity: str
    number: str
    holder: str
    run_id: str


@attrs.frozen(kw_only=True)
class RunRecord:
    """
    One run as the monitoring view shows it.

    A queued or running run has an *owner* (the process running it) and,
    read from the store, a *heartbeat_at*: the last time that process said
    it was alive.  Whoever starts a run ends the runs whose owner is dead
    as `RunStatus.ABANDONED` (keeping their last heartbeat).

    *error* is what a failed run failed with, why an abandoned run was
    ended, or who cancelled a cancelled run.

    .. versionadded:: 26.1.0
    """

    id: str
    trigger: Trigger
    platform: str
    spec: SyncSpec
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None = None
    holder: str = ""
    counts: Mapping[DataType, TypeCounts] = attrs.field(
        factory=dict, converter=_counts, hash=False
    )
    failures: tuple[Failure, ...] = ()
    error: str | None = None
    schedule_id: str | None = None
    owner: RunOwner | None = None
    heartbeat_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"<RunRecord {self.id} {self.trigger.value} on "
            f"{self.platform!r}: {self.status.value}>"
        )


@attrs.frozen(kw_only=True)
class Schedule:
    """
    A spec that `Synchronizer.serve` runs every *interval*, or at the
    times of the *cron* rule (5 fields, read in the time zone *zone*,
    an IANA name such as ``Europe/Berlin``; *interval* is then zero).

    .. versionadded:: 26.1.0
    """

    id: str
    spec: SyncSpec
    interval: timedelta
    next_due: datetime
    cron: str | None = None
    zone: str | None = None


@attrs.frozen(kw_only=True)
class PendingMedia:
    """
    A registered transfer in the staging journal.

    An entry is keyed by *scope* and *sha256*: two runs (or processes)
    staging the same content in their own directories (their scopes) hold
    two entries, and closing one leaves the other.

    .. versionchanged:: 26.1.0
       Added *scope* (`MediaStaging` gives each run's staging directory).
    """

    sha256: str
    size: int
    registered_at: datetime
    meta: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    #: Who staged it (a run's staging directory); ``""`` for none.
    scope: str = ""


@attrs.frozen
class Lease:
    """
    One ERP connection licence, held by *holder* (a run id).

    .. versionadded:: 26.1.0
    """

    holder: str
    slot: int


@contextmanager
def needs_extra(who: str, extra: str) -> Iterator[None]:
    """
    Import an optional dependency in the block: where it is missing, a
    `ConfigurationError` says that *who* needs the extra *extra*.
    """
    try:
        yield
    except ImportError as exc:
        raise ConfigurationError(
            f"{who} needs the {extra!r} extra: pip install 'ecomsync[{extra}]'"
        ) from exc
