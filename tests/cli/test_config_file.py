"""
The config file read into a `Synchronizer` (in process: what each table
builds, and the errors a person can act on).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ecomsync import Synchronizer
from ecomsync._cli._config import load
from ecomsync._cli._config_table import parse_duration
from ecomsync.erp.tryton import TrytonErp
from ecomsync.exceptions import ConfigurationError
from ecomsync.licensing import (
    FileLicensePool,
    LocalLicensePool,
    PostgresLicensePool,
)
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.state import PostgresStore, SqliteStore


ERP = """
[erp]
type = "demo"
articles = 3
categories = 1
"""

TRYTON = (
    'type = "tryton"\nurl = "https://erp"\ndatabase = "d"\nuser = "u"\n'
    'password_env = "CFG_SECRET"\n'
)

SHOP = """
[platforms.shop]
type = "shopware6"
url = "http://127.0.0.1:9"
client_id = "SWIA"
client_secret_env = "CFG_SECRET"
"""


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFG_SECRET", "s3cret-value")
    monkeypatch.setenv("CFG_DSN", "postgresql://u:pw@127.0.0.1:9/db")


def _load(tmp_path: Path, text: str) -> Synchronizer:
    config = tmp_path / "ecomsync.toml"
    config.write_text(text, encoding="utf-8")
    return load(config)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        _load(tmp_path, text)
    assert "s3cret-value" not in str(caught.value)
    return str(caught.value)


def test_vendure_every_option(tmp_path: Path) -> None:
    """
    A Vendure table sets credentials, channel, locations and backorders.
    """
    (tmp_path / "channel").write_text("chan-tok\n")
    sync = _load(
        tmp_path,
        ERP
        + """
[platforms.ven]
type = "vendure"
url = "https://vendure.example/admin-api"
api_key_env = "CFG_SECRET"
channel_token_file = "channel"
language = "de"
category_facet = "warengruppe"
stock_location = "Lager"
stock_locations = { MAIN = "Lager", "WH-2" = "Outlet" }
allow_backorders = true
batch_size = 20
concurrency = 3
timeout = 12.5
""",
    )
    (platform,) = sync.platforms.values()
    assert isinstance(platform, Vendure)
    assert (
        "s3cret-value",
        "chan-tok",
        "de",
        "warengruppe",
        "Lager",
        {"MAIN": "Lager", "WH-2": "Outlet"},
        True,
        20,
        3,
        12.5,
    ) == (
        platform.api_key,
        platform.channel_token,
        platform.language,
        platform.category_facet,
        platform.stock_location,
        dict(platform.stock_locations or {}),
        platform.allow_backorders,
        platform.batch_size,
        platform.concurrency,
        platform.timeout,
    )
    assert "s3cret-value" not in repr(platform)


def test_vendure_needs_a_key_or_a_login(tmp_path: Path) -> None:
    """
    Vendure without api key and without a complete login names both ways.
    """
    message = _error(
        tmp_path,
        ERP
        + """
[platforms.ven]
type = "vendure"
url = "https://vendure.example"
username = "superadmin"
""",
    )

    assert message.startswith("platforms.ven: Vendure needs api_key_env")
    assert "password_env" in message


def test_woocommerce_and_shopify_options(tmp_path: Path) -> None:
    """
    WooCommerce and Shopify tables reach their adapters' options.
    """
    sync = _load(
        tmp_path,
        ERP
        + """
[platforms.woo]
type = "woocommerce"
url = "https://woo.example"
consumer_key = "ck_1"
consumer_secret_env = "CFG_SECRET"
prices_include_tax = false
allow_backorders = true
batch_size = 40
request_deadline = 30

[platforms.sfy]
type = "shopify"
url = "https://x.myshopify.com"
access_token_env = "CFG_SECRET"
api_version = "2025-10"
location = "gid://shopify/Location/7"
locations = { WH1 = "Lager Nord", WH2 = "gid://shopify/Location/8" }
concurrency = 2
bulk_threshold = false
bulk_poll_interval = 0.5
allow_backorders = true
""",
    )
    woo = sync.platforms["woo"]
    sfy = sync.platforms["sfy"]
    assert isinstance(woo, WooCommerce)
    assert isinstance(sfy, Shopify)
    assert (False, True, 40, 30) == (
        woo.prices_include_tax,
        woo.allow_backorders,
        woo.batch_size,
        woo.request_deadline,
    )
    assert ("2025-10", "gid://shopify/Location/7", 2, None, 0.5, True) == (
        sfy.api_version,
        sfy.location,
        sfy.concurrency,
        sfy.bulk_threshold,
        sfy.bulk_poll_interval,
        sfy.allow_backorders,
    )
    assert {"WH1": "Lager Nord", "WH2": "gid://shopify/Location/8"} == (
        sfy.locations
    )


def test_woocommerce_media_login_goes_together(tmp_path: Path) -> None:
    """
    ``wp_user`` without its application password is an error saying so.
    """
    message = _error(
        tmp_path,
        ERP
        + """
[platforms.woo]
type = "woocommerce"
url = "https://woo.example"
consumer_key = "ck_1"
consumer_secret_env = "CFG_SECRET"
wp_user = "admin"
""",
    )

    assert "platforms.woo: wp_user and wp_application_password" in message


def test_an_adapter_refusal_names_the_table(tmp_path: Path) -> None:
    """
    What the adapter itself refuses (a batch too large) names the table.
    """
    message = _error(
        tmp_path,
        ERP
        + """
[platforms.woo]
type = "woocommerce"
url = "https://woo.example"
consumer_key = "ck_1"
consumer_secret_env = "CFG_SECRET"
batch_size = 500
""",
    )

    assert message.startswith("platforms.woo: WooCommerce batch_size")


def test_tryton_every_option(tmp_path: Path) -> None:
    """
    Every TrytonErp option is reachable from ``[erp]``, warehouses too.
    """
    sync = _load(
        tmp_path,
        """
[erp]
type = "tryton"
url = "https://erp.example"
database = "shop"
user = "ecomsync"
password_env = "CFG_SECRET"
warehouse = "WH"
stock_warehouses = ["WH", "WH-2"]
stock_per_warehouse = true
timeout = 20
tax_rate = "7.5"
gross_prices = false
confirm_orders = false
acknowledge_warnings = true
"""
        + SHOP,
    )
    erp = sync.erp
    assert isinstance(erp, TrytonErp)
    assert (
        "WH",
        ("WH", "WH-2"),
        True,
        20,
        Decimal("7.5"),
        False,
        False,
        True,
    ) == (
        erp.warehouse,
        erp.stock_warehouses,
        erp.stock_per_warehouse,
        erp.timeout,
        erp.tax_rate,
        erp.gross_prices,
        erp.confirm_orders,
        erp.acknowledge_warnings,
    )


def test_shopware6_options_store_licences_staging_and_sync(
    tmp_path: Path,
) -> None:
    """
    Shopware 6 options, a file licence pool, staging and the
    synchroniser's settings; relative paths are the config file's.
    """
    sync = _load(
        tmp_path,
        ERP
        + SHOP
        + """
sales_channel_id = "0123"
category_root = "0123456789abcdef0123456789abcdef"
send_mail = true
http_pool = "httpx"

[store]
type = "sqlite"
path = "state/ecomsync.db"

[licenses]
type = "file"
directory = "licences"
count = 3
poll_interval = 0.1

[staging]
directory = "staging"
max_bytes = 1000000

[sync]
license_timeout = 5
batch_size = 50
write_concurrency = 2
overlap = "10m"
""",
    )
    shop = sync.platforms["shop"]
    assert isinstance(shop, Shopware6)
    assert ("0123", True, "httpx") == (
        shop.sales_channel_id,
        shop.send_mail,
        shop.http_pool,
    )
    assert "0123456789abcdef0123456789abcdef" == shop.category_root
    store = sync.store
    assert isinstance(store, SqliteStore)
    assert str(tmp_path / "state" / "ecomsync.db") == store.path
    pool = sync.licenses
    assert isinstance(pool, FileLicensePool)
    assert (tmp_path / "licences", 0.1) == (pool.path, pool.poll_interval)
    assert tmp_path / "staging" == sync.staging.directory
    assert (5, 50, 2, timedelta(minutes=10)) == (
        sync.license_timeout,
        sync.batch_size,
        sync.write_concurrency,
        sync.overlap,
    )


def test_postgres_store_and_licences_share_its_dsn(tmp_path: Path) -> None:
    """
    A postgres licence pool without a DSN of its own uses the store's
    database and schema.
    """
    sync = _load(
        tmp_path,
        ERP
        + SHOP
        + """
[store]
type = "postgres"
dsn_env = "CFG_DSN"
schema = "shop_de"
max_connections = 8

[licenses]
type = "postgres"
count = 2
name = "tryton"
""",
    )
    store = sync.store
    pool = sync.licenses
    assert isinstance(store, PostgresStore)
    assert isinstance(pool, PostgresLicensePool)
    assert ("shop_de", 8) == (store.schema, store.max_connections)
    assert (store.dsn, "tryton", "shop_de") == (
        pool.dsn,
        pool.name,
        pool.schema,
    )
    assert "pw" not in repr(store) + repr(pool)


def test_postgres_licences_need_a_database(tmp_path: Path) -> None:
    """
    A postgres pool beside a SQLite store without ``dsn_env`` says why.
    """
    message = _error(
        tmp_path, ERP + SHOP + '[licenses]\ntype = "postgres"\ncount = 2\n'
    )

    assert "licenses: a postgres pool needs dsn_env" in message


def test_local_licences_by_default(tmp_path: Path) -> None:
    """
    Without ``[licenses]``: one in-process licence; the store is
    ``ecomsync.db`` beside the config file.
    """
    sync = _load(tmp_path, ERP + SHOP)

    assert isinstance(sync.licenses, LocalLicensePool)
    assert str(tmp_path / "ecomsync.db") == sync.store.path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ERP + SHOP + "[store]\ntype = 'mysql'\n", "store.type: 'mysql' is"),
        (
            ERP + SHOP + "[licenses]\ncount = 0\n",
            "licenses.count: a whole number of at least 1 is required, not 0",
        ),
        (
            ERP + SHOP + "[licenses]\ncount = 2\nsize = 3\n",
            "licenses.size: unknown key; [licenses] (local) takes",
        ),
        (ERP + SHOP + "[telemetry]\nx = 1\n", "unknown table 'telemetry'"),
        ("[erp\n", "not valid TOML"),
        (ERP + "[platforms]\nshop = 3\n", "platforms.shop: a table is"),
        (ERP + SHOP + 'http_pool = "curl"\n', "http_pool: 'curl' is not one"),
        (
            ERP.replace('type = "demo"', TRYTON + "timeout = -1"),
            "erp.timeout: a number of seconds above 0 is required, not -1",
        ),
        (
            ERP.replace('type = "demo"', TRYTON + 'tax_rate = "x"'),
            "erp.tax_rate: a number is required, not 'x'",
        ),
        (
            ERP.replace('type = "demo"', TRYTON + "tax_rate = true"),
            "erp.tax_rate: a number is required",
        ),
        (
            ERP.replace('type = "demo"', TRYTON + 'stock_warehouses = "WH"'),
            "erp.stock_warehouses: a list of texts is required",
        ),
        (
            ERP
            + SHOP.replace(
                'client_secret_env = "CFG_SECRET"',
                'client_secret_file = "missing"',
            ),
            "platforms.shop.client_secret_file: cannot read",
        ),
        (
            ERP + SHOP + "[store]\ntype = 'postgres'\ndsn_env = 'CFG_DSN'\n"
            "schema = 'Bad-Name'\n",
            "store: a PostgreSQL schema name must be",
        ),
        (
            ERP
            + SHOP
            + '[[schedules]]\nname = "s"\nevery = 60\ntoken = "x"\n',
            "schedules[0].token: secrets are never written",
        ),
        (
            ERP
            + SHOP
            + SHOP.replace("platforms.shop", "platforms.two")
            + '[[schedules]]\nname = "s"\nevery = 60\n',
            "schedules[0].platform: name one of shop, two",
        ),
        (ERP + SHOP + "[sync]\nbatchsize = 5\n", "sync.batchsize: unknown"),
        (ERP + SHOP + "send_mail = 'yes'\n", "send_mail: true or false"),
        (
            ERP + '[platforms.s]\ntype = "shopify"\nurl = "https://s"\n'
            "access_token_env = 'CFG_SECRET'\nbulk_threshold = true\n",
            "platforms.s.bulk_threshold: a whole number of at least 1",
        ),
        (
            ERP + SHOP + "[sync]\noverlap = 'soon'\n",
            "sync.overlap: a duration",
        ),
        (ERP.replace("demo", "sap") + SHOP, "erp.type: 'sap' is not one of"),
        (ERP, "at least one [platforms.NAME] table"),
        (SHOP, "an [erp] table is required"),
        (
            ERP + SHOP.replace('"SWIA"', "7"),
            "platforms.shop.client_id: a text is required, not 7",
        ),
        (
            ERP + SHOP + 'client_secret_file = "x"\n',
            "platforms.shop: give client_secret_env or client_secret_file",
        ),
        (
            ERP + SHOP.replace("http://", "http://u:p@"),
            "platforms.shop: ",
        ),
        (
            ERP + '[platforms.v]\ntype = "vendure"\nurl = "http://v"\n'
            "api_key_env = 'CFG_SECRET'\nstock_locations = { A = 1 }\n",
            "platforms.v.stock_locations: a table of texts",
        ),
        (
            ERP.replace('type = "demo"', 'type = "tryton"'),
            "erp.url is required",
        ),
        (
            ERP
            + SHOP
            + "[store]\ntype = 'postgres'\ndsn = 'postgresql://x'\n",
            "store.dsn: secrets are never written",
        ),
    ],
)
def test_errors_name_the_table_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    """
    Each mistake is one `ConfigurationError` naming where it is.
    """
    assert expected in _error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            ERP + SHOP + "[sync]\nlicense_timeout = nan\n",
            (
                "sync.license_timeout: a number of seconds 0 or more "
                "(inf: no limit) is required, not nan"
            ),
        ),
        (
            ERP + SHOP + "[sync]\nprogress_interval = inf\n",
            (
                "sync.progress_interval: a number of seconds 0 or more "
                "is required, not inf"
            ),
        ),
        (ERP + SHOP + "[sync]\noverlap = nan\n", "sync.overlap: a duration"),
        (ERP + SHOP + "[sync]\noverlap = 1e300\n", "sync.overlap: a duration"),
        (
            ERP + SHOP + "[sync]\noverlap = '1e300d'\n",
            "sync.overlap: a duration",
        ),
        (
            ERP.replace('type = "demo"', TRYTON + "tax_rate = nan"),
            "erp.tax_rate: a number is required, not nan",
        ),
        (
            ERP.replace('type = "demo"', TRYTON + 'tax_rate = "Infinity"'),
            "erp.tax_rate: a number is required",
        ),
        (
            ERP + SHOP + "request_deadline = inf\n",
            "platforms.shop.request_deadline: a number of seconds above 0",
        ),
        (
            ERP + SHOP + "[staging]\nmax_bytes = 0\n",
            "staging.max_bytes: a whole number of at least 1 is required",
        ),
        (
            ERP + SHOP.replace('"SWIA"', '"  "'),
            "platforms.shop.client_id: a text is required",
        ),
    ],
)
def test_nonsense_values_name_the_table_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    """
    NaN, infinity, a duration beyond any date, a staging budget of 0 and
    a blank name are each a `ConfigurationError` naming the key (they
    were taken, or failed with a bare ValueError or OverflowError).
    """
    assert expected in _error(tmp_path, text)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xffsecret\n", "cannot read '{path}': not UTF-8 text (byte 1)"),
        (b" \n", "'{path}' is empty"),
    ],
)
def test_a_secret_file_that_holds_no_secret(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    """
    A secret file that is not UTF-8 text or holds only white space is a
    configuration error naming the key and the file, as an unset
    variable is, not a traceback or a refusal by the server; no byte of
    the file is quoted.
    """
    (tmp_path / "secret").write_bytes(content)
    text = ERP + SHOP.replace(
        'client_secret_env = "CFG_SECRET"', 'client_secret_file = "secret"'
    )

    message = _error(tmp_path, text)

    assert message == "platforms.shop.client_secret_file: " + (
        expected.format(path=tmp_path / "secret")
    )


def test_an_empty_secret_variable_is_called_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A variable set to nothing is named as empty, not as unset.
    """
    monkeypatch.setenv("CFG_SECRET", "")

    message = _error(tmp_path, ERP + SHOP)

    assert message == (
        "platforms.shop.client_secret_env: the environment variable "
        "'CFG_SECRET' is empty"
    )


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    """
    A config file saved in another encoding: the error names the file
    and where its text stops being UTF-8, no traceback.
    """
    config = tmp_path / "ecomsync.toml"
    config.write_bytes(b'[erp]\ntype = "demo"\n# caf\xe9\n')

    with pytest.raises(ConfigurationError) as caught:
        load(config)

    assert str(caught.value) == (
        f"cannot read the config file {str(config)!r}: not UTF-8 text "
        "(byte 26)"
    )


def test_a_missing_config_file_says_where_it_looked(tmp_path: Path) -> None:
    """
    No file at the path: the error names it.
    """
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path / "nowhere.toml")

    assert "cannot read the config file" in str(caught.value)
    assert "nowhere.toml" in str(caught.value)


def test_postgres_licences_with_their_own_database(tmp_path: Path) -> None:
    """
    A postgres licence pool may name its own DSN beside a SQLite store;
    a schedule without types or platform takes every type of the one
    platform; durations may be numbers of seconds.
    """
    sync = _load(
        tmp_path,
        ERP
        + SHOP
        + """
[licenses]
type = "postgres"
dsn_env = "CFG_DSN"
count = 3

[sync]
overlap = 120

[[schedules]]
name = "all"
every = 900
""",
    )

    assert isinstance(sync.licenses, PostgresLicensePool)
    assert "postgresql://u:pw@127.0.0.1:9/db" == sync.licenses.dsn
    assert timedelta(minutes=2) == sync.overlap


def test_durations() -> None:
    """
    Durations are numbers of seconds or have a unit; others are refused.
    """
    assert [
        timedelta(seconds=90),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(seconds=2.5),
        None,
        None,
        None,
    ] == [
        parse_duration(t)
        for t in ("90", "15m", "1h", "1d", "2.5s", "0", "-1m", "x")
    ]


DOCS = Path(__file__).parents[2] / "docs"


@pytest.mark.parametrize("page", ["deployment.md", "cli.md"])
def test_the_documented_example_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    """
    The full example config of the docs is one the parser accepts.
    """
    text = (DOCS / page).read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    example = example.replace("/run/secrets/shopware", str(secret))
    for name in (
        "TRYTON_PASSWORD",
        "WOO_SECRET",
        "WOO_WP_PASSWORD",
        "SHOPIFY_TOKEN",
        "VENDURE_API_KEY",
    ):
        monkeypatch.setenv(name, "from-a-variable")
    monkeypatch.setenv("ECOMSYNC_DSN", "postgresql://u@127.0.0.1:9/db")

    sync = _load(tmp_path, example)

    assert isinstance(sync.erp, TrytonErp)
    shop = sync.platforms["shop-de"]
    assert isinstance(shop, Shopware6)
    assert "from-a-file" == shop.client_secret
