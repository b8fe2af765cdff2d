"""
Reading the config file: the TOML text, the refusal of inline secrets, and
`Table`, which reads one table key by key and refuses the keys nobody read.

The floor of the command line's config: `_config_parts`,
`_config_schedules` and `_config` build on it; it imports none of them.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from ecomsync._settings import Seconds, seconds, whole
from ecomsync.exceptions import ConfigurationError


__all__ = [
    "SECRET_KEYS",
    "TOP_LEVEL",
    "Table",
    "load_config",
    "parse_duration",
]

#: Keys whose values are secrets: only ``<key>_env`` or ``<key>_file``.
SECRET_KEYS = frozenset(
    {
        "password",
        "client_secret",
        "secret",
        "dsn",
        "api_key",
        "token",
        "access_token",
        "consumer_secret",
        "wp_application_password",
        "channel_token",
    }
)

#: The tables a config file may have.
TOP_LEVEL = (
    "erp",
    "platforms",
    "store",
    "licenses",
    "staging",
    "sync",
    "schedules",
)


def load_config(path: Path) -> dict[str, Any]:
    """
    The TOML file at *path* as a dictionary; a clear error if it is not one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read the config file {str(path)!r}: {_why(exc)}"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    _refuse_inline_secrets(data, "")
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        raise ConfigurationError(
            f"{path}: unknown table {unknown[0]!r}; a config file has "
            f"{', '.join(TOP_LEVEL)}"
        )
    return data


def _why(exc: OSError | UnicodeDecodeError) -> str:
    """
    Why a file could not be read, without its bytes (it may hold a
    secret): the OS reason, or where its text is not UTF-8.
    """
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start + 1})"
    return exc.strerror or str(exc)


def _refuse_inline_secrets(value: Any, where: str) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_inline_secrets(item, f"{where[:-1]}[{i}].")
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        name = f"{where}{key}"
        if key in SECRET_KEYS and not isinstance(item, Mapping):
            raise ConfigurationError(
                f"{name}: secrets are never written in the config file; "
                f'use {key}_env = "VARIABLE" or {key}_file = "path"'
            )
        _refuse_inline_secrets(item, f"{name}.")


_MISSING: Any = object()


@attrs.define
class Table:
    """
    One table of the config file, read key by key: every accessor names
    the key it reads, so that `done` can refuse the keys nobody read.
    """

    data: Mapping[str, Any]
    where: str
    base: Path
    known: list[str] = attrs.Factory(list)

    @classmethod
    def of(cls, value: Any, where: str, base: Path) -> Table:
        """
        *value* as a table, or a clear error naming *where*.
        """
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"{where}: a table is required")
        return cls(value, where, base)

    def _get(self, key: str, default: Any) -> Any:
        self.known.append(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise ConfigurationError(f"{self.where}.{key} is required")
            return default
        return value

    def _bad(self, key: str, wanted: str) -> ConfigurationError:
        return ConfigurationError(
            f"{self.where}.{key}: {wanted} is required, not {self.data[key]!r}"
        )

    def text(self, key: str, default: Any = _MISSING) -> Any:
        """
        A non-empty text, not only white space (or *default* if the key
        is absent).
        """
        value = self._get(key, default)
        if key in self.data and (
            not isinstance(value, str) or not value.strip()
        ):
            raise self._bad(key, "a text")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """
        One of *choices*.
        """
        value = self._get(key, default)
        if value not in choices:
            raise ConfigurationError(
                f"{self.where}.{key}: {value!r} is not one of "
                f"{', '.join(choices)}"
            )
        return str(value)

    def whole(
        self, key: str, default: Any = _MISSING, minimum: int = 1
    ) -> Any:
        """
        A whole number of at least *minimum*.
        """
        value = self._get(key, default)
        if key in self.data and not whole(value, minimum):
            raise self._bad(key, f"a whole number of at least {minimum}")
        return value

    def duration(
        self, key: str, rule: Seconds, default: Any = _MISSING
    ) -> Any:
        """
        A number of seconds as *rule* (the library's validator of the same
        setting) takes it, so that the file and the library agree.
        """
        value = self._get(key, default)
        if key in self.data and not rule.accepts(value):
            raise self._bad(key, rule.wanted)
        return value

    def number(self, key: str, default: Any = _MISSING) -> Any:
        """
        A number of seconds above 0, finite: the library's `seconds` rule
        of every such setting (timeouts, deadlines, poll intervals).
        """
        return self.duration(key, seconds(), default)

    def decimal(self, key: str, default: Any = _MISSING) -> Any:
        """
        A decimal number, written as a number or a text (``"19.5"``).
        """
        value = self._get(key, default)
        if key not in self.data:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self._bad(key, "a number")
        try:
            found = Decimal(str(value))
        except InvalidOperation:
            raise self._bad(key, "a number") from None
        if not found.is_finite():
            raise self._bad(key, "a number")
        return found

    def flag(self, key: str, default: bool) -> bool:
        """
        ``true`` or ``false``.
        """
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def texts(self, key: str) -> tuple[str, ...] | None:
        """
        A non-empty list of texts, or ``None`` if absent.
        """
        value = self._get(key, None)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise self._bad(key, "a list of texts")
        return tuple(value)

    def mapping(self, key: str) -> dict[str, str] | None:
        """
        A table of texts by text, or ``None`` if absent.
        """
        value = self._get(key, None)
        if value is None:
            return None
        if (
            not isinstance(value, Mapping)
            or not value
            or not all(isinstance(v, str) and v for v in value.values())
        ):
            raise self._bad(key, 'a table of texts (CODE = "name")')
        return {str(k): v for k, v in value.items()}

    def path(self, key: str, default: Any = _MISSING) -> Any:
        """
        A path; relative ones are relative to the config file.
        """
        value = self.text(key, default)
        if key not in self.data:
            return value
        return self.base / value

    def seconds(self, key: str, default: Any = _MISSING) -> Any:
        """
        A duration: seconds as a number, or a text such as ``"15m"``.
        """
        value = self._get(key, default)
        if key not in self.data:
            return value
        if isinstance(value, str):
            found = parse_duration(value)
            if found is None:
                raise self._bad(key, "a duration (e.g. 30, 90s, 15m, 1h, 1d)")
            return found
        if not seconds().accepts(value):
            raise self._bad(key, "a duration (e.g. 30, 90s, 15m, 1h, 1d)")
        try:
            return timedelta(seconds=value)
        except OverflowError:
            raise self._bad(
                key, "a duration (e.g. 30, 90s, 15m, 1h, 1d)"
            ) from None

    def secret(self, key: str) -> str:
        """
        The secret *key*, from ``<key>_env`` or ``<key>_file``.
        """
        value = self.optional_secret(key)
        if value is None:
            raise ConfigurationError(
                f"{self.where}: {key}_env or {key}_file is required"
            )
        return value

    def optional_secret(self, key: str) -> str | None:
        """
        The secret *key* if the table gives it (`secret`), else ``None``.
        """
        self.known += [f"{key}_env", f"{key}_file"]
        env = self.data.get(f"{key}_env")
        file = self.data.get(f"{key}_file")
        if env is not None and file is not None:
            raise ConfigurationError(
                f"{self.where}: give {key}_env or {key}_file, not both"
            )
        if env is not None:
            value = os.environ.get(str(env))
            if not value:
                why = "is empty" if env in os.environ else "is not set"
                raise ConfigurationError(
                    f"{self.where}.{key}_env: the environment variable "
                    f"{env!r} {why}"
                )
            return value
        if file is not None:
            target = self.base / str(file)
            try:
                text = target.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(
                    f"{self.where}.{key}_file: cannot read {str(target)!r}: "
                    f"{_why(exc)}"
                ) from None
            if not text:
                # as an empty variable: refused here, not by the server
                raise ConfigurationError(
                    f"{self.where}.{key}_file: {str(target)!r} is empty"
                )
            return text
        return None

    def done(self, *, kind: str = "") -> None:
        """
        Refuse the keys no accessor read.
        """
        unknown = [k for k in self.data if k not in self.known]
        if unknown:
            what = f" ({kind})" if kind else ""
            raise ConfigurationError(
                f"{self.where}.{unknown[0]}: unknown key; "
                f"[{self.where}]{what} takes {', '.join(self.known)}"
            )


def parse_duration(text: str) -> timedelta | None:
    """
    ``"90"``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` as a positive
    duration, or ``None``.
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text)
    except ValueError:
        return None
    if not 0 < seconds < math.inf:
        return None
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # beyond timedelta's 999,999,999 days
        return None
