"""
The parts a config file names, each built from its table: the ERP
(``demo``, ``tryton``), the platforms (``shopware6``, ``woocommerce``,
``shopify``, ``vendure``), the store (``sqlite``, ``postgres``) and the
licence pool (``local``, ``file``, ``postgres``).

Every builder reads each key it knows through `Table` and ends with
`Table.done`, so that a key it does not know is an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ecomsync.exceptions import ConfigurationError
from ecomsync.typing import ErpSource, LicensePool, Platform, StateStore

from ._config_table import Table


T = TypeVar("T")

__all__ = [
    "ERPS",
    "PLATFORMS",
    "STORES",
    "erp_of",
    "licenses_of",
    "platforms_of",
    "store_of",
]


def _kind(table: Table, kinds: Mapping[str, Any], default: Any = None) -> str:
    kind = table.data.get("type", default)
    table.known.append("type")
    if kind not in kinds:
        raise ConfigurationError(
            f"{table.where}.type: {kind!r} is not one of "
            f"{', '.join(sorted(kinds))}"
        )
    return str(kind)


def _build(table: Table, kind: str, make: Callable[[], T]) -> T:
    """
    *make*'s part once every key was checked; a constructor's own
    complaint (a bad URL, missing credentials) names the table.
    """
    table.done(kind=kind)
    try:
        return make()
    except ConfigurationError as exc:
        raise ConfigurationError(f"{table.where}: {exc}") from None


def _options(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# -- ERPs ---------------------------------------------------------------------


def _demo_erp(t: Table) -> ErpSource:
    # the seeded ERP comes with the demo's plugin, from the test kit
    from ._plugins import erp_of_plugin

    options = _options(
        articles=t.whole("articles", 200),
        categories=t.whole("categories", 10),
        image_bytes=t.whole("image_bytes", None, minimum=0),
        seed=t.whole("seed", None, minimum=0),
    )
    return _build(t, "demo", lambda: erp_of_plugin("demo")(**options))


def _tryton(t: Table) -> ErpSource:
    from ecomsync.erp.tryton import TrytonErp

    url = t.text("url")
    database = t.text("database")
    user = t.text("user")
    password = t.secret("password")
    options = _options(
        warehouse=t.text("warehouse", None),
        stock_warehouses=t.texts("stock_warehouses"),
        stock_per_warehouse=t.flag("stock_per_warehouse", False),
        timeout=t.number("timeout", None),
        tax_rate=t.decimal("tax_rate", None),
        gross_prices=t.flag("gross_prices", True),
        confirm_orders=t.flag("confirm_orders", True),
        acknowledge_warnings=t.flag("acknowledge_warnings", False),
    )
    return _build(
        t,
        "tryton",
        lambda: TrytonErp(url, database, user, password, **options),
    )


#: ``[erp] type`` -> builder.
ERPS: dict[str, Callable[[Table], ErpSource]] = {
    "demo": _demo_erp,
    "tryton": _tryton,
}


def erp_of(table: Table) -> ErpSource:
    """
    The ERP of the ``[erp]`` table.
    """
    return ERPS[_kind(table, ERPS)](table)


# -- platforms ----------------------------------------------------------------


def _common(t: Table) -> dict[str, Any]:
    return {
        "batch_size": t.whole("batch_size", None),
        "concurrency": t.whole("concurrency", None),
    }


def _shopware6(t: Table) -> Platform:
    from ecomsync.platforms.shopware6 import Shopware6

    url = t.text("url")
    client_id = t.text("client_id")
    client_secret = t.secret("client_secret")
    options = _options(
        sales_channel_id=t.text("sales_channel_id", None),
        category_root=t.text("category_root", None),
        send_mail=t.flag("send_mail", False),
        allow_backorders=t.flag("allow_backorders", False),
        request_deadline=t.number("request_deadline", None),
        http_pool=t.choice("http_pool", ("auto", "httpx", "aiohttp"), "auto"),
        **_common(t),
    )
    return _build(
        t,
        "shopware6",
        lambda: Shopware6(url, client_id, client_secret, **options),
    )


def _woocommerce(t: Table) -> Platform:
    from ecomsync.platforms.woocommerce import WooCommerce

    url = t.text("url")
    consumer_key = t.text("consumer_key")
    consumer_secret = t.secret("consumer_secret")
    wp_user = t.text("wp_user", None)
    wp_password = t.optional_secret("wp_application_password")
    if (wp_user is None) != (wp_password is None):
        raise ConfigurationError(
            f"{t.where}: wp_user and wp_application_password_env (or _file) "
            "go together (the WordPress user that uploads media)"
        )
    options = _options(
        wp_user=wp_user,
        wp_application_password=wp_password,
        prices_include_tax=t.flag("prices_include_tax", True),
        allow_backorders=t.flag("allow_backorders", False),
        request_deadline=t.number("request_deadline", None),
        **_common(t),
    )
    return _build(
        t,
        "woocommerce",
        lambda: WooCommerce(url, consumer_key, consumer_secret, **options),
    )


def _shopify(t: Table) -> Platform:
    from ecomsync.platforms.shopify import Shopify

    url = t.text("url")
    access_token = t.secret("access_token")
    bulk: dict[str, Any] = {}
    if t.data.get("bulk_threshold") is False:
        t.known.append("bulk_threshold")
        bulk["bulk_threshold"] = None
    else:
        bulk = _options(bulk_threshold=t.whole("bulk_threshold", None))
    options = _options(
        api_version=t.text("api_version", None),
        location=t.text("location", None),
        locations=t.mapping("locations"),
        bulk_poll_interval=t.number("bulk_poll_interval", None),
        allow_backorders=t.flag("allow_backorders", False),
        request_deadline=t.number("request_deadline", None),
        **_common(t),
    )
    return _build(
        t, "shopify", lambda: Shopify(url, access_token, **options, **bulk)
    )


def _vendure(t: Table) -> Platform:
    from ecomsync.platforms.vendure import Vendure

    url = t.text("url")
    api_key = t.optional_secret("api_key")
    username = t.text("username", None)
    password = t.optional_secret("password")
    if api_key is None and (username is None or password is None):
        raise ConfigurationError(
            f"{t.where}: Vendure needs api_key_env (or _file), or username "
            "with password_env (or _file)"
        )
    options = _options(
        api_key=api_key,
        username=username,
        password=password,
        channel_token=t.optional_secret("channel_token"),
        timeout=t.number("timeout", None),
        language=t.text("language", None),
        category_facet=t.text("category_facet", None),
        stock_location=t.text("stock_location", None),
        stock_locations=t.mapping("stock_locations"),
        allow_backorders=t.flag("allow_backorders", False),
        **_common(t),
    )
    return _build(t, "vendure", lambda: Vendure(url, **options))


#: ``[platforms.NAME] type`` -> builder.
PLATFORMS: dict[str, Callable[[Table], Platform]] = {
    "shopware6": _shopware6,
    "woocommerce": _woocommerce,
    "shopify": _shopify,
    "vendure": _vendure,
}


def platforms_of(value: Any, path: Path, base: Path) -> dict[str, Platform]:
    """
    The platforms of the ``[platforms.NAME]`` tables, by name.
    """
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(
            f"{path}: at least one [platforms.NAME] table is required"
        )
    platforms: dict[str, Platform] = {}
    for name, item in value.items():
        table = Table.of(item, f"platforms.{name}", base)
        platforms[name] = PLATFORMS[_kind(table, PLATFORMS)](table)
    return platforms


# -- store and licences ------------------------------------------------------


def _sqlite(t: Table) -> StateStore:
    from ecomsync.state import SqliteStore

    path = t.path("path", t.base / "ecomsync.db")
    return _build(t, "sqlite", lambda: SqliteStore(path))


def _postgres_store(t: Table) -> StateStore:
    from ecomsync.state import PostgresStore

    dsn = t.secret("dsn")
    options = _options(
        schema=t.text("schema", None),
        max_connections=t.whole("max_connections", None),
        application_name=t.text("application_name", None),
        prepared_statements=t.flag("prepared_statements", True),
    )
    return _build(t, "postgres", lambda: PostgresStore(dsn, **options))


#: ``[store] type`` -> builder.
STORES: dict[str, Callable[[Table], StateStore]] = {
    "sqlite": _sqlite,
    "postgres": _postgres_store,
}


def store_of(table: Table) -> StateStore:
    """
    The store of the ``[store]`` table (SQLite ``ecomsync.db`` beside
    the config file by default).
    """
    return STORES[_kind(table, STORES, "sqlite")](table)


def _polling(t: Table) -> dict[str, Any]:
    return _options(
        poll_interval=t.number("poll_interval", None),
        max_poll_interval=t.number("max_poll_interval", None),
    )


def licenses_of(table: Table, store: StateStore) -> LicensePool:
    """
    The licence pool of the ``[licenses]`` table: ``local`` (one
    process, the default), ``file`` (the processes of one machine) or
    ``postgres`` (every process sharing the database; the store's DSN
    unless it names its own).
    """
    from ecomsync.licensing import (
        FileLicensePool,
        LocalLicensePool,
        PostgresLicensePool,
    )

    kinds = ("local", "file", "postgres")
    kind = _kind(table, dict.fromkeys(kinds), "local")
    size = table.whole("count", 1)
    if kind == "local":
        return _build(table, kind, lambda: LocalLicensePool(size))
    if kind == "file":
        directory = table.path("directory")
        options = _polling(table)
        return _build(
            table, kind, lambda: FileLicensePool(directory, size, **options)
        )
    dsn = table.optional_secret("dsn")
    if dsn is None:
        dsn = getattr(store, "dsn", None)
        if dsn is None:
            raise ConfigurationError(
                "licenses: a postgres pool needs dsn_env (or dsn_file), or "
                'a [store] of type = "postgres" whose database it shares'
            )
    options = _options(
        name=table.text("name", None),
        schema=table.text("schema", getattr(store, "schema", None)),
        **_polling(table),
    )
    return _build(
        table, kind, lambda: PostgresLicensePool(dsn, size, **options)
    )
