"""
The config file: one TOML file naming the ERP, the platforms, the store,
the licences and the staging directory.

Secrets never stand in the file: a secret key ``password`` is given as
``password_env = "VARIABLE"`` (read from the environment) or
``password_file = "path"`` (the file's text, stripped).  An inline secret
is a `ConfigurationError` naming the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecomsync import Synchronizer
from ecomsync.exceptions import ConfigurationError
from ecomsync.licensing import LocalLicensePool
from ecomsync.media import MediaStaging
from ecomsync.typing import ErpSource, LicensePool, Platform, StateStore


__all__ = ["SECRET_KEYS", "load", "load_config"]

#: Keys whose values are secrets: only ``<key>_env`` or ``<key>_file``.
SECRET_KEYS = frozenset(
    {"password", "client_secret", "secret", "dsn", "api_key", "token"}
)


def load_config(path: Path) -> dict[str, Any]:
    """
    The TOML file at *path* as a dictionary; a clear error if it is not one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the config file {str(path)!r}: {exc.strerror or exc}"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    _refuse_inline_secrets(data, "")
    return data


def _refuse_inline_secrets(table: Mapping[str, Any], where: str) -> None:
    for key, value in table.items():
        name = f"{where}{key}"
        if isinstance(value, Mapping):
            _refuse_inline_secrets(value, f"{name}.")
        elif key in SECRET_KEYS:
            raise ConfigurationError(
                f"{name}: secrets are never written in the config file; "
                f'use {key}_env = "VARIABLE" or {key}_file = "path"'
            )


def secret(table: Mapping[str, Any], key: str, where: str) -> str:
    """
    The secret *key* of *table*, from ``<key>_env`` or ``<key>_file``.
    """
    env = table.get(f"{key}_env")
    file = table.get(f"{key}_file")
    if env is not None:
        value = os.environ.get(str(env))
        if not value:
            raise ConfigurationError(
                f"{where}.{key}_env: the environment variable {env!r} "
                "is not set"
            )
        return value
    if file is not None:
        try:
            return Path(str(file)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(
                f"{where}.{key}_file: cannot read {str(file)!r}: "
                f"{exc.strerror or exc}"
            ) from None
    raise ConfigurationError(f"{where}: {key}_env or {key}_file is required")


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}.{key}: a text is required")
    return value


def _kind(
    table: Mapping[str, Any], where: str, kinds: Mapping[str, Any]
) -> str:
    kind = table.get("type")
    if kind not in kinds:
        raise ConfigurationError(
            f"{where}.type: {kind!r} is not one of {sorted(kinds)}"
        )
    return str(kind)


# -- the parts ---------------------------------------------------------------


def _demo_erp(table: Mapping[str, Any], where: str) -> ErpSource:
    from ecomsync.testing import demo_erp

    return demo_erp(
        articles=int(table.get("articles", 200)),
        categories=int(table.get("categories", 10)),
    )


def _tryton(table: Mapping[str, Any], where: str) -> ErpSource:
    from ecomsync.erp.tryton import TrytonErp

    options = {
        k: v
        for k, v in table.items()
        if k in {"warehouse", "timeout", "confirm_orders", "gross_prices"}
    }
    return TrytonErp(
        _text(table, "url", where),
        _text(table, "database", where),
        _text(table, "user", where),
        secret(table, "password", where),
        **options,
    )


_ERPS: dict[str, Callable[[Mapping[str, Any], str], ErpSource]] = {
    "demo": _demo_erp,
    "tryton": _tryton,
}


def _shopware6(table: Mapping[str, Any], where: str) -> Platform:
    from ecomsync.platforms.shopware6 import Shopware6

    options = {
        k: v
        for k, v in table.items()
        if k
        in {
            "sales_channel_id",
            "send_mail",
            "allow_backorders",
            "batch_size",
            "concurrency",
            "request_deadline",
        }
    }
    return Shopware6(
        _text(table, "url", where),
        _text(table, "client_id", where),
        secret(table, "client_secret", where),
        **options,
    )


_PLATFORMS: dict[str, Callable[[Mapping[str, Any], str], Platform]] = {
    "shopware6": _shopware6,
}


def _store(table: Mapping[str, Any], base: Path) -> StateStore:
    kind = table.get("type", "sqlite")
    if kind == "sqlite":
        from ecomsync.state import SqliteStore

        return SqliteStore(base / str(table.get("path", "ecomsync.db")))
    if kind == "postgres":
        from ecomsync.state import PostgresStore

        return PostgresStore(
            secret(table, "dsn", "store"),
            schema=str(table.get("schema", "ecomsync")),
        )
    raise ConfigurationError(
        f"store.type: {kind!r} is not one of ['postgres', 'sqlite']"
    )


def _licenses(table: Mapping[str, Any]) -> LicensePool:
    count = table.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise ConfigurationError(
            f"licenses.count: a positive whole number is required, "
            f"not {count!r}"
        )
    return LocalLicensePool(count)


def load(path: Path) -> Synchronizer:
    """
    The synchroniser the config file at *path* describes.  Relative paths
    in the file are relative to the file's directory.
    """
    data = load_config(path)
    base = path.parent
    erp_table = data.get("erp")
    if not isinstance(erp_table, Mapping):
        raise ConfigurationError(f"{path}: an [erp] table is required")
    erp = _ERPS[_kind(erp_table, "erp", _ERPS)](erp_table, "erp")
    platforms_table = data.get("platforms")
    if not isinstance(platforms_table, Mapping) or not platforms_table:
        raise ConfigurationError(
            f"{path}: at least one [platforms.NAME] table is required"
        )
    platforms: dict[str, Platform] = {}
    for name, table in platforms_table.items():
        where = f"platforms.{name}"
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"{where}: a table is required")
        platforms[name] = _PLATFORMS[_kind(table, where, _PLATFORMS)](
            table, where
        )
    staging_table = data.get("staging", {})
    staging_options: dict[str, Any] = {}
    if "directory" in staging_table:
        staging_options["directory"] = base / str(staging_table["directory"])
    if "max_bytes" in staging_table:
        staging_options["max_bytes"] = int(staging_table["max_bytes"])
    sync_table = data.get("sync", {})
    options = {
        k: v
        for k, v in sync_table.items()
        if k
        in {
            "license_timeout",
            "batch_size",
            "media_concurrency",
            "write_concurrency",
            "progress_interval",
        }
    }
    return Synchronizer(
        erp=erp,
        platforms=platforms,
        store=_store(data.get("store", {}), base),
        licenses=_licenses(data.get("licenses", {})),
        staging=MediaStaging(**staging_options),
        **options,
    )
