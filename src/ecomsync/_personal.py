"""
Customers' personal data kept out of what a run records.

A failed order's message goes to the failure ledger (kept for months),
its event and the ``ecomsync.run`` log.  The messages ecomsync builds
name the field, not its value; an ERP's or platform's own words may
still repeat what it was sent (Tryton: 'The email address "…" for party
"…" is not valid').  `redact` replaces every personal value of the order
in such a text by the field it came from, so the merchant still reads
what was wrong and where, and the ledger holds no name, street, e-mail
or phone number.  Numbers (the order's, the customer's, the articles')
are no personal data and stay: the merchant needs them to act.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Sequence

from ._model import ADDRESS_TEXTS, Address, Order


#: Values shorter than this are left: one letter matches too much.
_SHORTEST = 2

#: Words of the messages themselves (ecomsync's, an ERP's): a name or an
#: e-mail's part that is one of them alone ("Order", "shop@...") is left,
#: or the message loses its sense ("<customer.last_name> 10001 changed in
#: the <customer.email>").  Such a name is still replaced where it stands
#: with the rest of the name ("Max Order"), and the whole e-mail always.
_WORDS = """
    a address addresses after amount an and are article articles as at
    be before billing by changed city code company contact country
    currency customer customers does done draft email erp error exist
    field for from has have import imported in info invalid is it its
    line lines mail name new no not number numbers of office old on
    open or order orders party phone platform price prices quantity
    record records sale sales service shipping shop state status store
    street support tax team the to total unit valid was with zip
"""
_MESSAGE_WORDS = frozenset(_WORDS.split())


def personal_values(order: Order) -> dict[str, str]:
    """
    The personal values of *order*, each (lower-cased, its spaces made
    one) with what stands for it: the first field that holds it (the
    customer's, then the billing and the shipping address's) in angle
    brackets.
    """
    found: dict[str, str] = {}
    # a value that is also one of the numbers a message names on purpose
    # (a zip code that is the order number) stays, or the message loses
    # the number the merchant acts on
    keep = kept_numbers(order)

    def add(path: str, value: str) -> None:
        key = " ".join(value.split()).lower()
        if (
            len(key) >= _SHORTEST
            and key not in keep
            and key not in _MESSAGE_WORDS
        ):
            found.setdefault(key, f"<{path}>")

    def add_name(field: str, first: str, last: str) -> None:
        # the whole name first: a part that is a message word alone is
        # left, not beside the rest of the name
        if first.strip() and last.strip():
            whole = f"<{field}.first_name> <{field}.last_name>"
            found.setdefault(f"{first} {last}".lower(), whole)
            found.setdefault(f"{last} {first}".lower(), whole)

    customer = order.customer
    add_name("customer", customer.first_name, customer.last_name)
    for name in ("email", "first_name", "last_name"):
        add(f"customer.{name}", getattr(customer, name))
    # an e-mail checker may quote a part alone ("the domain ... does
    # not exist"); a name is often the part before the @
    for part in customer.email.split("@"):
        add("customer.email", part)
    for field, address in _addresses(order):
        add_name(field, address.first_name, address.last_name)
        for name in ADDRESS_TEXTS:
            add(f"{field}.{name}", getattr(address, name))
    return found


def kept_numbers(order: Order) -> set[str]:
    """
    What a message about *order* names on purpose, lower-cased: its
    number, its customer's, its articles' and the shop's id of its
    customer.  No personal data, and never replaced, nor a name inside
    them (the shop's customer id ``erika-4d92`` keeps its ``erika``).
    """
    numbers = {order.number, order.customer.number}
    numbers.update(line.article_number for line in order.lines)
    if order.customer.platform_id:
        numbers.add(order.customer.platform_id)
    return {n.strip().lower() for n in numbers if n.strip()}


def _addresses(order: Order) -> Iterable[tuple[str, Address]]:
    yield "billing", order.billing
    yield "shipping", order.shipping
    for i, address in enumerate(order.customer.addresses):
        yield f"customer.addresses.{i}", address


def redact(text: str, orders: Sequence[Order]) -> str:
    """
    *text* with every personal value of *orders* replaced by its field
    in angle brackets (``<shipping.street>``), matched whole (not inside
    a longer word) and whatever its case.
    """
    return redactor(orders)(text)


def redactor(orders: Sequence[Order]) -> Callable[[str], str]:
    """
    `redact` for *orders*, its pattern made once for many texts.
    """
    values: dict[str, str] = {}
    for order in orders:
        for key, stands_for in personal_values(order).items():
            values.setdefault(key, stands_for)
    if not values:
        return lambda text: text
    kept: set[str] = set()
    for order in orders:
        kept.update(kept_numbers(order))
    # one pass, longest first: "Max Weg 1" is the street before "Max" is
    # a first name, and a replacement is never searched again
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(
            r"\s+".join(re.escape(w) for w in v.split())
            for v in sorted(values.keys() | kept, key=len, reverse=True)
        )
        # not a name running on into an id ("erika-4d92", the shop's id
        # of another customer a refusal names)
        + r")(?![\w-])",
        re.IGNORECASE,
    )

    def field(match: re.Match[str]) -> str:
        found = " ".join(match.group().split()).lower()
        if found in kept and found not in values:
            return match.group()
        return values.get(found, "<personal data>")

    return lambda text: pattern.sub(field, text)


def redact_error(error: BaseException, orders: Sequence[Order]) -> None:
    """
    Redact *error*'s message in place (its arguments, a ``message`` or
    ``description`` it keeps, as `~ecomsync.erp.tryton.TrytonError`
    does, and its notes), and those of its causes: an error that ends
    the run is stored and logged (with its traceback) too.  Its type
    stays, so what retries it still does.  An exception group's own
    message cannot be changed (it is not its args'): it stays.
    """
    scrub = redactor(orders)
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        found = todo.pop()
        if found is None or any(found is s for s in seen):
            continue
        seen.append(found)
        found.args = tuple(
            scrub(a) if isinstance(a, str) else a for a in found.args
        )
        for name in ("message", "description"):
            value = getattr(found, name, None)
            if isinstance(value, str):
                # a read-only one is its args' text
                with contextlib.suppress(AttributeError):
                    setattr(found, name, scrub(value))
        notes = getattr(found, "__notes__", None)
        if isinstance(notes, list):
            # ``add_note``'s lines, printed with the traceback (the log)
            notes[:] = [scrub(n) if isinstance(n, str) else n for n in notes]
        todo += [found.__cause__, found.__context__]
        if isinstance(found, BaseExceptionGroup):
            todo += found.exceptions
