"""
The rows a fresh emulated shop starts with: currency, language, taxes,
customer group, country, salutation, payment and shipping method, the
root category, the storefront sales channel and the state machines.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from ._schema import DEFAULT_CURRENCY, SYSTEM_LANGUAGE, seed_id
from ._state_machines import STATE_MACHINES
from ._store import Row


@attrs.frozen
class SeedIds:
    """
    Ids of the seeded rows.
    """

    currency: str = DEFAULT_CURRENCY
    language: str = SYSTEM_LANGUAGE
    tax_standard: str = seed_id("tax.19")
    tax_reduced: str = seed_id("tax.7")
    sales_channel: str = seed_id("sales_channel.storefront")
    # Shopware's Defaults::FALLBACK_CUSTOMER_GROUP.
    customer_group: str = "cfbd5018d38d41d8adca10d94fc8bdd6"
    country_de: str = seed_id("country.DE")
    salutation: str = seed_id("salutation.not_specified")
    payment_method: str = seed_id("payment_method.invoice")
    shipping_method: str = seed_id("shipping_method.standard")
    root_category: str = seed_id("category.home")


def seed_rows(i: SeedIds) -> Iterator[tuple[str, Row]]:
    """
    ``(entity, row)`` for every seeded row, in insertion order.
    """
    yield (
        "currency",
        {
            "id": i.currency,
            "isoCode": "EUR",
            "factor": 1.0,
            "symbol": "€",
            "name": "Euro",
            "shortName": "EUR",
            # Required since 6.4 (CurrencyDefinition: itemRounding,
            # totalRounding); a fresh install's euro rounds to the cent.
            "itemRounding": {
                "decimals": 2,
                "interval": 0.01,
                "roundForNet": True,
            },
            "totalRounding": {
                "decimals": 2,
                "interval": 0.01,
                "roundForNet": True,
            },
        },
    )
    yield ("language", {"id": i.language, "name": "English"})
    yield (
        "tax",
        {
            "id": i.tax_standard,
            "taxRate": 19.0,
            "name": "Standard rate",
            "position": 1,
        },
    )
    yield (
        "tax",
        {
            "id": i.tax_reduced,
            "taxRate": 7.0,
            "name": "Reduced rate",
            "position": 2,
        },
    )
    yield (
        "customer_group",
        {
            "id": i.customer_group,
            "name": "Standard customer group",
            "displayGross": True,
        },
    )
    yield (
        "country",
        {
            "id": i.country_de,
            "iso": "DE",
            "iso3": "DEU",
            "name": "Germany",
            "active": True,
        },
    )
    yield (
        "salutation",
        {
            "id": i.salutation,
            "salutationKey": "not_specified",
            "displayName": "Not specified",
        },
    )
    yield (
        "payment_method",
        {
            "id": i.payment_method,
            "name": "Invoice",
            "technicalName": "payment_invoice",
            "active": True,
        },
    )
    yield (
        "shipping_method",
        {
            "id": i.shipping_method,
            "name": "Standard",
            "technicalName": "shipping_standard",
            "active": True,
        },
    )
    yield (
        "category",
        {
            "id": i.root_category,
            "name": "Home",
            "parentId": None,
            "active": True,
            "type": "page",
            "level": 1,
        },
    )
    yield (
        "sales_channel",
        {
            "id": i.sales_channel,
            "name": "Storefront",
            "typeId": "8a243080f92e4c719546314b577cf82b",
            "accessKey": "SWSCEMULATOR",
            "currencyId": i.currency,
            "languageId": i.language,
            "customerGroupId": i.customer_group,
            "countryId": i.country_de,
            "paymentMethodId": i.payment_method,
            "shippingMethodId": i.shipping_method,
            "navigationCategoryId": i.root_category,
            "active": True,
        },
    )
    for sm in STATE_MACHINES.values():
        yield (
            "state_machine",
            {
                "id": sm.id,
                "technicalName": sm.technical_name,
                "name": sm.technical_name,
                "initialStateId": sm.state_id(sm.initial),
            },
        )
        for s in sm.states:
            yield (
                "state_machine_state",
                {
                    "id": sm.state_id(s),
                    "technicalName": s,
                    "name": s.replace("_", " ").capitalize(),
                    "stateMachineId": sm.id,
                },
            )
