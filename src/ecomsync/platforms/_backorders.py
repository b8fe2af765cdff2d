"""
The negative-stock policy every adapter shares.

A `StockLevel` may be negative (the ERP sold more than it has, or open
orders hold more than is on hand); a platform writes it as it is only if
the host allows backorders (``allow_backorders=True`` on the adapter).
Otherwise the shop is sent **0** for that level (it must not go on
selling the last figure it had: goods that do not exist), and the record
is answered failed on ``quantity`` all the same (`reported`), so the
operator learns that the ERP is negative and the next run sends it again
until the ERP is positive.  The adapters decide *which* quantity is
checked (Shopify, Vendure: the sum per location); this module says
whether it is negative, and in one wording for all of them.

Private: each adapter's ``allow_backorders`` is the public face.
"""

from __future__ import annotations

from .._contracts import Outcome


#: The field a negative level is reported on.
FIELD = "quantity"


def negative_stock(
    number: str,
    quantity: int,
    *,
    platform: str,
    option: str,
    allowed: bool,
    where: str = "",
) -> tuple[str, str] | None:
    """
    ``(message, field)`` if *quantity* of record *number* is negative and
    backorders are not *allowed*: the adapter writes 0 in its place and
    reports the record with this (`reported`); else ``None``.

    *platform* is the shop's name as the message shows it (``Shopware
    6``), *option* the class whose ``allow_backorders=True`` writes the
    negative figure (``Shopware6``); *where* says more about the
    quantity, e.g. the location a sum goes to, and starts with a space.
    """
    if quantity >= 0 or allowed:
        return None
    return (
        f"quantity {quantity} of {number!r}{where} is negative: its stock "
        f"in {platform} was set to 0, so the shop does not sell it; "
        f"{option}(allow_backorders=True) writes negative stock",
        FIELD,
    )


def reported(outcome: Outcome, negative: tuple[str, str] | None) -> Outcome:
    """
    The outcome of a level written as 0 in place of a *negative* one
    (`negative_stock`): failed with that message once the 0 landed, so
    the record is not taken for in sync (no checksum, a ledger entry);
    a write that failed keeps its own reason.
    """
    if negative is None or not outcome.ok:
        return outcome
    return Outcome(
        number=outcome.number,
        platform_id=outcome.platform_id,
        error=negative[0],
        field=negative[1],
    )


__all__ = ["FIELD", "negative_stock", "reported"]
