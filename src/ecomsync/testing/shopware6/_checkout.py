"""
The storefront checkout, reproduced for tests and benchmarks: one
`place_order` writes the order and every row Shopware creates with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from ._schema import DEFAULT_CURRENCY, seed_id
from ._state_machines import STATE_MACHINES
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
    tax_status: str = "gross",
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

    net = tax_status == "net"
    taxes: dict[Decimal, Decimal] = {}

    def calculated(unit: Decimal, qty: int, rate: Decimal) -> Row:
        # Shopware's CalculatedPrice: the total rounded per line, its tax
        # rounded per line (horizontal tax calculation, the default)
        total = _cent(unit * qty)
        if tax_status == "tax-free":
            tax = Decimal(0)
        elif net:
            tax = _cent(total * rate / 100)
        else:
            tax = _cent(total - total / (1 + rate / 100))
        taxes[rate] = taxes.get(rate, Decimal(0)) + tax
        return {
            "unitPrice": float(unit),
            "quantity": qty,
            "totalPrice": float(total),
            "calculatedTaxes": [
                {
                    "tax": float(tax),
                    "taxRate": float(rate),
                    "price": float(total),
                }
            ],
            "taxRules": [{"taxRate": float(rate), "percentage": 100.0}],
        }

    positions = Decimal(0)
    for n, line in enumerate(lines):
        kind = line.get("type")
        pid = line.get("productId")
        number_ = line.get("productNumber")
        if kind is None and pid is None and number_ is not None:
            found = emu.store.find("product", "productNumber", number_)
            pid = found[0] if found else None
        prod = emu.store.get("product", pid) if pid else None
        qty = int(line.get("quantity", 1))
        unit = line.get("unitPrice")
        if unit is None and prod is not None:
            unit = next(
                (
                    p.get("net" if net else "gross")
                    for p in prod.get("price") or []
                    if p.get("currencyId") == DEFAULT_CURRENCY
                ),
                0.0,
            )
        price = calculated(
            Decimal(str(unit or 0)), qty, _tax_rate(emu, prod, line)
        )
        positions += Decimal(str(price["totalPrice"]))
        if prod is not None and number_ is None:
            number_ = prod.get("productNumber")
        row(
            "order_line_item",
            {
                "id": seed_id(f"line.{oid}.{n}"),
                "orderId": oid,
                "identifier": pid or line.get("identifier") or f"custom-{n}",
                "referencedId": pid or line.get("referencedId"),
                "productId": pid,
                "type": kind or ("product" if pid else "custom"),
                "quantity": qty,
                "label": line.get(
                    "label", prod.get("name") if prod else f"Item {n}"
                ),
                "unitPrice": price["unitPrice"],
                "totalPrice": price["totalPrice"],
                "price": price,
                "position": n + 1,
                "payload": (
                    {"productNumber": number_}
                    if kind in (None, "product", "custom")
                    else dict(line.get("payload") or {})
                ),
            },
        )
        if prod is not None and pid is not None:
            emu.store.put(
                "product",
                pid,
                {**prod, "stock": int(prod.get("stock") or 0) - qty},
            )
    shipping_price = calculated(Decimal(str(shipping_costs)), 1, Decimal(19))
    shipping_total = Decimal(str(shipping_price["totalPrice"]))
    tax_total = sum(taxes.values(), Decimal(0))
    if net:
        net_price = positions + shipping_total
        amount = net_price + tax_total
    else:
        amount = positions + shipping_total
        net_price = amount - tax_total
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
            "amountTotal": float(amount),
            "amountNet": float(net_price),
            "positionPrice": float(positions),
            "shippingTotal": float(shipping_total),
            "taxStatus": tax_status,
            "customerComment": customer_comment,
            "price": {
                "totalPrice": float(amount),
                "netPrice": float(net_price),
                "positionPrice": float(positions),
                "rawTotal": float(amount),
                "taxStatus": tax_status,
                "calculatedTaxes": [
                    {"tax": float(tax), "taxRate": float(rate), "price": 0.0}
                    for rate, tax in sorted(taxes.items())
                ],
            },
            "shippingCosts": shipping_price,
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
            "shippingCosts": shipping_price,
        },
    )
    row(
        "order_transaction",
        {
            "id": seed_id(f"order_transaction.{oid}"),
            "orderId": oid,
            "paymentMethodId": i.payment_method,
            "stateId": STATE_MACHINES["order_transaction"].state_id("open"),
            "amount": {"totalPrice": float(amount)},
        },
    )
    return oid


def _cent(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _tax_rate(
    emu: ShopwareEmulator, prod: Row | None, line: Mapping[str, Any]
) -> Decimal:
    """
    A line's tax rate: given with the line (``taxRate``), else its
    product's tax, else the standard 19 %.
    """
    if line.get("taxRate") is not None:
        return Decimal(str(line["taxRate"]))
    tax_id = prod.get("taxId") if prod else None
    tax = emu.store.get("tax", str(tax_id)) if tax_id else None
    if tax and tax.get("taxRate") is not None:
        return Decimal(str(tax["taxRate"]))
    return Decimal(19)
