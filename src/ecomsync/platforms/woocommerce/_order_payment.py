"""
Orders awaiting payment (``pending``, ``failed``): whether WooCommerce
took their stock, and what a read says of them.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from ..._contracts import Refusal
from ._common import Row


#: Orders WooCommerce has not taken their stock for: ``pending`` is an
#: unpaid checkout (a gateway's payment page, often abandoned), and
#: ``failed`` mostly one whose payment the gateway declined (no status
#: hook moves stock on ``failed``: a pending order's stays untaken; the
#: rarer on-hold one turned failed keeps it taken, and is imported, see
#: `_stock_taken`, as it would have been read a moment earlier).
#: WooCommerce reduces an order's stock on payment and on the statuses
#: processing, on-hold and completed, and gives it back on pending and
#: cancelled (``wc_maybe_reduce_stock_levels`` /
#: ``wc_maybe_increase_stock_levels``, woocommerce/woocommerce
#: plugins/woocommerce/includes/wc-stock-functions.php).  Imported, the
#: ERP would hold its units and the stock push send on-hand minus them,
#: and paid, WooCommerce would take them once more: the shop short by
#: them until something else moves that stock.  Once paid the order is
#: ``processing`` or ``on-hold``, modified, and a changes read imports it.
AWAITING_PAYMENT = frozenset({"pending", "failed"})
#: Order meta holding the ERP's state, which the adapter writes with a
#: status push: an order that has it was imported.
STATE_META = "_ecomsync_state"


def awaiting_payment(row: Row) -> bool:
    """
    Whether the order *row* waits for payment with its units on stock
    (`AWAITING_PAYMENT`, `_stock_taken`): not imported.
    """
    return str(row.get("status")) in AWAITING_PAYMENT and not _stock_taken(row)


def unpaid(number: str, row: Row, *, asked: bool) -> list[Refusal]:
    """
    The refusals of the order *row* awaiting payment: one paid or
    imported before (`_given_back`) always; else one for the engine to
    record where the ERP imported the order (`_imported_back`), and, if
    it was *asked* for by number, one where it did not (a checkout not
    paid yet, `_awaiting_payment`); a changes read leaves such a
    checkout out without a word.
    """
    status = str(row.get("status"))
    given_back = _given_back(number, status, row)
    if given_back is not None:
        return [given_back]
    found = [_imported_back(number, status)]
    if asked:
        found.append(_awaiting_payment(number, status))
    return found


def _stock_taken(row: Row) -> bool:
    """
    Whether WooCommerce holds the units of the order *row* off stock: a
    line item keeps them in its ``_reduced_stock`` meta, which the REST
    API lists (``wc_reduce_stock_levels`` adds it, ``wc_increase_stock_
    levels`` deletes it).  An ``on-hold`` order turned ``failed`` keeps
    them (no status hook moves stock on ``failed``).
    """
    return any(
        isinstance(m, dict) and m.get("key") == "_reduced_stock"
        for line in row.get("line_items") or []
        if isinstance(line, dict)
        for m in line.get("meta_data") or []
    )


def _given_back(number: str, status: str, row: Row) -> Refusal | None:
    """
    The refusal of an order ``pending`` again after it was paid
    (``date_paid`` set, WooCommerce never clears it) or had a status
    pushed (`STATE_META`: imported), if it was: turned ``pending``,
    WooCommerce gave its units back to stock, while the ERP, if it
    imported the order, still holds them; the shop sells them twice
    until someone decides.  Neither side can be set right from here: the
    order's status is the ERP's to push, and setting it ``processing``
    would tell the customer it is paid.
    """
    imported = any(
        isinstance(m, dict) and m.get("key") == STATE_META
        for m in row.get("meta_data") or []
    )
    # ``failed`` moves no stock: only ``pending`` (of these) gives back
    if status != "pending" or not (imported or row.get("date_paid_gmt")):
        return None
    held = (
        "the ERP still holds them"
        if imported
        else "the ERP, if it imported the order, still holds them"
    )
    return Refusal(
        number=number,
        field="status",
        reason=(
            f"order {number} was {'imported' if imported else 'paid'} and "
            f"is {status} again in WooCommerce, which gave its units back "
            f"to stock: the shop offers them again while {held}; cancel "
            "the order in the ERP (its status push cancels it in the "
            "shop) or set it back to processing in WooCommerce (which "
            "takes its units again)"
        ),
    )


def _imported_back(number: str, status: str) -> Refusal:
    """
    The refusal of an order awaiting payment that carries no mark of a
    payment or an import, for the engine to record only where the ERP
    imported it (`Refusal.if_imported`): an ``on-hold`` order (bank
    transfer, cheque) imported and set back to ``pending`` before any
    status push.  WooCommerce gave its units back then
    (``wc_maybe_increase_stock_levels``: ``wc_increase_stock_levels``
    deletes the lines' ``_reduced_stock``, then the order's stock-reduced
    flag is set off), and what it keeps of
    that (the flag ``_order_stock_reduced``, ``_recorded_sales``, the
    order notes) is either internal (``$internal_meta_keys`` of the
    order data stores, left out of the REST ``meta_data``) or a request
    per order away (``orders/<id>/notes``): only the ERP's side can tell
    this order from a checkout not paid yet, without a request.  A
    ``failed`` one went ``pending`` first (``failed`` moves no stock).
    """
    return Refusal(
        number=number,
        field="status",
        reason=(
            f"order {number} was imported and is {status} in WooCommerce, "
            "which gave its units back to stock: the shop offers them "
            "again while the ERP still holds them; cancel the order in "
            "the ERP (its status push cancels it in the shop) or set it "
            "back to processing in WooCommerce (which takes its units "
            "again)"
        ),
        if_imported=True,
    )


def _awaiting_payment(number: str, status: str) -> Refusal:
    """
    The refusal of an order still awaiting payment (`AWAITING_PAYMENT`).
    """
    return Refusal(
        number=number,
        field="status",
        if_imported=False,
        reason=(
            f"order {number} is {status} in WooCommerce (not paid): "
            "not imported yet; WooCommerce takes its stock when "
            "it is paid (processing or on-hold), and the next order sync "
            "imports it then"
        ),
    )
