"""
The pluggable parts of *ecomsync*, as Protocols.

Adapters implement these structurally; no base class is required.  The
data that crosses them (`Outgoing`, `Outcome`, `RunRecord`, ...) lives in
the top-level namespace.  The state store's roles are defined in a
private module and exported here.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Protocol, runtime_checkable

from ._contracts import (
    Lease,
    MediaLink,
    Outcome,
    Outgoing,
    PendingMedia,  # noqa: F401 -- docs/api.md documents it here
    Refusal,
    StagedMedia,
)
from ._model import MediaRef, Order, Record
from ._spec import DataType, Selection
from ._stock_capabilities import SupportsStockLayout
from ._store_roles import (
    CancelReasons,
    IdentityClaims,
    LinkedNumbers,
    LinkStore,
    MediaJournal,
    RunLeases,
    RunOwnership,
    RunStore,
    ScheduleStore,
    StateStore,
    StockLayouts,
    SupportsPendingBatch,
    WatermarkStore,
)
from .events import Event


__all__ = [
    "CancelReasons",
    "ErpSession",
    "ErpSource",
    "IdentityClaims",
    "Instrumentation",
    "LicensePool",
    "LinkStore",
    "LinkedNumbers",
    "MediaJournal",
    "Platform",
    "Record",
    "RunLeases",
    "RunOwnership",
    "RunStore",
    "ScheduleStore",
    "Selection",
    "StateStore",
    "StockLayouts",
    "SupportsAclose",
    "SupportsCheck",
    "SupportsMediaIdFor",
    "SupportsMediaOnPush",
    "SupportsMediaTypes",
    "SupportsNumberIdentity",
    "SupportsPendingBatch",
    "SupportsRequestCount",
    "SupportsRequestEstimate",
    "SupportsStockLayout",
    "SupportsStockOnPush",
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
        engine passes it to ``read`` and to ``count`` each where that
        method names it (a ``count`` without it counts every platform's:
        the progress total starts high and ends at what was done), and
        keeps only the platform's own statuses of what any adapter reads.

        An adapter may also take a keyword ``exclude: Container[str] |
        None = None``.  A run that writes the stock with the articles
        (`SupportsStockOnPush`) has read the stock of the articles it
        wrote already; it then reads `DataType.STOCK` with `All` and
        those numbers as *exclude*, where ``read`` names it.  The read
        may leave out the level of each number in *exclude* for which
        it has exactly one level; a number with several levels (one per
        warehouse, or two records numbered alike) is yielded whole.
        Yielding an excluded level anyway is correct, only slower.  Test
        *exclude* with ``in`` only: it may hold every number of the
        catalogue.

        .. versionchanged:: 26.1.0
           The optional ``platform`` and ``exclude`` keywords.
        """

    async def count(
        self, data_type: DataType, selection: Selection
    ) -> int | None:
        """
        How many records `read` would yield, or ``None`` if unknown.  May
        take the ``platform`` keyword as `read` does; the engine passes it
        where ``count`` itself names it.
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
    `SupportsMediaIdFor`, `SupportsMediaTypes`, `SupportsStockOnPush`,
    `SupportsNumberIdentity`, `SupportsStockLayout`,
    `SupportsRequestEstimate`, `SupportsRequestCount` and `SupportsCheck`.
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
    ) -> AsyncIterator[Sequence[Order | Refusal]]:
        """
        Yield the selected orders with their customers and addresses.

        An order the platform cannot hand over as it is (its number is
        held by another order of the shop too, so the ERP could not tell
        them apart) is yielded as a `~ecomsync.Refusal` naming its number,
        the field and the reason instead: the engine fails it like an
        invalid record (event, failure ledger) and imports nothing of it.

        .. versionchanged:: 26.1.0
           May yield a `~ecomsync.Refusal`.
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
class SupportsStockOnPush(Protocol):
    """
    **Protocol:** A platform that writes an article's stock in the
    article's own write (Shopware 6: ``stock`` is a field of the product).

    When ``stock_on_push`` is true and a run syncs both
    `DataType.ARTICLES` and `DataType.STOCK` (stock with `All`), the
    engine imports the run's orders first, reads the stock levels of each
    article batch before pushing it and hands each article the levels of
    its numbers that changed in ``Outgoing.stock``.  `Platform.push`
    writes each level it takes in the product row of its number, in the
    same request as the article, and answers one ``ok`` `Outcome` per
    level written in the article's ``Outcome.stock``.  A level it does not
    take (its policy refuses or reports it, say negative stock) it leaves
    out and answers nothing for: the run's stock sync sends it as usual,
    and it fails there on its own, never failing the article.  An article that
    fails answers no stock.  Check with ``isinstance(platform,
    SupportsStockOnPush) and platform.stock_on_push``.

    .. versionadded:: 26.1.0
    """

    @property
    def stock_on_push(self) -> bool:
        """
        Whether `push` writes an article's ``Outgoing.stock``.
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
class SupportsMediaTypes(Protocol):
    """
    **Protocol:** A platform that keeps media on some data types only.

    The engine reads, stages and uploads no media of a record whose type
    is not in ``media_types``, and hands it none (`Platform.attach_media`
    is not called for it): the record lands without them, as the
    platform's documentation says.  Without it, every data type that
    carries media (categories, articles) takes them.

    .. versionadded:: 26.1.0
    """

    @property
    def media_types(self) -> frozenset[DataType]:
        """
        The data types whose media the platform writes.
        """


@runtime_checkable
class SupportsNumberIdentity(Protocol):
    """
    **Protocol:** A platform that takes some different record numbers
    for one: WooCommerce finds and keeps SKUs ignoring case, accents and
    trailing spaces, so ``A-01``, ``a-01`` and ``"A-01 "`` are one product
    to it.

    The engine keys the numbers of *data_type* by ``number_identity``
    wherever it looks for a number claimed twice, so records whose
    numbers are one to the platform fail as a number claimed twice does
    (every party, each message naming both spellings): in one batch, in
    different batches of one read, and where the newcomer's twin landed
    in an earlier run (the engine then reads that twin from the ERP, and
    both fail: the shop keeps what it holds).  Without it (or for a type
    whose numbers the platform compares exactly, answering *number*
    itself), numbers compare exactly.  Called for every number read:
    keep it cheap.

    .. versionadded:: 26.1.0
    """

    def number_identity(self, data_type: DataType, number: str) -> str:
        """
        *number* of a *data_type* record as the platform compares it:
        two numbers with one identity are one number to it.
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

        A run pushes each read batch's changes on their own: for each
        write call beyond ``ceil(writes / batch_size)`` the plan adds
        what one record more than a full batch adds to this estimate or
        what the first record adds, the lesser, less what a record costs
        within a batch.  For
        `DataType.ADDRESSES_AND_ORDERS` (read from the platform) *writes*
        is the number of pages of orders the run reads, and the estimate
        is of the requests the adapter sends beyond reading those pages.

        Asked for every data type the run has, `DataType.ADDRESSES_AND_ORDERS`
        included: return 0 for a type the adapter sends nothing more for
        (an exception fails `Synchronizer.plan`).  A platform with
        `SupportsRequestCount` is not asked for orders: the plan counts
        what its own read of them sent.

        .. versionchanged:: 26.1.0
           Asked for orders too, and for what a further write call costs.
        """


@runtime_checkable
class SupportsRequestCount(Protocol):
    """
    **Protocol:** A platform that counts the requests it sends, for
    `Synchronizer.plan`.

    A plan reads the orders a run would import, as the run reads them:
    what reading them costs beyond its pages (Shopify: the line items of
    a long order, WooCommerce: an order's refunds, Shopware 6: a look-up
    of a page's order numbers; pages read that hold no selected order)
    depends on the orders, so the plan counts the requests its read sent
    and estimates that many for the run's read.  A count that also holds
    other work's requests of the same adapter only overestimates.

    .. versionadded:: 26.1.0
    """

    @property
    def requests_sent(self) -> int:
        """
        The HTTP requests the platform has sent since it was made, every
        attempt counted.
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
