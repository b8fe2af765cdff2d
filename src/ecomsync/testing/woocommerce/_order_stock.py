"""
An order's stock, as WooCommerce moves it on the order's status.

WooCommerce takes an order's units off stock when it is paid and when
it turns ``processing``, ``on-hold`` or ``completed``
(``wc_maybe_reduce_stock_levels``), and gives them back when it turns
``pending`` or ``cancelled`` (``wc_maybe_increase_stock_levels``), each
once per line item (its ``_reduced_stock`` meta), only for products that
manage stock and only with ``woocommerce_manage_stock`` on
(woocommerce/woocommerce plugins/woocommerce/includes/wc-stock-functions.php).
An unpaid (``pending``), ``failed`` or refunded order moves nothing: an
``on-hold`` order turned ``failed`` keeps its units off stock.  The REST
API lists a line's ``_reduced_stock`` in its ``meta_data`` (the v2
controller's ``get_order_item_data`` lists the item's meta, which only
the data store's own keys leave out), and the order's ``date_paid`` once
it first turned ``processing`` or ``completed``
(``WC_Order::maybe_set_date_paid``), never cleared.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ._state import ShopState
from ._wp import Row, wp_dates


#: The statuses that take an order's units off stock, and those that
#: give them back.
REDUCES = frozenset({"processing", "on-hold", "completed"})
RESTORES = frozenset({"pending", "cancelled"})
#: The statuses that set an order's ``date_paid`` (``wc_get_is_paid_
#: statuses``).
PAID = frozenset({"processing", "completed"})
#: The statuses ``WC_Order::payment_complete`` completes a payment in
#: (``woocommerce_valid_order_statuses_for_payment_complete``).
PAYABLE = frozenset({"on-hold", "pending", "failed", "cancelled"})
#: The line item meta WooCommerce keeps the units it took in.
REDUCED = "_reduced_stock"


def needs_payment(order: Row) -> bool:
    """
    ``WC_Order::needs_payment``: the order is ``pending`` or ``failed``
    (``woocommerce_valid_order_statuses_for_payment``) with a total
    above zero.
    """
    try:
        total = Decimal(str(order.get("total") or "0"))
    except InvalidOperation:
        return False
    return order["status"] in ("pending", "failed") and total > 0


def _stocked(shop: ShopState, line: Row) -> Row | None:
    """
    The product or variation whose stock the line moves: a variation
    that manages its stock, else its parent if that does (a variation's
    ``manage_stock: parent``); ``None`` where none does.
    """
    for pid in (line.get("variation_id"), line.get("product_id")):
        product = shop.products.get(int(pid or 0))
        if product is not None and product.get("manage_stock"):
            return product
    return None


def _show(line: Row, qty: int | None) -> None:
    """
    Set the line item's ``_reduced_stock`` meta to *qty* (``None``:
    delete it, as ``wc_increase_stock_levels`` does).
    """
    meta = [m for m in line.get("meta_data") or [] if m["key"] != REDUCED]
    if qty is not None:
        # kept in the database, the value reads back as a string
        meta.append(
            {
                "id": int(line["id"]) * 10 + 9,
                "key": REDUCED,
                "value": str(qty),
                "display_key": REDUCED,
                "display_value": str(qty),
            }
        )
    line["meta_data"] = meta


def move_order_stock(shop: ShopState, order: Row, status: str) -> None:
    """
    Move the stock of *order* as WooCommerce does when it turns *status*,
    and set its ``date_paid`` when it turns paid.
    """
    if status in PAID and not order.get("date_paid_gmt"):
        order["date_paid"], order["date_paid_gmt"] = wp_dates(
            datetime.now(UTC), shop.timezone
        )
    if not shop.manage_stock:
        return
    reduced = shop.reduced_stock.setdefault(int(order["id"]), {})
    for line in order.get("line_items") or []:
        product = _stocked(shop, line)
        if product is None:
            continue
        line_id = int(line["id"])
        if status in REDUCES and line_id not in reduced:
            qty = int(line.get("quantity") or 0)
            delta = -qty
            reduced[line_id] = qty
            _show(line, qty)
        elif status in RESTORES and line_id in reduced:
            delta = reduced.pop(line_id)
            _show(line, None)
        else:
            continue
        product["stock_quantity"] = (product["stock_quantity"] or 0) + delta
        if product.get("type") != "variable":
            product["stock_status"] = (
                "instock" if product["stock_quantity"] > 0 else "outofstock"
            )
