"""
The platform capabilities about where stock goes, as Protocols;
documented and imported as `ecomsync.typing` (kept apart so that
neither file grows past the team's size limit).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


__all__ = ["SupportsStockLayout", "SupportsStockMoves"]


@runtime_checkable
class SupportsStockLayout(Protocol):
    """
    **Protocol:** A platform whose settings decide where stock goes (a
    warehouse -> location mapping).

    The engine folds ``stock_layout()`` into the checksum of every stock
    level, so a changed mapping makes each level look changed and the
    next stock run that reads it writes it where the mapping now says.
    With a store that keeps the layout
    (`~ecomsync.typing.StockLayouts`), the next stock run reads every
    level once after a change, a scheduled one too (which otherwise
    reads only the ERP's changes); without, the next run with
    `~ecomsync.All` does.  ``""`` (no mapping set) leaves
    checksums as they were.  Called once per batch, and once when a run
    starts.

    .. versionadded:: 26.1.0
    """

    def stock_layout(self) -> str:
        """
        A fingerprint of where stock goes (the same text for the same
        settings, across processes and versions); ``""`` without a
        mapping.
        """


@runtime_checkable
class SupportsStockMoves(Protocol):
    """
    **Protocol:** A `~ecomsync.typing.SupportsStockLayout` platform
    that takes stock off where its old layout put it.  Told, when a run
    starts, the layout its stock was last written under in full (kept
    by a `~ecomsync.typing.StockLayouts` store), each stock push until
    the next call also sets to 0 the article's quantity at each place
    its levels went under that layout and no longer go to, so a moved
    warehouse's stock is not on sale twice.  Called once per run, plans
    included, with ``None`` where the store has kept no layout yet
    (nothing is taken off then); not called with a store without the
    role.  The layout is kept once a run's stock step went through, a
    level failed or not: a level retried later from the failure ledger
    is pushed under the new layout, so the platform must know where it
    was written some other way (Shopify: each level's platform id names
    the places, and the store hands it back as ``Outgoing.platform_id``).

    .. versionadded:: 26.1.0
    """

    def stock_layout_kept(self, layout: str | None) -> None:
        """
        The layout the platform's stock was last written under in full;
        ``None``: not known.
        """
