"""
attrs validators for the settings of the public constructors: each refuses
a value out of its range with a `ConfigurationError` naming the class, the
setting and the value, when the object is made, instead of a failure (or
worse, a silent misreading) in the middle of a run.  The message quotes
the value, but for a ``name(secret=True)``, whose type alone is named.

Private; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from .exceptions import ConfigurationError


__all__ = [
    "Seconds",
    "at_least",
    "flag",
    "name",
    "names_by_name",
    "one_of",
    "seconds",
    "whole",
]


def _where(instance: object, attribute: attrs.Attribute[Any]) -> str:
    return f"{type(instance).__name__} {attribute.alias}"


def whole(value: Any, least: int) -> bool:
    """
    Whether *value* is a whole number of at least *least* (``True`` is
    not one): the rule of `at_least`, which the config file's reader
    applies too.
    """
    return (
        not isinstance(value, bool)
        and isinstance(value, int)
        and value >= least
    )


def at_least(least: int, *, optional: bool = False) -> Any:
    """
    A whole number of at least *least* (``True`` is not one; with
    *optional*, also ``None``).
    """

    def check(
        instance: object, attribute: attrs.Attribute[Any], value: Any
    ) -> None:
        if value is None and optional:
            return
        if not whole(value, least):
            raise ConfigurationError(
                f"{_where(instance, attribute)} must be a whole number of "
                f"at least {least}, got {value!r}"
            )

    return check


@attrs.frozen
class Seconds:
    """
    A number of seconds above 0 (with *zero*, 0 or more), finite (with
    *endless*, also ``inf``: no limit; NaN never); with *optional*, also
    ``None``.  An attrs validator, and the rule the config file's reader
    applies to the same setting (`accepts`, `wanted`), so that the two
    cannot disagree.
    """

    zero: bool = False
    endless: bool = False
    optional: bool = False

    def accepts(self, value: Any) -> bool:
        """
        Whether *value* is such a number of seconds (``None`` aside).
        """
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if math.isinf(value) and value > 0:
            return self.endless
        # `value > 0` is false for NaN.
        return value >= 0 if self.zero else value > 0

    @property
    def wanted(self) -> str:
        """
        What the setting must be, for the messages.
        """
        least = "0 or more" if self.zero else "above 0"
        endless = " (inf: no limit)" if self.endless else ""
        return f"a number of seconds {least}{endless}"

    def __call__(
        self, instance: object, attribute: attrs.Attribute[Any], value: Any
    ) -> None:
        if value is None and self.optional:
            return
        if not self.accepts(value):
            raise ConfigurationError(
                f"{_where(instance, attribute)} must be {self.wanted}, "
                f"got {value!r}"
            )


def seconds(
    *, zero: bool = False, endless: bool = False, optional: bool = False
) -> Seconds:
    """
    A number of seconds (`Seconds`): above 0, finite, unless told.
    """
    return Seconds(zero=zero, endless=endless, optional=optional)


def flag(
    instance: object, attribute: attrs.Attribute[Any], value: Any
) -> None:
    """
    ``True`` or ``False``: ``"no"`` or ``"false"`` would count as true.
    """
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"{_where(instance, attribute)} must be True or False, "
            f"got {value!r}"
        )


def name(*, optional: bool = False, secret: bool = False) -> Any:
    """
    A text that is not empty nor only white space (with *optional*, also
    ``None``); a *secret* is not quoted, only its type named.
    """

    def check(
        instance: object, attribute: attrs.Attribute[Any], value: Any
    ) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or not value.strip():
            got = (
                f"a {type(value).__name__}"
                if secret and value
                else repr(value)
            )
            raise ConfigurationError(
                f"{_where(instance, attribute)} must be a non-empty text, "
                f"got {got}"
            )

    return check


def one_of(*choices: str) -> Any:
    """
    One of *choices*.
    """

    def check(
        instance: object, attribute: attrs.Attribute[Any], value: Any
    ) -> None:
        if value not in choices:
            raise ConfigurationError(
                f"{_where(instance, attribute)} must be one of "
                f"{', '.join(map(repr, choices))}, got {value!r}"
            )

    return check


def names_by_name(
    instance: object, attribute: attrs.Attribute[Any], value: Any
) -> None:
    """
    ``None`` or a mapping of non-empty texts to non-empty texts (ERP
    warehouse code -> a platform's location).
    """
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip()
        for k, v in value.items()
    ):
        raise ConfigurationError(
            f"{_where(instance, attribute)} must map warehouse codes to "
            f"location names (non-empty texts), got {value!r}"
        )
