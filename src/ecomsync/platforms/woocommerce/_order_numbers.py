"""
Order numbers of WooCommerce orders: which orders may hold a number an
``Only`` selection names, and which numbers two orders hold (numbering
plugins need not keep them unique, WooCommerce's own ids are).

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial

from ..._anyio_util import concurrently
from ..._contracts import Refusal
from ..._spec import Only
from ._client import MAX_PER_PAGE, RestApi
from ._common import Row


#: Statuses of what is no order yet, which ``status=any`` lists all the
#: same: a block checkout's draft (the customer opened the checkout and
#: placed nothing; deleted when abandoned), listed until WooCommerce
#: excluded it (woocommerce#63743, 2026), and an ``auto-draft``, which
#: HPOS stores listed (woocommerce#62106).  Imported, they would be ERP
#: orders nobody placed; once placed, the order's status and
#: ``date_modified`` change, and it is read.
NOT_PLACED = frozenset({"checkout-draft", "auto-draft"})


async def by_number(
    api: RestApi, selection: Only, by_id: Sequence[Row] | None = None
) -> list[Row]:
    """
    The orders that may hold a number of *selection*, in ascending
    id: those whose id it is (``include=``), and, where a numbering
    plugin numbers the shop's orders, those a search for it finds
    (one search a number, ``search`` takes one term; run side by
    side within the adapter's requests in flight).  WooCommerce's
    search (``wc_order_search``) matches a numeric term as an id and
    the term within the search fields, to which numbering plugins
    (Sequential Order Numbers) add their ``_order_number``: so a
    retry of a number two orders hold reads both, and a plugin
    number that is no id is found at all.  Without a plugin every
    number is its order's id, no two orders share one, and a search
    (``LIKE %term%`` over the addresses: a term ``5`` lists every
    order with a 5 in its address) would only cost pages; so
    numbers are searched only when a plugin is seen (`_plugin_seen`).
    Only the rows holding a selected number are kept.  *by_id*, if
    given, are the orders whose ids the numbers are, read already.
    """
    wanted = set(selection.numbers)
    found: dict[int, Row] = {}

    async def read(query: dict[str, str]) -> None:
        async for rows in api.pages(
            "orders", {"status": "any", **query}, per_page=MAX_PER_PAGE
        ):
            for row in rows:
                found.setdefault(int(row["id"]), row)

    ids = sorted(n for n in wanted if n.isdigit())
    if by_id is not None:
        found.update((int(r["id"]), r) for r in by_id)
    elif ids:
        await read({"include": ",".join(ids)})
    if await _plugin_seen(api, wanted, found.values()):
        # the first failure (the shop refusing the key) as itself
        await concurrently(
            *(partial(read, {"search": n}) for n in sorted(wanted) if n)
        )
    return [found[i] for i in sorted(found) if number_of(found[i]) in wanted]


async def _plugin_seen(
    api: RestApi, numbers: set[str], rows: Iterable[Row]
) -> bool:
    """
    Whether a numbering plugin numbers the shop's orders: a number
    of *numbers* is no id (the ERP had it from such a plugin), an
    order of *rows* has a number other than its id, or, else, one of
    the newest orders has (one request: a plugin numbers each new
    order, ``woocommerce_order_number``; without one, WooCommerce
    answers the id).
    """
    if any(not n.isdigit() for n in numbers if n):
        return True
    if any(number_of(r) != str(r["id"]) for r in rows):
        return True
    if not numbers:
        return False
    params = {"status": "any", "orderby": "id", "order": "desc"}
    newest = (
        await api.call("GET", "orders", params={**params, "per_page": "10"})
    ).json()
    return any(
        isinstance(r, dict) and number_of(r) != str(r.get("id"))
        for r in newest or []
    )


async def id_holders(
    api: RestApi, rows: Sequence[Row], holders: dict[str, int]
) -> None:
    """
    Note in *holders* the orders numbered by their id (WooCommerce's
    own numbering) whose id is the number a numbering plugin gave one
    of *rows*: a plugin started below the ids in use repeats their
    numbers, and the older order need not be in this read.  One
    request, for pages holding such numbers only, unless the order
    of that id is in *rows* (which `shared_numbers` notes).
    """
    own = {str(r["id"]) for r in rows if number_of(r) == str(r["id"])}
    wanted = sorted(
        {
            n
            for r in rows
            if (n := number_of(r)) != str(r["id"])
            and n.isdigit()
            and n not in holders
            and n not in own
        },
        key=int,
    )
    if not wanted:
        return
    params = {"status": "any", "include": ",".join(wanted)}
    async for found in api.pages("orders", params, per_page=MAX_PER_PAGE):
        for row in found:
            number = number_of(row)
            if (
                number == str(row.get("id"))
                and number in wanted
                and str(row.get("status")) not in NOT_PLACED
            ):
                holders.setdefault(number, int(row["id"]))


def number_of(row: Row) -> str:
    return str(row.get("number") or row["id"])


def shared_numbers(
    rows: Sequence[Row], holders: dict[str, int]
) -> dict[str, list[int]]:
    """
    The numbers two orders hold (of *rows*, or one of *rows* and the
    first order of that number read before, in *holders*, which *rows*
    join), with the ids of the orders read holding them.
    """
    ids: dict[str, list[int]] = {}
    for row in rows:
        number, oid = number_of(row), int(row["id"])
        first = holders.setdefault(number, oid)
        held = ids.setdefault(number, [first])
        if oid not in held:
            held.append(oid)
    return {n: sorted(i) for n, i in ids.items() if len(i) > 1}


def refusal(number: str, ids: Sequence[int]) -> Refusal:
    return Refusal(
        number=number, field="number", reason=twins(number, ids, "imported")
    )


def twins(number: str, ids: Sequence[int], left: str) -> str:
    """
    Why order *number*, which the orders *ids* hold, is not *left*
    (imported, written).
    """
    return (
        f"order number {number} is held by {len(ids)} WooCommerce "
        f"orders ({', '.join(f'#{i}' for i in ids)}): not {left}, "
        "the ERP knows an order by its number and could not tell them "
        "apart; give each its own number in WooCommerce (an order "
        "numbering plugin's counter must not restart or start below "
        "numbers in use)"
    )
