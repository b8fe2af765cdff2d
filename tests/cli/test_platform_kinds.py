"""
The config file's platform kinds, driven through ``python -m ecomsync``
against the WooCommerce, Shopify and Shopware 6 emulators on loopback (and
an unreachable Vendure).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from .conftest import Cli


def _closed_port() -> int:
    """
    A loopback port nothing listens on.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(
    directory: Path,
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
    *,
    vendure: bool = False,
) -> Path:
    text = f"""
[erp]
type = "demo"
articles = 12
categories = 3

[platforms.sw]
type = "shopware6"
url = "{shop["base_url"]}"
client_id = "{shop["client_id"]}"
client_secret_env = "TEST_SW_SECRET"

[platforms.woo]
type = "woocommerce"
url = "{woo["base_url"]}"
consumer_key = "{woo["consumer_key"]}"
consumer_secret_env = "TEST_WOO_SECRET"
wp_user = "admin"
wp_application_password_file = "wp-password"

[platforms.sfy]
type = "shopify"
url = "{shopify["base_url"]}"
access_token_env = "TEST_SHOPIFY_TOKEN"
api_version = "2026-01"

[store]
path = "state.db"

[licenses]
type = "file"
directory = "licences"
count = 2

[staging]
directory = "staging"
"""
    if vendure:
        text += f"""
[platforms.ven]
type = "vendure"
url = "http://127.0.0.1:{_closed_port()}"
username = "superadmin"
password_env = "TEST_VENDURE_PASSWORD"
stock_locations = {{ MAIN = "Main warehouse" }}
timeout = 5
"""
    (directory / "wp-password").write_text("emulatorapppassword0000\n")
    config = directory / "ecomsync.toml"
    config.write_text(text, encoding="utf-8")
    return config


def _env(
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
    **changes: str,
) -> dict[str, str]:
    return {
        **Cli.env_of(),
        "TEST_SW_SECRET": shop["client_secret"],
        "TEST_WOO_SECRET": woo["consumer_secret"],
        "TEST_SHOPIFY_TOKEN": shopify["access_token"],
        "TEST_VENDURE_PASSWORD": "vendure-secret",
        **changes,
    }


def test_check_one_line_per_part_of_every_kind(
    tmp_path: Path,
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
) -> None:
    """
    ``check`` reaches Shopware 6, WooCommerce and Shopify with secrets
    from variables and files and prints one line per part; exit 0.
    """
    cli = Cli(_config(tmp_path, shop, woo, shopify), _env(shop, woo, shopify))

    done = cli("check")

    assert 0 == done.returncode, done.stdout + done.stderr
    assert [
        "store: ok",
        "licenses: ok",
        "schedules: ok",
        "ERP: ok",
        "sfy: ok",
        "sw: ok",
        "woo: ok",
    ] == done.stdout.splitlines()


def test_check_names_refused_credentials_and_an_unreachable_vendure(
    tmp_path: Path,
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
) -> None:
    """
    Wrong WooCommerce and Shopify secrets and a Vendure nobody serves are
    each a problem on their own line, naming the host, never the secret;
    exit 1.
    """
    cli = Cli(
        _config(tmp_path, shop, woo, shopify, vendure=True),
        _env(
            shop,
            woo,
            shopify,
            TEST_WOO_SECRET="cs_wrong-secret",
            TEST_SHOPIFY_TOKEN="shpat_wrong-token",
        ),
    )

    done = cli("check", "--json", timeout=180)

    assert 1 == done.returncode, done.stderr
    report = json.loads(done.stdout)
    parts = {p["part"]: p for p in report["parts"]}
    assert [
        "store",
        "licenses",
        "schedules",
        "ERP",
        "sfy",
        "sw",
        "ven",
        "woo",
    ] == [p["part"] for p in report["parts"]]
    assert {"store", "licenses", "schedules", "ERP", "sw"} == {
        name for name, p in parts.items() if p["ok"]
    }
    (vendure,) = parts["ven"]["problems"]
    assert "127.0.0.1" in vendure
    assert "unreachable" in vendure
    assert parts["woo"]["problems"]
    assert parts["sfy"]["problems"]
    for secret in ("cs_wrong-secret", "shpat_wrong-token", "vendure-secret"):
        assert secret not in done.stdout + done.stderr


def test_check_names_a_refused_wordpress_application_password(
    tmp_path: Path,
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
) -> None:
    """
    A WooCommerce key that works but a WordPress application password
    that does not: the WooCommerce line names WordPress' refusal of the
    media read, never the password; exit 1.
    """
    config = _config(tmp_path, shop, woo, shopify)
    (tmp_path / "wp-password").write_text("not-the-app-password\n")
    cli = Cli(config, _env(shop, woo, shopify))

    done = cli("check", "--platform", "woo")

    assert 1 == done.returncode, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("woo:")]
    assert line.startswith(f"woo: WooCommerce at {woo['base_url']}: media: ")
    assert "media: WooCommerce refused GET /wp-json/wp/v2/media" in line
    assert "incorrect_password" in line
    assert "not-the-app-password" not in done.stdout + done.stderr


def test_sync_categories_to_woocommerce_and_shopify(
    tmp_path: Path,
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
) -> None:
    """
    The adapters the config builds write: ``sync --platform`` moves the
    categories to WooCommerce and to Shopify.
    """
    cli = Cli(_config(tmp_path, shop, woo, shopify), _env(shop, woo, shopify))

    for name in ("woo", "sfy"):
        done = cli("sync", "categories", "--platform", name, "--json")

        assert 0 == done.returncode, done.stderr
        counts = json.loads(done.stdout)["counts"]["categories"]
        assert 3 == counts["created"] + counts["updated"] + counts["unchanged"]
        assert 0 == counts["failed"]


def test_unknown_key_names_the_key_and_the_table(
    tmp_path: Path,
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
) -> None:
    """
    A misspelt key is exit 2 naming it, its table and the keys it takes.
    """
    config = _config(tmp_path, shop, woo, shopify)
    config.write_text(
        config.read_text().replace(
            'api_version = "2026-01"', "api_versoin = 1"
        )
    )

    done = Cli(config, _env(shop, woo, shopify))("check")

    assert 2 == done.returncode
    assert "platforms.sfy.api_versoin: unknown key" in done.stderr
    assert "[platforms.sfy] (shopify) takes" in done.stderr
    assert "api_version" in done.stderr


def test_inline_secrets_of_every_kind_are_refused(
    tmp_path: Path,
    shop: dict[str, str],
    woo: dict[str, str],
    shopify: dict[str, str],
) -> None:
    """
    A WooCommerce secret, a Shopify token or a Vendure password written
    inline: exit 2 naming the key, without echoing the value.
    """
    base = _config(tmp_path, shop, woo, shopify, vendure=True).read_text()
    for old, new, key in (
        (
            'consumer_secret_env = "TEST_WOO_SECRET"',
            'consumer_secret = "cs_inline"',
            "platforms.woo.consumer_secret",
        ),
        (
            'access_token_env = "TEST_SHOPIFY_TOKEN"',
            'access_token = "cs_inline"',
            "platforms.sfy.access_token",
        ),
        (
            'password_env = "TEST_VENDURE_PASSWORD"',
            'password = "cs_inline"',
            "platforms.ven.password",
        ),
    ):
        config = tmp_path / "inline.toml"
        config.write_text(base.replace(old, new))

        done = Cli(config, _env(shop, woo, shopify))("check")

        assert 2 == done.returncode
        assert f"{key}: secrets are never written" in done.stderr
        assert "cs_inline" not in done.stderr
