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

from .._model import Article, OrderState, Variant, number_key
from ..erp._tryton_sales import marks_values, sale_mark


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


def _products(article: Article) -> list[dict[str, Any]]:
    """
    The products of *article*'s template: one per variant, coded by the
    template's code (the article's number) and a suffix, or one.
    """
    if not article.variants:
        return [
            {"suffix_code": article.number, "description": article.description}
        ]
    products = []
    for variant in article.variants:
        if not variant.number.startswith(article.number):
            raise ValueError(
                f"seed variant {variant.number!r} does not start with its "
                f"article's number {article.number!r}"
            )
        products.append(
            {
                "suffix_code": variant.number[len(article.number) :],
                "description": article.description,
            }
        )
    return products


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

    # articles: one template each, with a product per variant (its code
    # the template's and a suffix) or one product, then their images
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
                **({"code": a.number} if a.variants else {}),
                "products": [["create", _products(a)]],
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
    for status in (*seed.order_status, *seed.imported):
        sale = await _draft_sale(
            rpc,
            party=party,
            address=address,
            currency=eur,
            warehouse=warehouse,
            reference=status.number,
            line=(products[first_article], 1.0, unit),
        )
        # as an import marks the sale it makes (order status reads only
        # such sales)
        await rpc.model(
            "ir.attachment",
            "create",
            [marks_values(sale, sale_mark(status.platform))],
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

    # the seeded stock levels are what is available to sell: on hand is
    # that plus what the confirmed, unshipped orders hold (one each), and
    # the open ones an import left unconfirmed (every seeded sale carries
    # an import's mark, with or without a platform)
    held = sum(
        1
        for s in (*seed.order_status, *seed.imported)
        if s.state in (OrderState.IN_PROGRESS, OrderState.OPEN)
    )
    levels = {
        products[s.number]: s.quantity
        + (held if s.number == first_article else 0)
        for s in seed.stock
        if s.warehouse in (None, "WH")
    }
    await set_stock(rpc, location, levels)
    return products


# -- the traps of merchant data (issue 12) --------------------------------

#: What `TrytonErp` reads from `seed_traps` by default (stock summed over
#: both warehouses, available to sell).
TRAP_ARTICLES = (
    # a template with two active variants and a discontinued one
    Article(
        number="SHIRT",
        name="Shirt",
        description="Cotton shirt.",
        price=Decimal("29.90"),
        variants=(
            Variant(number="SHIRT-M", options=(("Size", "M"),)),
            Variant(number="SHIRT-S", options=(("Size", "S"),)),
        ),
    ),
    # a template without code: its variants' common prefix numbers it
    Article(
        number="SOCK",
        name="Sock",
        price=Decimal("4.50"),
        variants=(
            Variant(number="SOCK-BLUE", options=(("Variant", "BLUE"),)),
            Variant(
                number="SOCK-RED",
                options=(("Variant", "RED"),),
                price=Decimal("5.00"),
            ),
        ),
    ),
    # "Old Z" (inactive) and "New Z" (active) share the code Z-1
    Article(number="Z-1", name="New Z", price=Decimal("12.00")),
    # a product taken out of the range
    Article(number="G-1", name="Gone", price=Decimal("3.00"), active=False),
)

#: Available to sell, summed (see `seed_traps` for what makes them).
TRAP_STOCK = {
    "SHIRT-M": 6,  # 8 on hand in WH, 2 on an assigned shipment
    "SHIRT-S": 12,  # 10 in WH + 5 in WH2, 3 on a waiting shipment
    "SOCK-BLUE": 0,
    "SOCK-RED": 6,  # 7 on hand, 1 shipped
    "Z-1": 4,
}

#: Available to sell per warehouse.
TRAP_STOCK_PER_WAREHOUSE = {
    ("SHIRT-M", "WH"): 6,
    ("SHIRT-M", "WH2"): 0,
    ("SHIRT-S", "WH"): 7,
    ("SHIRT-S", "WH2"): 5,
    ("SOCK-BLUE", "WH"): 0,
    ("SOCK-BLUE", "WH2"): 0,
    ("SOCK-RED", "WH"): 6,
    ("SOCK-RED", "WH2"): 0,
    ("Z-1", "WH"): 4,
    ("Z-1", "WH2"): 0,
}


async def add_warehouse(rpc: Rpc, code: str) -> int:
    """
    A second warehouse *code* with its input, output and storage zones.
    """
    zones = await rpc.model(
        "stock.location",
        "create",
        [
            {
                "name": f"{code} {zone}",
                "code": f"{code}-{zone}",
                "type": "storage",
            }
            for zone in ("IN", "OUT", "STO")
        ],
    )
    lost = await _one(rpc, "stock.location", [["type", "=", "lost_found"]])
    (warehouse,) = await rpc.model(
        "stock.location",
        "create",
        [
            {
                "name": f"Warehouse {code}",
                "code": code,
                "type": "warehouse",
                "input_location": zones[0],
                "output_location": zones[1],
                "storage_location": zones[2],
                "lost_found_location": lost,
            }
        ],
    )
    await rpc.model("stock.location", "write", zones, {"parent": warehouse})
    return int(warehouse)


async def sell(
    rpc: Rpc,
    product: int,
    quantity: int,
    *steps: str,
    reference: str = "",
    unit: str = "u",
    confirm: bool = True,
) -> int:
    """
    A confirmed sale of *quantity* of *product* (in the unit whose symbol
    is *unit*) from warehouse WH, its shipment then taken through *steps*
    (``assign_try``, ``pick``, ...); without *confirm*, a quotation.
    """
    uom = await _one(rpc, "product.uom", [["symbol", "=", unit]])
    eur = await _one(rpc, "currency.currency", [["code", "=", "EUR"]])
    warehouse = await _one(
        rpc,
        "stock.location",
        [["type", "=", "warehouse"], ["code", "=", "WH"]],
    )
    found = await rpc.model(
        "party.party", "search", [["name", "=", "Trap Customer"]], 0, 1, None
    )
    if found:
        party = int(found[0])
    else:
        (party,) = await rpc.model(
            "party.party",
            "create",
            [
                {
                    "name": "Trap Customer",
                    "addresses": [["create", [{"city": "Berlin"}]]],
                }
            ],
        )
    (address,) = (await rpc.read("party.party", [party], ["addresses"]))[0][
        "addresses"
    ][:1]
    sale = await _draft_sale(
        rpc,
        party=party,
        address=address,
        currency=eur,
        warehouse=warehouse,
        reference=reference or None,
        line=(product, float(quantity), uom),
    )
    for step in ("quote", "confirm") if confirm else ("quote",):
        await rpc.model("sale.sale", step, [sale])
    if steps:
        (row,) = await rpc.read("sale.sale", [sale], ["shipments"])
        for step in steps:
            await rpc.model("stock.shipment.out", step, row["shipments"])
    return int(sale)


async def _draft_sale(
    rpc: Rpc,
    *,
    party: int,
    address: int,
    currency: int,
    warehouse: int,
    reference: str | None,
    line: tuple[int, float, int],
) -> int:
    """
    A draft sale to *party* from *warehouse*, invoiced and shipped to
    *address*, of one *line* (product, quantity, unit) at 10.00.
    """
    product, quantity, unit = line
    (sale,) = await rpc.model(
        "sale.sale",
        "create",
        [
            {
                "party": party,
                "invoice_address": address,
                "shipment_address": address,
                "company": rpc.context["company"],
                "currency": currency,
                "warehouse": warehouse,
                "reference": reference,
                "invoice_method": "manual",
                "shipment_method": "order",
                "lines": [
                    [
                        "create",
                        [
                            {
                                "type": "line",
                                "product": product,
                                "quantity": quantity,
                                "unit": unit,
                                "unit_price": Decimal("10.00"),
                            }
                        ],
                    ]
                ],
            }
        ],
    )
    return int(sale)


async def _template(
    rpc: Rpc,
    unit: int,
    name: str,
    price: str,
    products: list[dict[str, Any]],
    **values: Any,
) -> dict[str, int]:
    (template,) = await rpc.model(
        "product.template",
        "create",
        [
            {
                "name": name,
                "type": "goods",
                "default_uom": unit,
                "salable": True,
                "sale_uom": unit,
                "list_price": Decimal(price),
                "products": [["create", products]],
                **values,
            }
        ],
    )
    rows = await rpc.search_read(
        "product.product", [["template", "=", template]], ["code"]
    )
    return {row["code"]: int(row["id"]) for row in rows}


async def seed_traps(rpc: Rpc) -> dict[str, int]:
    """
    Create merchant data as it really is in a (pristine) Tryton with the
    ``product_attribute`` module: a template with variants (one of them
    discontinued), a template without code, a code reused by an active
    product after its inactive predecessor, an inactive article, a second
    warehouse ``WH2`` and stock held by confirmed sales.  `TRAP_ARTICLES`
    and `TRAP_STOCK` are what `TrytonErp` reads back.  Returns the active
    products' ids by code.
    """
    unit = await _one(rpc, "product.uom", [["symbol", "=", "u"]])
    (size,) = await rpc.model(
        "product.attribute",
        "create",
        [
            {
                "name": "size",
                "string": "Size",
                "type_": "selection",
                "selection": "s:S\nm:M\nl:L",
            }
        ],
    )
    (sizes,) = await rpc.model(
        "product.attribute.set",
        "create",
        [{"name": "Sizes", "attributes": [["add", [size]]]}],
    )
    shirts = await _template(
        rpc,
        unit,
        "Shirt",
        "29.90",
        [
            {
                "suffix_code": f"-{s.upper()}",
                "description": "Cotton shirt.",
                "attributes": {"size": s},
            }
            for s in ("s", "m", "l")
        ],
        code="SHIRT",
        attribute_set=sizes,
    )
    await rpc.model(
        "product.product", "write", [shirts["SHIRT-L"]], {"active": False}
    )
    socks = await _template(
        rpc,
        unit,
        "Sock",
        "4.50",
        [
            {"suffix_code": "SOCK-BLUE"},
            # a variant with a price of its own
            {"suffix_code": "SOCK-RED", "list_price": Decimal("5.00")},
        ],
    )
    old = await _template(rpc, unit, "Old Z", "9.00", [{"suffix_code": "Z-1"}])
    await rpc.model(
        "product.product", "write", list(old.values()), {"active": False}
    )
    new = await _template(
        rpc, unit, "New Z", "12.00", [{"suffix_code": "Z-1"}]
    )
    gone = await _template(rpc, unit, "Gone", "3.00", [{"suffix_code": "G-1"}])
    (gone_template,) = await rpc.read(
        "product.product", list(gone.values()), ["template"]
    )
    await rpc.model(
        "product.template",
        "write",
        [gone_template["template"]],
        {"active": False},
    )
    products = {**shirts, **socks, **new}
    del products["SHIRT-L"]

    await add_warehouse(rpc, "WH2")
    await set_stock(
        rpc,
        await storage_location(rpc),
        {
            products["SHIRT-S"]: 10,
            products["SHIRT-M"]: 8,
            products["SOCK-RED"]: 7,
            products["Z-1"]: 4,
        },
    )
    await set_stock(
        rpc, await storage_location(rpc, "WH2"), {products["SHIRT-S"]: 5}
    )
    await sell(rpc, products["SHIRT-S"], 3)  # waiting
    await sell(rpc, products["SHIRT-M"], 2, "assign_try")  # assigned
    await sell(
        rpc, products["SOCK-RED"], 1, "assign_try", "pick", "pack", "do"
    )
    return products
