"""
The customer of an order imported into Tryton: a party found by the
shop's customer number on the order's platform (a party identifier
``platform:number``, `party_code`), with the order's addresses.  A party
made before imports named the platform (its identifier the bare number)
is matched as then, and marked.  A party found again follows the shop's
name and e-mail of the customer where the merchant did not edit them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from .._model import Address, Customer, Order
from ._shop_customers import other_customer
from ._tryton_rpc import Rpc
from ._tryton_sales import (
    MARK_FIELDS,
    SaleRejected,
    differences,
    full_name,
    is_imported,
    party_code,
    sale_marks,
    same_values,
)
from ._tryton_shop_order import (
    ORDER_MARK,
    placed_at,
    recorded_digests,
    text_digest,
)


#: The order's fields (of an `Address`) behind the fields of
#: ``party.address`` an import compares: a message names these, never
#: their values (a customer's name and street are personal data, and
#: the failure ledger keeps a message for months).
_FIELDS = {
    "party_name": "first_name/last_name/company",
    "street": "street",
    "postal_code": "zip_code",
    "city": "city",
    "country": "country",
}

if TYPE_CHECKING:
    from .tryton import TrytonErp

#: How many of a party's newest sales (by sale date) `_last_sent` weighs
#: by the moment their orders were placed: a day's orders of one
#: customer, in one call.
_LAST_SALES = 20

#: A call that undoes a write to a party (`Parties.customer`).
Undo = Callable[[], Awaitable[Any]]


def shop_id_prefix(platform: str) -> str:
    """
    What the party identifier code that keeps *platform*'s id of a
    customer (``Customer.platform_id``) on its party starts with,
    ``platform\\id:``: no `party_code`, whose platform part (escaped
    alike) never holds ``\\i``.
    """
    escaped = platform.replace("\\", "\\\\").replace(":", "\\:")
    return f"{escaped}\\id:"


def shop_id_code(customer: Customer, platform: str | None) -> str | None:
    """
    The party identifier code of *platform*'s id of *customer*
    (`shop_id_prefix`), ``None`` without a platform or an id.
    """
    if platform is None or customer.platform_id is None:
        return None
    return shop_id_prefix(platform) + customer.platform_id


@attrs.define
class Parties:
    """
    Parties and their addresses for `OrderImporter`.
    """

    _erp: TrytonErp
    _rpc: Rpc

    async def address_differences(
        self, address_id: int | None, address: Address, field: str
    ) -> str | None:
        """
        What the ``party.address`` *address_id* holds otherwise than the
        shop's *address*, said for the merchant by the order's fields
        (``shipping.street``), not their values (none: the same).
        """
        if address_id is None:
            return "the sale has none"
        (row,) = await self._rpc.read(
            "party.address",
            [address_id],
            ["party_name", "street", "postal_code", "city", "country"],
        )
        values = await self.address_values(address, field)
        paths = [f"{field}.{_FIELDS[key]}" for key in differences(row, values)]
        if not paths:
            return None
        verb = "differs" if len(paths) == 1 else "differ"
        return f"{', '.join(paths)} {verb} from the sale's address in Tryton"

    async def _country(self, code: str, field: str) -> int:
        found = await self._rpc.model(
            "country.country", "search", [["code", "=", code]], 0, 1, None
        )
        if not found:
            raise SaleRejected(f"Tryton has no country {code!r}", field)
        return int(found[0])

    async def customer(
        self, order: Order
    ) -> tuple[int, int, int, bool, str | None, list[Undo]]:
        """
        The party for the order's customer (found by the shop's customer
        number, kept as a party identifier), with the order's addresses,
        whether the party was made now, the identifier code of the
        customer's shop id to give the party once the order's sale is
        booked (`give_id`; ``None``: none owed), and the calls that give
        a party found back the name and e-mail it held (`_follow_shop`),
        for the caller to make if the sale is not booked.  The caller
        holds the claim ``customer:<number>`` (`TrytonErp._claimed`).
        """
        customer = order.customer
        if not customer.number.strip():
            # else every such order's party would be the first one's
            raise SaleRejected(
                "the customer has no customer number, by which Tryton "
                "finds the customer's party",
                "customer.number",
            )
        party, made, kept, owed = await self._party(order)
        billing = await self._address(party, order.billing, "billing")
        shipping = await self._address(party, order.shipping, "shipping")
        # last, and undone by the caller if the sale is not booked: only
        # a sale's note records what the shop sent, so a name written for
        # an order that never became a sale would look like the
        # merchant's edit to the next order, and be kept back
        undo = [] if made else await self._follow_shop(party, kept, order)
        return party, billing, shipping, made, owed, undo

    async def _party(
        self, order: Order
    ) -> tuple[int, bool, dict[str, Any], str | None]:
        """
        The party whose identifier is the order's customer's number on
        its platform (`party_code`), created if there is none, with the
        platform's id of the customer (`shop_id_code`); whether it was
        made, and what a party found holds (its name, e-mail and contact
        mechanisms, read with it).  One whose code
        is the bare number (made before imports named the platform, or
        for an order of no platform) is taken only if it holds a sale
        ecomsync imported, and its code marked, so no other platform's
        customer takes it.  One made for another customer of the
        platform with the number is refused (`_shop_ids`).
        """
        customer, platform = order.customer, order.platform
        code = party_code(customer.number, platform)
        codes = sorted({code, customer.number})
        # with the parties' other untyped identifiers: the platform's ids
        # of the customers each was made for (`_shop_ids`), no request
        # more
        rows = await self._rpc.search_read(
            "party.identifier",
            [
                [
                    "party",
                    "where",
                    [
                        [
                            "identifiers",
                            "where",
                            [["code", "in", codes], ["type", "=", None]],
                        ]
                    ],
                ],
                ["type", "=", None],
            ],
            [
                "party",
                "code",
                "party.name",
                "party.email",
                "party.contact_mechanisms.type",
                "party.contact_mechanisms.value",
            ],
            order=[["id", "ASC"]],
        )
        found = [r for r in rows if r["code"] in codes]
        # a bare number (an order of no platform, as a host's direct
        # import; or a party from before platforms) is the merchant's own
        # identifier unless ecomsync made the party
        marked = code != customer.number
        found = [r for r in found if marked and r["code"] == code] or [
            r for r in found if await self._made_here(int(r["party"]))
        ]
        made = not found
        own = shop_id_code(customer, platform)
        kept: dict[str, Any] = {}
        owed = None
        if found:
            party = int(found[0]["party"])
            kept = found[0].get("party.") or {}
            held = [r["code"] for r in rows if int(r["party"]) == party]
            owed = self._shop_ids(order, held, own)
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
                        "identifiers": [
                            [
                                "create",
                                [{"code": c} for c in (code, own) if c],
                            ]
                        ],
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
        return int(party), made, kept, owed

    async def _follow_shop(
        self, party: int, held: dict[str, Any], order: Order
    ) -> list[Undo]:
        """
        Give *party* (*held*: what it holds) the name and e-mail of
        *order*'s customer where the shop changed them: customers move
        from the shop to the ERP (DESIGN.md, ``ADDRESSES_AND_ORDERS``).
        Only a value the party still holds as the shop sent it with the
        customer's newest imported order (`customer_digests`, in that
        sale's note) is the shop's to change; one the merchant edited in
        Tryton stays, as does the party of a customer whose orders
        earlier versions imported (they recorded nothing).  An order
        placed before that one (imported late: a retry, a backlog) sent
        older values: they stay off the party.  A changed e-mail replaces
        the party's (its first e-mail contact mechanism), an e-mail the
        shop dropped is kept.  Costs no call while the party holds the
        shop's values.  Returns the calls that undo what it wrote.
        """
        customer = order.customer
        # as Tryton keeps them: its text fields strip surrounding spaces
        name = full_name(customer).strip()
        email = (customer.email or "").strip()
        kept_name, kept_email = held.get("name") or "", held.get("email") or ""
        undo: list[Undo] = []
        if (kept_name, kept_email) == (name, email):
            return undo
        sent = await self._last_sent(party)
        newest = placed_at(sent)
        if newest is not None and order.ordered_at < newest:
            return undo
        if kept_name != name and sent.get("customer.name") == text_digest(
            kept_name
        ):
            await self._rpc.model(
                "party.party", "write", [party], {"name": name}
            )
            undo.append(
                partial(
                    self._rpc.model,
                    "party.party",
                    "write",
                    [party],
                    {"name": kept_name},
                )
            )
        if (
            email
            and kept_email != email
            and sent.get("customer.email") == text_digest(kept_email)
        ):
            mechanisms = [
                m
                for m in held.get("contact_mechanisms.") or []
                if m.get("type") == "email" and m.get("value") == kept_email
            ]
            if mechanisms and kept_email:
                await self._rpc.model(
                    "party.contact_mechanism",
                    "write",
                    [mechanisms[0]["id"]],
                    {"value": email},
                )
                undo.append(
                    partial(
                        self._rpc.model,
                        "party.contact_mechanism",
                        "write",
                        [mechanisms[0]["id"]],
                        {"value": kept_email},
                    )
                )
            elif not kept_email:
                made = await self._rpc.model(
                    "party.contact_mechanism",
                    "create",
                    [{"party": party, "type": "email", "value": email}],
                )
                undo.append(
                    partial(
                        self._rpc.model,
                        "party.contact_mechanism",
                        "delete",
                        list(made),
                    )
                )
        return undo

    async def _last_sent(self, party: int) -> dict[str, str]:
        """
        The digests *party*'s imported sale of the order the shop placed
        last records (none where no sale has them): of the sales of the
        newest sale dates, the one whose digests say it was placed last
        (the sale imported last may hold an older order), else the
        newest of them.
        """
        rows = await self._rpc.model(
            "sale.sale",
            "search_read",
            [
                ["party", "=", party],
                [
                    "OR",
                    ["attachments.description", "like", f"%{ORDER_MARK}%"],
                    # the sales earlier versions imported
                    ["notes.message", "like", f"{ORDER_MARK}%"],
                ],
            ],
            0,
            _LAST_SALES,
            [["sale_date", "DESC"], ["id", "DESC"]],
            ["notes.message", *MARK_FIELDS],
        )
        newest: dict[str, str] = {}
        for row in rows:
            recorded, _ = recorded_digests(row)
            if not newest:
                newest = recorded
            moment = placed_at(recorded)
            latest = placed_at(newest)
            if moment is not None and (latest is None or moment > latest):
                newest = recorded
        return newest

    def _shop_ids(
        self, order: Order, held: list[str], own: str | None
    ) -> str | None:
        """
        Refuse *order* on ``customer.number`` if its customer's party by
        the number was made for other customers of the platform (the ids
        among the party's identifiers' codes *held*): Shopware keeps
        customer numbers without a unique key, and the order would be
        booked onto another person.  A party kept without one (made
        before ecomsync kept them) is owed the order's customer's id
        (*own*, returned), given once the sale is booked (`give_id`).
        """
        if own is None or order.platform is None:
            return None
        prefix = shop_id_prefix(order.platform)
        ids = [c[len(prefix) :] for c in held if c.startswith(prefix)]
        reason = other_customer(order, ids)
        if reason is not None:
            raise SaleRejected(reason, "customer.number")
        return None if ids else own

    async def give_id(self, party: int, code: str) -> None:
        """
        Give *party* the identifier *code* of the shop's id of the
        customer whose sale was just booked on it (`customer`'s owed
        code).  Only then: an order refused later (an unknown country, a
        total Tryton does not reach) would have given a party from
        before another customer's id, and every later order of the
        customer it was made for would be refused.  A process gone
        between the sale and this leaves the party without: the next
        order booked on it gives it.
        """
        await self._rpc.model(
            "party.identifier", "create", [{"party": party, "code": code}]
        )

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
            [
                ["party", "=", party],
                [
                    "OR",
                    ["attachments.description", "ilike", "%(ecomsync)%"],
                    ["comment", "ilike", "%(ecomsync)%"],
                ],
            ],
            MARK_FIELDS,
        )
        return any(is_imported(sale_marks(row)) for row in rows)

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
