"""
Filling a Tryton database with an `ErpSeed` over JSON-RPC: the fixture
behind the Tryton contract tests, usable for demos too.

Not a sync direction of *ecomsync* (that reads from Tryton); this only
exists so tests can run against known data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._model import OrderState, number_key


if TYPE_CHECKING:
    from ..erp._tryton_rpc import Rpc
    from ._erp_contract import ErpSeed


async def _one(rpc: Rpc, model: str, domain: list[Any]) -> int:
    (found,) = await rpc.model(model, "search", domain, 0, 2, None)
    return int(found)


async def storage_location(rpc: Rpc, warehouse: str = "WH") -> int:
    (row,) = await rpc.search_read(
        "stock.location",
        [["type", "=", "warehouse"], ["code", "=", warehouse]],
        ["storage_location"],
    )
    return int(row["storage_location"])


async def set_stock(
    rpc: Rpc, location: int, quantities: Mapping[int, int | Decimal]
) -> None:
    """
    Make *quantities* (by product id) the absolute stock at *location*
    with an inventory: done moves against "lost and found".
    """
    (inventory,) = await rpc.model(
        "stock.inventory",
        "create",
        [
            {
                "location": location,
                "date": datetime.now(UTC).date(),
                "company": rpc.context["company"],
                "lines": [
                    [
                        "create",
                        [
                            {"product": product, "quantity": float(quantity)}
                            for product, quantity in quantities.items()
                        ],
                    ]
                ],
            }
        ],
    )
    await rpc.model("stock.inventory", "complete_lines", [inventory], False)
    await rpc.model("stock.inventory", "confirm", [inventory])


async def seed_tryton(rpc: Rpc, seed: ErpSeed) -> dict[str, int]:
    """
    Create *seed* in the (pristine) Tryton behind *rpc*; return product
    ids by article number.
    """
    unit = await _one(rpc, "product.uom", [["symbol", "=", "u"]])
    de = await _one(rpc, "country.country", [["code", "=", "DE"]])
    eur = await _one(rpc, "currency.currency", [["code", "=", "EUR"]])
    location = await storage_location(rpc)
    warehouse = await _one(
        rpc,
        "stock.location",
        [["type", "=", "warehouse"], ["code", "=", "WH"]],
    )

    # categories, parents first
    categories: dict[str, int] = {}
    pending = list(seed.categories)
    while pending:
        ready = [c for c in pending if not c.parent or c.parent in categories]
        if not ready:
            raise ValueError("seed categories have a cycle or lost parent")
        ids = await rpc.model(
            "product.category",
            "create",
            [
                {
                    "code": c.number,
                    "name": c.name,
                    "parent": categories[c.parent] if c.parent else None,
                }
                for c in ready
            ],
        )
        categories.update(zip((c.number for c in ready), ids, strict=True))
        pending = [c for c in pending if c.number not in categories]

    # articles: one template with one variant each, then their images
    templates = await rpc.model(
        "product.template",
        "create",
        [
            {
                "name": a.name,
                "type": "goods",
                "default_uom": unit,
                "salable": True,
                "sale_uom": unit,
                "list_price": a.price,
                "categories": [["add", [categories[c] for c in a.categories]]],
                "products": [
                    [
                        "create",
                        [
                            {
                                "suffix_code": a.number,
                                "description": a.description,
                            }
                        ],
                    ]
                ],
            }
            for a in seed.articles
        ],
    )
    products = {
        row["code"]: int(row["id"])
        for row in await rpc.search_read(
            "product.product", [["template", "in", templates]], ["code"]
        )
    }
    template_of = dict(
        zip((a.number for a in seed.articles), templates, strict=True)
    )
    images = [
        {
            "template": template_of[a.number],
            "image": seed.media[ref.key],
            "description": ref.key,
        }
        for a in seed.articles
        for ref in a.media
    ]
    if images:
        await rpc.model("product.image", "create", images)

    # enough stock to ship the seeded orders; exact levels come last
    await set_stock(rpc, location, dict.fromkeys(products.values(), 50))

    # orders with their states
    (party,) = await rpc.model(
        "party.party",
        "create",
        [
            {
                "name": "Seed Customer",
                "addresses": [
                    [
                        "create",
                        [
                            {
                                "street": "Seedweg 1",
                                "postal_code": "10115",
                                "city": "Berlin",
                                "country": de,
                            }
                        ],
                    ]
                ],
            }
        ],
    )
    (address,) = (await rpc.read("party.party", [party], ["addresses"]))[0][
        "addresses"
    ]
    first_article = sorted(products, key=number_key)[0]
    for status in seed.order_status:
        (sale,) = await rpc.model(
            "sale.sale",
            "create",
            [
                {
                    "party": party,
                    "invoice_address": address,
                    "shipment_address": address,
                    "company": rpc.context["company"],
                    "currency": eur,
                    "warehouse": warehouse,
                    "reference": status.number,
                    "invoice_method": "manual",
                    "shipment_method": "order",
                    "lines": [
                        [
                            "create",
                            [
                                {
                                    "type": "line",
                                    "product": products[first_article],
                                    "quantity": 1.0,
                                    "unit": unit,
                                    "unit_price": Decimal("10.00"),
                                }
                            ],
                        ]
                    ],
                }
            ],
        )
        if status.state is OrderState.CANCELLED:
            await rpc.model("sale.sale", "cancel", [sale])
            continue
        await rpc.model("sale.sale", "quote", [sale])
        if status.state is OrderState.OPEN:
            continue
        await rpc.model("sale.sale", "confirm", [sale])
        if status.state is not OrderState.SHIPPED:
            continue
        (row,) = await rpc.read("sale.sale", [sale], ["shipments"])
        shipments = row["shipments"]
        await rpc.model(
            "stock.shipment.out",
            "write",
            shipments,
            {"reference": ", ".join(status.tracking_numbers)},
        )
        for step in ("assign_try", "pick", "pack", "do"):
            await rpc.model("stock.shipment.out", step, shipments)

    # the seeded stock levels, absolute
    levels = {
        products[s.number]: s.quantity
        for s in seed.stock
        if s.warehouse in (None, "WH")
    }
    await set_stock(rpc, location, levels)
    return products
