"""
Where an order status write's answer was lost (`MaybeApplied`: a bare
503 from a proxy, a connection lost after sending), the Vendure adapter
looks for its effect before sending it again: none of these writes is
safe to repeat (a second fulfilment or note, a refused move to the
state a fulfilment already is in).  Each look answers, per call, what
the mutation would have answered, or ``None`` (not landed: send it).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._client import JSON, GraphQL
from ._pages import chunks, pages


_STATES = (
    "query ($ids: [String!]!) { orders(options: { take: 1000, "
    "filter: { id: { in: $ids } } }) { items { id state "
    "fulfillments { id state trackingCode } } } }"
)

#: An order's notes (its history), for the tracking notes already there.
_NOTES = (
    "query ($id: ID!, $options: HistoryEntryListOptions) { order(id: $id) "
    "{ history(options: $options) { totalItems "
    "items { id createdAt type data } } } }"
)


async def _states(gql: GraphQL, ids: Sequence[str]) -> dict[str, JSON]:
    """
    The orders with *ids* (state and fulfilments), by id.
    """
    found: dict[str, JSON] = {}
    # a page of ids a request (take 1000): more were cut at the page's end
    for chunk in chunks(str(i) for i in ids):
        data = await gql.query(_STATES, {"ids": chunk})
        found.update((str(o["id"]), o) for o in data["orders"]["items"])
    return found


async def moved(
    gql: GraphQL, of: dict[str, str], state: str, calls: Sequence[JSON]
) -> list[JSON | None]:
    """
    Fulfilment moves to *state*: those whose fulfilment is in it (*of*
    maps a fulfilment id to its order's).
    """
    orders = await _states(gql, [of[str(c["id"])] for c in calls])
    states = {
        str(f["id"]): f["state"]
        for o in orders.values()
        for f in o.get("fulfillments") or []
    }
    return [
        {"__typename": "Fulfillment", "id": c["id"], "state": state}
        if states.get(str(c["id"])) == state
        else None
        for c in calls
    ]


async def cancelled(gql: GraphQL, calls: Sequence[JSON]) -> list[JSON | None]:
    """
    Order cancellations: those whose order is cancelled.
    """
    orders = await _states(gql, [c["input"]["orderId"] for c in calls])
    found: list[JSON | None] = []
    for call in calls:
        order = orders.get(str(call["input"]["orderId"])) or {}
        found.append(
            {"__typename": "Order", "id": order["id"], "state": "Cancelled"}
            if order.get("state") == "Cancelled"
            else None
        )
    return found


async def fulfilled(
    gql: GraphQL, orders: Sequence[JSON], calls: Sequence[JSON]
) -> list[JSON | None]:
    """
    New fulfilments of *orders* (as read before the write): a live
    fulfilment of the call's order (the owner of its lines) with the
    call's tracking code that the order did not have then.
    """
    owner = {
        str(line["id"]): o for o in orders for line in o.get("lines") or []
    }
    now = await _states(gql, [str(o["id"]) for o in orders])
    taken: set[str] = set()
    found: list[JSON | None] = []
    for call in calls:
        fulfil = call["input"]
        order = owner[str(fulfil["lines"][0]["orderLineId"])]
        known = {str(f["id"]) for f in order.get("fulfillments") or []}
        code = next(
            a["value"]
            for a in fulfil["handler"]["arguments"]
            if a["name"] == "trackingCode"
        )
        live = (now.get(str(order["id"])) or {}).get("fulfillments") or []
        new = next(
            (
                f
                for f in live
                if str(f["id"]) not in known | taken
                and f["state"] != "Cancelled"
                and (f.get("trackingCode") or "") == code
            ),
            None,
        )
        if new is None:
            found.append(None)
            continue
        taken.add(str(new["id"]))
        found.append({"__typename": "Fulfillment", **new})
    return found


async def posted(gql: GraphQL, order: JSON) -> set[str]:
    """
    The notes on *order* (its history), every page of them: one read of
    1,000 entries (state moves, payments, fulfilments and notes alike)
    missed the notes past the 1,000th, and a note already there was
    added again.  Only notes are asked for (the entry type is an enum,
    filtered with StringOperators: api/config/generate-list-options.js).
    """
    notes: set[str] = set()
    async for history in pages(
        gql,
        _NOTES,
        "order.history",
        {"type": {"eq": "ORDER_NOTE"}},
        {"id": order["id"]},
    ):
        notes.update(
            str((h.get("data") or {}).get("note") or "").strip()
            for h in history
            if h.get("type") == "ORDER_NOTE"
        )
    return notes


async def noted(
    gql: GraphQL, order: JSON, calls: Sequence[JSON]
) -> list[JSON | None]:
    """
    Notes added to *order*: those it has.
    """
    notes = await posted(gql, order)
    return [
        {"id": order["id"]} if c["input"]["note"] in notes else None
        for c in calls
    ]


__all__ = ["cancelled", "fulfilled", "moved", "noted", "posted"]
