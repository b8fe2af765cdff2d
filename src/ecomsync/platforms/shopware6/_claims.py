"""
Which records of one push must not be sent, and why: invalid values, and
numbers claimed by more than one record.  Pure, no I/O.

Shopware keeps one product per product number, compared under the
``product`` table's ``utf8mb4_unicode_ci`` collation: case- and
accent-insensitive, trailing spaces ignored (PAD SPACE).  So ``A-1``,
``a-1``, ``Á-1`` and ``A-1 `` are one number to Shopware, and two records
claiming it in one push would leave one of them silently overwritten
(same id) or make Shopware refuse the batch.  Every party fails instead,
each naming all of them.  The same record read twice (equal in every
field) is one party: it is written once, and both get its outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs

from ..._ambiguity import named
from ..._fingerprint import checksum
from ..._model import (
    Article,
    Category,
    OrderStatus,
    Record,
    StockLevel,
)
from ..._record_checks import problems
from ..._unicode_ci import unicode_ci
from ._mapping import DEFAULT_CURRENCY_ID
from ._writer import Failure


#: How many parties a message names before "and N more".
_NAMED = 10

R = TypeVar("R", bound=Record)

#: (key, field, label): one number a record claims, through *field*.
Claim = tuple[Hashable, str, str]


def collate(number: str) -> str:
    """
    *number* as Shopware's ``utf8mb4_unicode_ci`` compares it: case,
    accents and trailing spaces dropped, ``ß`` is ``ss``, a no-break
    space a space, a zero-width space or byte order mark nothing
    (`unicode_ci`).
    """
    return unicode_ci(number)


@attrs.frozen
class Screened:
    """
    What may be sent of one push.

    Attributes:
        failures: Index -> why that record is not sent.
        twins: Index of a record that equals an earlier one -> that
            earlier index: the twin is not sent and gets its outcome.
    """

    failures: dict[int, Failure]
    twins: dict[int, int]

    def mirror(self, failures: dict[int, Failure]) -> dict[int, Failure]:
        """
        *failures* with each twin failing as its original did.
        """
        found = dict(failures)
        for twin, original in self.twins.items():
            if original in failures:
                found[twin] = failures[original]
        return found

    def sendable(self, count: int) -> list[int]:
        """
        The indexes below *count* to write, in order.
        """
        return [
            i
            for i in range(count)
            if i not in self.failures and i not in self.twins
        ]


def article_claims(article: Article) -> list[Claim]:
    """
    The product numbers *article* claims: its own and its variants'.
    """
    label = f"article {article.number!r}{named(article)}"
    found: list[Claim] = []
    if isinstance(article.number, str):
        found.append((collate(article.number), "number", label))
    for i, variant in enumerate(article.variants):
        if not isinstance(variant.number, str):
            continue
        found.append(
            (
                collate(variant.number),
                f"variants.{i}.number",
                f"variant {variant.number!r} of {label}",
            )
        )
    return found


def category_claims(category: Category) -> list[Claim]:
    """
    Categories are keyed by their exact number (their id derives from it).
    """
    return [
        (
            category.number,
            "number",
            f"category {category.number!r}{named(category)}",
        )
    ]


def stock_claims(level: StockLevel) -> list[Claim]:
    """
    Shopware holds one stock per product, whatever the warehouse.
    """
    where = "" if level.warehouse is None else f" in {level.warehouse!r}"
    return [
        (
            level.number,
            "number",
            f"stock level {level.number!r}{where} ({level.quantity})",
        )
    ]


def status_claims(status: OrderStatus) -> list[Claim]:
    """
    One status per order and push.
    """
    return [
        (
            status.number,
            "number",
            f"order status {status.number!r} ({status.state.value})",
        )
    ]


def screen(
    records: Sequence[R],
    claims: Callable[[R], list[Claim]],
    *,
    rule: str,
) -> Screened:
    """
    Fail invalid records (`problems`) and every party of a number claimed
    more than once; *rule* says why the platform cannot take two.
    """
    failures: dict[int, Failure] = {}
    twins: dict[int, int] = {}
    first: dict[str, int] = {}
    parties: dict[Hashable, list[tuple[int, str, str]]] = {}
    # Twins (one checksum) have one number, which the checksum covers:
    # only records whose exact number comes again are fingerprinted (the
    # engine fingerprinted each record of the push already).
    numbers: dict[str, int] = {}
    for record in records:
        numbers[record.number] = numbers.get(record.number, 0) + 1
    for i, record in enumerate(records):
        if numbers[record.number] > 1:
            fingerprint = checksum(record)
            if fingerprint in first:
                twins[i] = first[fingerprint]
                continue
            first[fingerprint] = i
        bad = problems(record)
        if bad:
            failures[i] = (f"{bad[0].field} {bad[0].reason}", bad[0].field)
        # An invalid record still claims its number: its rival must not
        # land as if it were the only one.
        for key, field, label in claims(record):
            parties.setdefault(key, []).append((i, field, label))
    for claimants in parties.values():
        if len(claimants) < 2:
            continue
        named = "; ".join(label for _, _, label in claimants[:_NAMED])
        more = len(claimants) - _NAMED
        if more > 0:
            named += f"; and {more} more"
        reason = (
            f"claimed {len(claimants)} times in this push: {named}. "
            f"{rule}; none of them is sent until each has its own number"
        )
        for i, field, _ in claimants:
            failures.setdefault(i, (f"{field} {reason}", field))
    return Screened(failures=failures, twins=twins)


PRODUCT_RULE = (
    "Shopware keeps one product per product number and compares numbers "
    "ignoring case, accents and trailing spaces"
)
CATEGORY_RULE = "Shopware keeps one category per number"
STOCK_RULE = "Shopware 6 keeps one stock per product, not per warehouse"
STATUS_RULE = "an order has one status at a time"


#: The longest product number Shopware takes: ``productNumber`` is a
#: ``NumberRangeField`` of 64 characters (``ProductDefinition``; the
#: column is ``VARCHAR(64)``, Migration1536233120Product).
NUMBER_LENGTH = 64

#: The scale of ``tax.tax_rate`` (DECIMAL(10, 2), Migration1536232660Tax).
_CENT = Decimal("0.01")


def too_long(article: Article) -> Failure | None:
    """
    Why *article* cannot be sent if its number or a variant's is longer
    than Shopware takes: Shopware's own error names ``productNumber``
    without saying whose, so the field names the variant here.
    """
    numbers = [
        ("number", article.number),
        *(
            (f"variants.{i}.number", variant.number)
            for i, variant in enumerate(article.variants)
        ),
    ]
    for field, number in numbers:
        if isinstance(number, str) and len(number) > NUMBER_LENGTH:
            return (
                f"{field} {number!r} has {len(number)} characters; Shopware "
                f"takes product numbers of at most {NUMBER_LENGTH}",
                field,
            )
    return None


def tax_places(article: Article) -> Failure | None:
    """
    Why *article* cannot be sent if its tax rate has more than two
    decimals: Shopware keeps ``tax.tax_rate`` as DECIMAL(10, 2), so the
    shop would tax it at the rate rounded, and never find the tax again.
    """
    rate = article.tax_rate
    if not isinstance(rate, Decimal) or not rate.is_finite():
        return None  # an invalid record: `problems` says so
    kept = rate.quantize(_CENT, rounding=ROUND_HALF_UP)
    if kept == rate:
        return None
    return (
        f"tax_rate {rate} % has more than two decimals; Shopware keeps tax "
        f"rates to two decimals and would tax the article at {kept} %",
        "tax_rate",
    )


def same_options(article: Article) -> Failure | None:
    """
    Why *article* cannot be sent if two of its variants have the same
    options, or one has two values for one option name: Shopware's
    storefront finds a variant by one option per property group, so such
    a variant could never be chosen (Shopware itself takes it).
    """
    first: dict[frozenset[tuple[str, ...]], int] = {}
    for i, variant in enumerate(article.variants):
        # Pairs may come as lists from an ERP adapter: compare as tuples.
        pairs = [tuple(option) for option in variant.options]
        names = [pair[0] for pair in pairs if pair]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            return (
                f"variants.{i}.options: variant {variant.number!r} has "
                f"{names.count(twice[0])} values for "
                f"{twice[0]!r}; a variant has one option per property "
                "group in Shopware",
                f"variants.{i}.options",
            )
        combination = frozenset(pairs)
        k = first.setdefault(combination, i)
        if k != i:
            shown = ", ".join(f"{n}={v}" for n, v in variant.options)
            return (
                f"variants.{i}.options: variant {variant.number!r} has the "
                f"options of variant {article.variants[k].number!r} "
                f"({shown or 'none'}); the shop finds a variant by its "
                "options, so one of them could never be bought",
                f"variants.{i}.options",
            )
    return None


@attrs.frozen
class ShopCurrency:
    """
    The shop's default currency (``Defaults::CURRENCY``), in which prices
    are written, with its item rounding (``itemRounding``; None where the
    shop gave none).
    """

    iso: str
    decimals: int | None = None
    interval: Decimal | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | None) -> ShopCurrency:
        """
        From a ``currency`` row as the Admin API answers it.
        """
        row = row or {}
        rounding = row.get("itemRounding")
        decimals: int | None = None
        interval: Decimal | None = None
        if isinstance(rounding, Mapping):
            if type(rounding.get("decimals")) is int:
                decimals = rounding["decimals"]
            try:
                interval = Decimal(str(rounding.get("interval")))
            except InvalidOperation:
                interval = None
            if interval is not None and (
                not interval.is_finite() or interval <= 0
            ):
                interval = None
        return cls(str(row.get("isoCode") or ""), decimals, interval)

    @classmethod
    def among(
        cls,
        rows: Sequence[Mapping[str, Any]],
        now: float,
        known: tuple[float, ShopCurrency] | None,
    ) -> tuple[float, ShopCurrency] | None:
        """
        (*now*, the shop's default currency) where a sales channel of
        *rows*, read with its ``currency``, has that one as its own (the
        row a look-up by its id reads); else what was *known*.
        """
        for row in rows:
            currency = row.get("currency")
            if row.get("currencyId") == DEFAULT_CURRENCY_ID and isinstance(
                currency, Mapping
            ):
                return now, cls.from_row(currency)
        return known

    def sold_at(self, price: Decimal) -> Decimal:
        """
        What Shopware's cart makes of the unit price *price*
        (``CashRounding::cashRound``: rounded to the item rounding's
        decimals, then, up to two decimals, to its interval).
        """
        if self.decimals is None:
            return price
        rounded = price.quantize(
            Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP
        )
        if self.decimals <= 2 and self.interval is not None:
            steps = (rounded / self.interval).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
            rounded = steps * self.interval
        return rounded

    def refuses(self, article: Article) -> Failure | None:
        """
        Why *article*'s prices cannot be written: another currency, or a
        price the shop would sell rounded.
        """
        if str(article.currency).upper() != self.iso.upper():
            return (
                f"currency: the article is priced in {article.currency}, "
                "the shop writes prices in its default currency "
                f"{self.iso or '(unknown)'}",
                "currency",
            )
        prices = [("price", article.price)] + [
            (f"variants.{i}.price", v.price)
            for i, v in enumerate(article.variants)
            if v.price is not None
        ]
        for field, price in prices:
            sold = self.sold_at(price)
            if sold != price:
                return (
                    f"{field} {price} would be sold at {sold.normalize():f}: "
                    f"the shop rounds {self.iso} prices to "
                    f"{self.decimals} decimals (interval {self.interval}); "
                    "round the price in the ERP or change the currency's "
                    "item rounding in Shopware",
                    field,
                )
        return None
