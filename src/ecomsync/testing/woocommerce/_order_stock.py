"""
An order's stock, as WooCommerce moves it on the order's status.

WooCommerce takes an order's units off stock when it is paid and when
it turns ``processing``, ``on-hold`` or ``completed``
(``wc_maybe_reduce_stock_levels``), and gives them back when it turns
``pending`` or ``cancelled`` (``wc_maybe_increase_stock_levels``), each
once per line item (its ``_reduced_stock`` meta), only for products that
manage stock and only with ``woocommerce_manage_stock`` on
(woocommerce/woocommerce plugins/woocommerce/includes/wc-stock-functions.php).
An unpaid (``pending``), ``failed`` or refunded order moves nothing.
"""

from __future__ import annotations

from ._state import ShopState
from ._wp import Row


#: The statuses that take an order's units off stock, and those that
#: give them back.
REDUCES = frozenset({"processing", "on-hold", "completed"})
RESTORES = frozenset({"pending", "cancelled"})


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


def move_order_stock(shop: ShopState, order: Row, status: str) -> None:
    """
    Move the stock of *order* as WooCommerce does when it turns *status*.
    """
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
        elif status in RESTORES and line_id in reduced:
            delta = reduced.pop(line_id)
        else:
            continue
        product["stock_quantity"] = (product["stock_quantity"] or 0) + delta
        if product.get("type") != "variable":
            product["stock_status"] = (
                "instock" if product["stock_quantity"] > 0 else "outofstock"
            )
