"""
The platform capability about where stock goes, as a Protocol;
documented and imported as `ecomsync.typing` (kept apart so that
neither file grows past the team's size limit).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


__all__ = ["SupportsStockLayout"]


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

    The push then takes the stock off where the old mapping put it.  A
    platform that empties every location no level goes to (`Vendure`)
    needs nothing more; one that must leave the other locations alone
    (`Shopify`: a POS store's own stock is not ecomsync's) can answer,
    as each level's platform id, where it wrote the article's stock: the
    store keeps it as the level's link and hands it back with the next
    push (``Outgoing.platform_id``), a failed level's unchanged.

    .. versionadded:: 26.1.0
    """

    def stock_layout(self) -> str:
        """
        A fingerprint of where stock goes (the same text for the same
        settings, across processes and versions); ``""`` without a
        mapping.
        """
