"""
Judging one field of a record: `Problem` (a field and why it is wrong) and
the checks every record's texts, amounts and quantities go through.

The floor of the model: `_model` (records) and `_record_checks` (whole
records, orders' money) build on it; it imports nothing of ecomsync.
"""

from __future__ import annotations

import re
from decimal import Decimal

import attrs


__all__ = [
    "MAX_AMOUNT",
    "MAX_QUANTITY",
    "MAX_TEXT_BYTES",
    "Problem",
    "amount_problems",
    "quantity_problems",
    "text_problems",
]

#: Texts longer than this (in UTF-8 bytes) are refused: no shop takes them.
MAX_TEXT_BYTES = 1_000_000


@attrs.frozen
class Problem:
    """
    What is wrong with a record: the *field* (a dotted path) and why.
    """

    field: str
    reason: str


#: Control characters (Unicode category Cc) a text may not hold: all but
#: tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def text_problems(
    path: str, value: object, *, required: bool = False
) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(path, f"must be text, got {type(value).__name__}")]
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return [Problem(path, "is not valid UTF-8 text")]
    if size > MAX_TEXT_BYTES:
        return [
            Problem(path, f"is {size:,} bytes, more than {MAX_TEXT_BYTES:,}")
        ]
    if required and not value.strip():
        return [Problem(path, "is missing")]
    control = _CONTROL.search(value)
    if control is not None:
        return [
            Problem(
                path,
                f"holds the control character U+{ord(control.group()):04X} "
                f"at position {control.start()}",
            )
        ]
    return []


#: The largest amount (price, total) a record may carry, in either
#: direction: more is a data error, not a price.
MAX_AMOUNT = Decimal(10) ** 12

#: The largest quantity (stock, order line) a record may carry: what a
#: signed 32-bit integer holds, as Shopware and Vendure store it.
MAX_QUANTITY = 2**31 - 1


def amount_problems(
    path: str,
    value: object,
    *,
    low: Decimal = -MAX_AMOUNT,
    high: Decimal = MAX_AMOUNT,
) -> list[Problem]:
    """
    What is wrong with a decimal: NaN, infinite, or outside *low*..*high*.

    Never compares a NaN (that raises), so it cannot crash.
    """
    if not isinstance(value, Decimal):
        return [Problem(path, f"must be a number, got {value!r}")]
    if value.is_nan():
        return [Problem(path, f"is not a number ({value})")]
    if value.is_infinite():
        return [Problem(path, f"is infinite ({value})")]
    if value < low:
        if low == 0:
            return [Problem(path, f"is negative ({value})")]
        return [Problem(path, f"{value} is below {low}")]
    if value > high:
        return [Problem(path, f"{value} is above {high}")]
    return []


def quantity_problems(
    path: str, value: object, *, low: int = -MAX_QUANTITY
) -> list[Problem]:
    """
    What is wrong with a quantity: not a whole number, or out of range.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        return [Problem(path, f"must be a whole number, got {value!r}")]
    if not low <= value <= MAX_QUANTITY:
        return [Problem(path, f"{value} is outside {low}..{MAX_QUANTITY}")]
    return []
