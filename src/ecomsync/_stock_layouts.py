"""
A changed stock layout reaches every level, scheduled runs included.

A platform whose settings decide where stock goes
(`~ecomsync.typing.SupportsStockLayout`) folds its layout into each
level's checksum (`_stock_fold.stock_checksum`), so a level read after a
change is sent again, to where the mapping now points.  A scheduled run
reads only what changed in the ERP since its watermark, so it would
never read the others: they would stay where the old mapping put them.

With a store that keeps the layout each platform's stock was last
written under in full (`~ecomsync.typing.StockLayouts`), a run whose
stock selection is `ChangedSince` (scheduled or not) and whose
platform's layout differs from the one kept reads all stock instead
(`widen`; `RunStarted.widened` says why), and the layout is kept only
once that run's stock step went through (`keep`), a level failed or
not (the failure ledger retries it): a run that failed or was cancelled
before leaves the old one, and the next run widens again.
A `NumberRange` or `Only` selection stays as asked (a partition of a
partitioned run is a `NumberRange`: each would read everything), and
records no layout by itself: a partitioned run of all stock is recorded
by its board once every stock partition went through under one layout
(`ecomsync.state._pg_partitions`, told each partition's layout by its
worker).  A store without the role keeps the checksums' behaviour
alone: the next run with `All` moves the stock.
"""

from __future__ import annotations

import attrs

from ._run import Run, log
from ._spec import All, ChangedSince, DataType, SyncSpec, Trigger
from .typing import StateStore, StockLayouts, SupportsStockLayout


__all__ = ["UNRECORDED", "WIDENED", "keep", "widen"]

#: Why a run reads all stock (`RunStarted.widened`).
WIDENED = (
    "the platform's stock layout changed since its stock was last "
    "written in full"
)
#: Why a run reads all stock where the store has kept no layout yet (a
#: store from before the layout was kept) and the platform has one.
UNRECORDED = (
    "no stock layout recorded yet for the platform's stock: all of it is "
    "read once to record it"
)


async def widen(store: StateStore, run: Run, spec: SyncSpec) -> SyncSpec:
    """
    *spec* (resolved) as *run* reads it: its stock read in full where the
    platform's layout is not the one its stock was last written under;
    the layout noted on the run, for `keep`, where the run reads all
    stock under it.
    """
    platform = run.platform
    selection = spec.types.get(DataType.STOCK)
    if (
        selection is None
        or not isinstance(store, StockLayouts)
        or not isinstance(platform, SupportsStockLayout)
    ):
        return spec
    layout = platform.stock_layout()
    kept = await store.get_stock_layout(run.platform_name)
    # Nothing kept and no mapping: nothing was ever laid out elsewhere,
    # nothing to read again; but "" is kept all the same (below), so
    # that a mapping set later reads as the change it is.
    moved = kept != layout and (kept is not None or layout != "")
    if moved and isinstance(selection, ChangedSince):
        why = WIDENED if kept is not None else UNRECORDED
        run.widened[DataType.STOCK] = why
        log.info(
            "run %s reads all stock of %s: %s",
            run.id,
            run.platform_name,
            why,
        )
        spec = attrs.evolve(spec, types={**spec.types, DataType.STOCK: All()})
    if kept != layout and isinstance(spec.types[DataType.STOCK], All):
        run.stock_layout = layout
    return spec


async def keep(store: StateStore, run: Run, data_type: DataType) -> None:
    """
    After *data_type* went through: the layout *run* wrote all stock
    under is the one kept (a plan writes nothing, keeps nothing), a
    level failed or not: the failure ledger retries it, and a platform
    that takes stock off its old place only knows that place from the
    level's link, which a failed level keeps (`SupportsStockLayout`).
    """
    if (
        data_type is not DataType.STOCK
        or run.stock_layout is None
        or run.trigger is Trigger.PREVIEW
        or not isinstance(store, StockLayouts)
    ):
        return
    await store.set_stock_layout(run.platform_name, run.stock_layout)
