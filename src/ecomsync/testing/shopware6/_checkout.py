"""
The storefront checkout, reproduced for tests and benchmarks: one
`place_order` writes the order and every row Shopware creates with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._schema import DEFAULT_CURRENCY, STATE_MACHINES, seed_id
from ._store import Row, fmt_date


if TYPE_CHECKING:
    from ._emulator import ShopwareEmulator


def place_order(  # noqa: PLR0915 - one checkout, many rows
    emu: ShopwareEmulator,
    seq: int,
    *,
    order_number: str | None,
    customer: Mapping[str, Any] | None,
    lines: Sequence[Mapping[str, Any]],
    created_at: datetime | None,
    shipping_address: Mapping[str, Any] | None,
    shipping_costs: float,
    customer_comment: str | None,
    order_id: str | None,
) -> str:
    """
    `ShopwareEmulator.place_order`; *seq* numbers the order and customer
    when none is given.
    """
    i = emu.ids
    at = fmt_date(created_at or emu.now())
    number = order_number or str(seq)
    oid = order_id or seed_id(f"order.{number}")
    c = dict(customer or {})
    c.setdefault("email", f"customer{seq}@example.com")
    c.setdefault("firstName", "Erika")
    c.setdefault("lastName", "Mustermann")

    def row(entity: str, data: Row) -> str:
        data.setdefault("createdAt", at)
        data.setdefault("updatedAt", None)
        emu.store.put(entity, data["id"], data)
        return str(data["id"])

    def address(prefix: str, src: Mapping[str, Any]) -> Row:
        return {
            "id": seed_id(f"{prefix}.{oid}"),
            "orderId": oid,
            "countryId": src.get("countryId", i.country_de),
            "salutationId": i.salutation,
            "firstName": src.get("firstName", c["firstName"]),
            "lastName": src.get("lastName", c["lastName"]),
            "street": src.get("street", "Musterstraße 1"),
            "zipcode": src.get("zipcode", "12345"),
            "city": src.get("city", "Musterstadt"),
            "company": src.get("company"),
            "phoneNumber": src.get("phoneNumber"),
            "additionalAddressLine1": src.get("additionalAddressLine1"),
            "vatId": src.get("vatId"),
        }

    cust_id = c.get("customerId")
    if cust_id is None:
        found = emu.store.find("customer", "email", c["email"])
        cust_id = found[0] if found else None
    if cust_id is None:
        cust_id = seed_id(f"customer.{c['email']}")
        addr_id = seed_id(f"customer_address.{c['email']}")
        ca = address("customer_address", c)
        del ca["orderId"]
        row(
            "customer_address",
            {**ca, "id": addr_id, "customerId": cust_id},
        )
        row(
            "customer",
            {
                "id": cust_id,
                "groupId": i.customer_group,
                "salesChannelId": i.sales_channel,
                "languageId": i.language,
                "defaultBillingAddressId": addr_id,
                "defaultShippingAddressId": addr_id,
                "customerNumber": c.get("customerNumber", str(seq)),
                "firstName": c["firstName"],
                "lastName": c["lastName"],
                "email": c["email"],
                "company": c.get("company"),
                "guest": bool(c.get("guest", False)),
                "salutationId": i.salutation,
            },
        )
    billing = row("order_address", address("billing", c))
    shipping = billing
    if shipping_address is not None:
        shipping = row("order_address", address("shipping", shipping_address))

    total = 0.0
    for n, line in enumerate(lines):
        pid = line.get("productId")
        number_ = line.get("productNumber")
        if pid is None and number_ is not None:
            found = emu.store.find("product", "productNumber", number_)
            pid = found[0] if found else None
        prod = emu.store.get("product", pid) if pid else None
        qty = int(line.get("quantity", 1))
        unit = line.get("unitPrice")
        if unit is None and prod is not None:
            unit = next(
                (
                    p.get("gross")
                    for p in prod.get("price") or []
                    if p.get("currencyId") == DEFAULT_CURRENCY
                ),
                0.0,
            )
        unit = float(unit or 0.0)
        total += unit * qty
        if prod is not None and number_ is None:
            number_ = prod.get("productNumber")
        row(
            "order_line_item",
            {
                "id": seed_id(f"line.{oid}.{n}"),
                "orderId": oid,
                "identifier": pid or f"custom-{n}",
                "referencedId": pid,
                "productId": pid,
                "type": "product" if pid else "custom",
                "quantity": qty,
                "label": line.get(
                    "label", prod.get("name") if prod else f"Item {n}"
                ),
                "unitPrice": unit,
                "totalPrice": round(unit * qty, 2),
                "position": n + 1,
                "payload": {"productNumber": number_},
            },
        )
        if prod is not None and pid is not None:
            emu.store.put(
                "product",
                pid,
                {**prod, "stock": int(prod.get("stock") or 0) - qty},
            )
    amount = round(total + shipping_costs, 2)
    row(
        "order",
        {
            "id": oid,
            "orderNumber": number,
            "currencyId": i.currency,
            "languageId": i.language,
            "salesChannelId": i.sales_channel,
            "billingAddressId": billing,
            "stateId": STATE_MACHINES["order"].state_id("open"),
            "orderDateTime": at,
            "amountTotal": amount,
            "amountNet": round(amount / 1.19, 2),
            "positionPrice": round(total, 2),
            "shippingTotal": shipping_costs,
            "taxStatus": "gross",
            "customerComment": customer_comment,
            "price": {
                "totalPrice": amount,
                "netPrice": round(amount / 1.19, 2),
                "positionPrice": round(total, 2),
                "rawTotal": amount,
                "taxStatus": "gross",
            },
            "shippingCosts": {
                "unitPrice": shipping_costs,
                "quantity": 1,
                "totalPrice": shipping_costs,
            },
        },
    )
    row(
        "order_customer",
        {
            "id": seed_id(f"order_customer.{oid}"),
            "orderId": oid,
            "customerId": cust_id,
            "email": c["email"],
            "firstName": c["firstName"],
            "lastName": c["lastName"],
            "company": c.get("company"),
            "customerNumber": c.get("customerNumber"),
            "salutationId": i.salutation,
        },
    )
    row(
        "order_delivery",
        {
            "id": seed_id(f"order_delivery.{oid}"),
            "orderId": oid,
            "shippingOrderAddressId": shipping,
            "shippingMethodId": i.shipping_method,
            "stateId": STATE_MACHINES["order_delivery"].state_id("open"),
            "trackingCodes": [],
            "shippingDateEarliest": at,
            "shippingDateLatest": at,
            "shippingCosts": {"totalPrice": shipping_costs},
        },
    )
    row(
        "order_transaction",
        {
            "id": seed_id(f"order_transaction.{oid}"),
            "orderId": oid,
            "paymentMethodId": i.payment_method,
            "stateId": STATE_MACHINES["order_transaction"].state_id("open"),
            "amount": {"totalPrice": amount},
        },
    )
    return oid
