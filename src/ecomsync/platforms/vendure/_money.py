"""
Money of the Vendure adapter: Vendure keeps every amount as whole minor
units, ``amount * 10**precision``, where the precision is its
MoneyStrategy's (2 by default, set per server, the same for every
currency), which the Admin API tells as ``moneyStrategyPrecision``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ...exceptions import ConfigurationError
from ._client import JSON


#: The decimals of Vendure's default MoneyStrategy (``precision``).
DEFAULT_PRECISION = 2


def minor(amount: Decimal, precision: int) -> int:
    """
    *amount* in the minor units of a server whose MoneyStrategy keeps
    *precision* decimals (Vendure stores ``amount * 10**precision``
    whatever the currency), rounded half up.
    """
    return int(amount.scaleb(precision).quantize(Decimal(1), ROUND_HALF_UP))


def major(units: int, precision: int) -> Decimal:
    """
    The amount Vendure means by *units* minor units at *precision*
    decimals, with exactly that many decimals.
    """
    return (
        Decimal(units)
        .scaleb(-precision)
        .quantize(Decimal(1).scaleb(-precision))
    )


#: Asks the server for `precision_of`.
PRECISION_QUERY = "globalSettings { serverConfig { moneyStrategyPrecision } }"


def precision_of(data: JSON) -> int:
    """
    The decimals of the server's money from an answer to
    `PRECISION_QUERY`: set by its MoneyStrategy (``precision``, 2 by
    default), the same for every currency.

    Raises:
        ConfigurationError: The server reports no usable precision.
    """
    value = data["globalSettings"]["serverConfig"]["moneyStrategyPrecision"]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (0 <= value <= 12)
    ):
        raise ConfigurationError(
            "Vendure reports a money precision (moneyStrategyPrecision) "
            f"of {value!r}; ecomsync needs a whole number of decimals "
            "from 0 to 12"
        )
    return value


__all__ = [
    "DEFAULT_PRECISION",
    "PRECISION_QUERY",
    "major",
    "minor",
    "precision_of",
]
