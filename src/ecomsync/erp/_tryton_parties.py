"""
The customer of an order imported into Tryton: a party found by the
shop's customer number on the order's platform (a party identifier
``platform:number``, `party_code`), with the order's addresses.  A party
made before imports named the platform (its identifier the bare number)
is matched as then, and marked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .._model import Address, Customer, Order
from ._tryton_rpc import Rpc
from ._tryton_sales import (
    SaleRejected,
    differences,
    full_name,
    is_imported,
    party_code,
    same_values,
)


#: The words for the fields of ``party.address`` an import compares.
_LABELS = {
    "party_name": "name",
    "street": "street",
    "postal_code": "postal code",
    "city": "city",
}


if TYPE_CHECKING:
    from .tryton import TrytonErp


@attrs.define
class Parties:
    """
    Parties and their addresses for `OrderImporter`.
    """

    _erp: TrytonErp
    _rpc: Rpc

    async def address_differences(
        self, address_id: int | None, address: Address, field: str
    ) -> list[str]:
        """
        What the ``party.address`` *address_id* holds otherwise than the
        shop's *address*, said for the merchant (none: the same).
        """
        if address_id is None:
            return ["the sale has none"]
        (row,) = await self._rpc.read(
            "party.address",
            [address_id],
            ["party_name", "street", "postal_code", "city", "country"],
        )
        values = await self.address_values(address, field)
        said = []
        for key in differences(row, values):
            if key == "country":
                said.append(
                    f"country {address.country!r} in the shop, another "
                    "in Tryton"
                )
            else:
                said.append(
                    f"{_LABELS[key]} {values[key]!r} in the shop, "
                    f"{row.get(key) or ''!r} in Tryton"
                )
        return said

    async def _country(self, code: str, field: str) -> int:
        found = await self._rpc.model(
            "country.country", "search", [["code", "=", code]], 0, 1, None
        )
        if not found:
            raise SaleRejected(f"Tryton has no country {code!r}", field)
        return int(found[0])

    async def customer(self, order: Order) -> tuple[int, int, int, bool]:
        """
        The party for the order's customer (found by the shop's customer
        number, kept as a party identifier), with the order's addresses,
        and whether the party was made now.  The caller holds the claim
        ``customer:<number>`` (`TrytonErp._claimed`).
        """
        customer = order.customer
        if not customer.number.strip():
            # else every such order's party would be the first one's
            raise SaleRejected(
                "the customer has no customer number, by which Tryton "
                "finds the customer's party",
                "customer.number",
            )
        party, made = await self._party(customer, order.platform)
        billing = await self._address(party, order.billing, "billing")
        shipping = await self._address(party, order.shipping, "shipping")
        return party, billing, shipping, made

    async def _party(
        self, customer: Customer, platform: str | None
    ) -> tuple[int, bool]:
        """
        The party whose identifier is *customer*'s number on *platform*
        (`party_code`), created if there is none.  One whose code is the
        bare number (made before imports named the platform, or for an
        order of no platform) is taken only if it holds a sale ecomsync
        imported, and its code marked, so no other platform's customer
        takes it.
        """
        code = party_code(customer.number, platform)
        found = await self._rpc.search_read(
            "party.identifier",
            [
                ["code", "in", sorted({code, customer.number})],
                ["type", "=", None],
            ],
            ["party", "code"],
            order=[["id", "ASC"]],
        )
        # a bare number (an order of no platform, as a host's direct
        # import; or a party from before platforms) is the merchant's own
        # identifier unless ecomsync made the party
        marked = code != customer.number
        found = [r for r in found if marked and r["code"] == code] or [
            r for r in found if await self._made_here(int(r["party"]))
        ]
        made = not found
        if found:
            party = int(found[0]["party"])
            if found[0]["code"] != code:
                await self._rpc.model(
                    "party.identifier",
                    "write",
                    [found[0]["id"]],
                    {"code": code},
                )
        else:
            (party,) = await self._rpc.model(
                "party.party",
                "create",
                [
                    {
                        "name": full_name(customer),
                        "identifiers": [["create", [{"code": code}]]],
                        "contact_mechanisms": [
                            [
                                "create",
                                [{"type": "email", "value": customer.email}],
                            ]
                        ]
                        if customer.email
                        else [],
                    }
                ],
            )
        return int(party), made

    async def _made_here(self, party: int) -> bool:
        """
        Whether *party*, whose identifier is a customer's bare number,
        is one an earlier ecomsync made (it holds a sale ecomsync
        imported), not one the merchant keeps a number of their own on
        (a customer number from an older system): the shop's customer
        with that number is not that person, and their identifier stays.
        """
        rows = await self._rpc.search_read(
            "sale.sale",
            [["party", "=", party], ["comment", "ilike", "%(ecomsync)%"]],
            ["comment"],
        )
        return any(is_imported(row.get("comment")) for row in rows)

    async def mark(self, order: Order, party: int) -> None:
        """
        Mark the identifier of the order's customer on *party* (the party
        of a sale made before imports named the platform, now marked as
        the order's platform's) as that platform's, so another platform's
        customer with the number no longer takes the party.
        """
        number = order.customer.number
        if order.platform is None or not number.strip():
            return
        async with self._erp._claimed(f"customer:{number}"):
            found = await self._rpc.model(
                "party.identifier",
                "search",
                [
                    ["party", "=", party],
                    ["code", "=", number],
                    ["type", "=", None],
                ],
                0,
                None,
                None,
            )
            if found:
                code = party_code(number, order.platform)
                await self._rpc.model(
                    "party.identifier", "write", found, {"code": code}
                )

    async def address_values(
        self, address: Address, field: str
    ) -> dict[str, Any]:
        """
        The ``party.address`` values of *address*, its text without
        surrounding whitespace (as Tryton keeps its name, postal code and
        city).
        """
        country = await self._country(address.country, f"{field}.country")
        name = f"{address.first_name} {address.last_name}".strip()
        if address.company:
            name = f"{address.company}, {name}" if name else address.company
        return {
            "party_name": name.strip(),
            "street": address.street.strip(),
            "postal_code": address.zip_code.strip(),
            "city": address.city.strip(),
            "country": country,
        }

    async def _address(self, party: int, address: Address, field: str) -> int:
        values = await self.address_values(address, field)
        rows = await self._rpc.search_read(
            "party.address",
            [["party", "=", party]],
            ["party_name", "street", "postal_code", "city", "country"],
            order=[["id", "ASC"]],
        )
        for row in rows:
            if same_values(row, values):
                return int(row["id"])
        (created,) = await self._rpc.model(
            "party.address", "create", [{"party": party, **values}]
        )
        return int(created)
