"""
The two direction strategies of the pipeline (`_pipeline_types.Strategy`):
`Outbound` (ERP → platform: counted and read from the ERP, dependencies
first, pushed to the platform with their media) and `Inbound` (platform →
ERP: orders fetched page by page and imported into the ERP), each with its
estimate of the platform requests a plan counts.

An engine role: it reads through `_selection`, prepares through the
category closure and the stock fold, writes through the `Writer`; it
knows the platform only by `ecomsync.typing`'s Protocols and capabilities.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import cast

import attrs

from ._changes import Change
from ._dependencies import CategoryClosure
from ._model import Order, Record
from ._personal import redact_error, redactor
from ._pipeline_types import Read, Volume
from ._run import Run, Tally
from ._selection import erp_batches, erp_count, platform_orders
from ._spec import DataType, Selection
from ._writer import Writer, isolating
from .typing import ErpSession, SupportsRequestEstimate


@attrs.define
class Outbound:
    """
    ERP → platform: categories, articles, stock, order status.
    """

    run: Run
    writer: Writer
    closure: CategoryClosure
    batch_size: int

    @property
    def chunk_size(self) -> int:
        return self.run.platform.batch_size

    async def total(
        self, session: ErpSession, data_type: DataType, selection: Selection
    ) -> int | None:
        return await erp_count(
            session, data_type, selection, platform=self.run.platform_name
        )

    def batches(
        self, session: ErpSession, data_type: DataType, selection: Selection
    ) -> AbstractAsyncContextManager[AsyncIterator[Sequence[Record]]]:
        return erp_batches(
            session,
            data_type,
            selection,
            self.batch_size,
            whole_units=data_type is DataType.STOCK,
            platform=self.run.platform_name
            if data_type is DataType.ORDER_STATUS
            else None,
            # The levels read with their articles, read once.
            exclude=self.writer.fold.exclusion()
            if data_type is DataType.STOCK
            else None,
        )

    async def prepare(
        self, session: ErpSession, data_type: DataType, todo: Sequence[Change]
    ) -> None:
        await self.closure.ensure(
            session, data_type, [c.record for c in todo], self.writer
        )
        if data_type is DataType.ARTICLES:
            # The stock that goes with these articles, read after the
            # run's orders (`_stock_fold`).
            await self.writer.fold.prepare(session, todo)

    async def write(
        self,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[Change],
        tally: Tally,
    ) -> None:
        written = await self.writer.push(session, data_type, chunk, tally)
        self.closure.note(data_type, written)

    def requests(self, data_type: DataType, volume: Volume) -> int:
        platform = self.run.platform
        return _estimate(
            platform,
            data_type,
            writes=volume.writes,
            uploads=volume.uploads,
            with_media=volume.with_media,
            batch_size=platform.batch_size,
            chunks=volume.chunks,
        ) + (
            # The categories pulled in cost what the platform's category
            # writes cost (Shopify: a write each), in their own calls.
            _estimate(
                platform,
                DataType.CATEGORIES,
                writes=volume.dependencies,
                uploads=0,
                with_media=0,
                batch_size=platform.batch_size,
                chunks=volume.dependency_chunks,
            )
            if volume.dependencies
            else 0
        )


@attrs.define
class Inbound:
    """
    Platform → ERP: orders with their customers and addresses.
    """

    run: Run
    writer: Writer
    page_size: int
    batch_size: int

    @property
    def chunk_size(self) -> int:
        return self.batch_size

    async def total(
        self, session: ErpSession, data_type: DataType, selection: Selection
    ) -> int | None:
        return None  # the platform does not say before it is read

    def batches(
        self, session: ErpSession, data_type: DataType, selection: Selection
    ) -> AbstractAsyncContextManager[AsyncIterator[Read]]:
        return platform_orders(self.run.platform, selection, self.page_size)

    async def prepare(
        self, session: ErpSession, data_type: DataType, todo: Sequence[Change]
    ) -> None:
        return None  # an order needs nothing on the ERP first

    async def write(
        self,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[Change],
        tally: Tally,
    ) -> None:
        # The ERP learns which platform each order came from (two
        # platforms' order "1001" are two orders), after its checksum.
        orders = [
            attrs.evolve(
                cast("Order", c.record), platform=self.run.platform_name
            )
            for c in chunk
        ]
        # An ERP that raises RecordRejected for one order fails it alone.
        try:
            outcomes = await isolating(
                session.import_orders, orders, lambda o: (o.number,)
            )
        except Exception as exc:
            # the run's record and log keep what ends it
            redact_error(exc, orders)
            raise
        # The ERP's own words may repeat a name or a street it was sent:
        # the ledger, the events and the log keep the field instead.
        if any(o.error for o in outcomes):
            scrub = redactor(orders)
            outcomes = [
                attrs.evolve(o, error=scrub(o.error)) if o.error else o
                for o in outcomes
            ]
        self.writer.check_answer(outcomes, chunk)
        await self.writer.record(data_type, chunk, outcomes, tally)

    def requests(self, data_type: DataType, volume: Volume) -> int:
        if volume.read_requests is not None:
            # The run reads what the plan read: as many requests.
            return volume.read_requests
        # Reading pages of orders (and the one that tells there are no
        # more); the writes go to the ERP.  What the adapter sends beyond
        # the pages it estimates itself.
        pages = max(volume.pages, math.ceil(volume.fetched / self.page_size))
        platform = self.run.platform
        more = (
            platform.estimate_requests(
                data_type, writes=pages, uploads=0, with_media=0
            )
            if isinstance(platform, SupportsRequestEstimate)
            else 0
        )
        return pages + 1 + more


def _estimate(
    platform: object,
    data_type: DataType,
    *,
    writes: int,
    uploads: int,
    with_media: int,
    batch_size: int,
    chunks: int,
) -> int:
    """
    Platform requests for a type: the adapter's own estimate where it has
    one (``estimate_requests``), else one per write call, per upload and
    per media attachment.  *chunks*: the write calls the run makes for
    *writes* (each read batch's changes are pushed on their own).
    """
    least = math.ceil(writes / batch_size)
    extra = max(0, chunks - least)
    if not isinstance(platform, SupportsRequestEstimate):
        return least + extra + uploads + with_media
    estimate = platform.estimate_requests(
        data_type, writes=writes, uploads=uploads, with_media=with_media
    )
    if not extra:
        return estimate

    def cost(n: int) -> int:
        return platform.estimate_requests(
            data_type, writes=n, uploads=0, with_media=0
        )

    # The adapter estimates records in full batches; what one more write
    # call costs is what one record more than a batch adds, or what the
    # first record adds (the lesser: the one misses what a large call
    # costs more, such as a bulk operation, the other counts the run's
    # one-off look-ups), less what a record costs within a batch.
    record = cost(2) - cost(1)
    per_call = min(cost(batch_size + 1) - cost(batch_size), cost(1) - cost(0))
    return estimate + extra * max(0, per_call - record)
