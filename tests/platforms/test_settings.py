"""
The platforms' settings: a value out of its range is a ConfigurationError
naming the setting when the adapter is made (never a credential's value),
instead of being taken (``sole_writer="no"`` counted as true,
``concurrency=0`` as 1) or failing in the middle of a run.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecomsync import ConfigurationError, MemoryPlatform
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.woocommerce import WooCommerce


URL = "https://shop.test"
SECRET = "s3cret-value"

#: Values no numeric setting takes.
NOT_A_COUNT = [0, -1, 1.5, "4", True, None]
NOT_SECONDS = [0, -1, float("nan"), float("inf"), "60", True, None]
NOT_A_FLAG = ["no", "false", 1, None]


def _cases(
    counts: list[str],
    seconds: list[str],
    flags: list[str],
    names: list[str],
) -> list[Any]:
    return [
        *[
            pytest.param(s, v, id=f"{s}={v!r}")
            for s in counts
            for v in NOT_A_COUNT
        ],
        *[
            pytest.param(s, v, id=f"{s}={v!r}")
            for s in seconds
            for v in NOT_SECONDS
        ],
        *[
            pytest.param(s, v, id=f"{s}={v!r}")
            for s in flags
            for v in NOT_A_FLAG
        ],
        *[
            pytest.param(s, v, id=f"{s}={v!r}")
            for s in names
            for v in ["", "  ", 3]
        ],
    ]


class TestShopware6:
    @pytest.mark.parametrize(
        ("setting", "value"),
        _cases(
            ["batch_size", "concurrency"],
            ["request_deadline"],
            ["send_mail", "allow_backorders", "sole_writer"],
            ["sales_channel_id"],
        ),
    )
    def test_out_of_range_refused(self, setting: str, value: Any) -> None:
        """A setting out of its range is a ConfigurationError naming it
        (sole_writer="no" counted as true)."""
        with pytest.raises(ConfigurationError, match=f"Shopware6 {setting} "):
            Shopware6(URL, "id", SECRET, **{setting: value})

    @pytest.mark.parametrize("pool", ["", "requests", None])
    def test_unknown_http_pool_refused(self, pool: Any) -> None:
        """An unknown http_pool is a ConfigurationError naming the pools
        there are (it was a bare ValueError)."""
        with pytest.raises(ConfigurationError, match="'aiohttp', 'auto'"):
            Shopware6(URL, "id", SECRET, http_pool=pool)

    @pytest.mark.parametrize("secret", ["", 12345678])
    def test_credentials_refused_unquoted(self, secret: Any) -> None:
        """An empty or non-text secret is refused without its value."""
        with pytest.raises(ConfigurationError, match="client_secret") as e:
            Shopware6(URL, "id", secret)

        assert "12345678" not in str(e.value)

    def test_client_id_required(self) -> None:
        """An empty client id is refused naming it."""
        with pytest.raises(ConfigurationError, match="client_id"):
            Shopware6(URL, "", SECRET)


class TestWooCommerce:
    @pytest.mark.parametrize(
        ("setting", "value"),
        _cases(
            ["batch_size", "concurrency"],
            ["request_deadline"],
            ["prices_include_tax", "allow_backorders"],
            ["wp_user"],
        ),
    )
    def test_out_of_range_refused(self, setting: str, value: Any) -> None:
        """A setting out of its range is a ConfigurationError naming it
        (prices_include_tax="false" counted as true)."""
        with pytest.raises(
            ConfigurationError, match=f"WooCommerce {setting} "
        ):
            WooCommerce(URL, "ck_1", SECRET, **{setting: value})

    @pytest.mark.parametrize(
        ("classes", "expected"),
        [
            ([19, 7], "must map tax rates"),
            ({19: None}, "the class of 19 must be a tax class slug"),
            ({7: 7}, "the class of 7 must be a tax class slug"),
        ],
    )
    def test_tax_classes_refused(self, classes: Any, expected: str) -> None:
        """tax_classes that are not rates mapped to class slugs are
        refused naming them (a list failed with a bare AttributeError, a
        None class was written as the class "None")."""
        with pytest.raises(ConfigurationError, match=expected):
            WooCommerce(URL, "ck_1", SECRET, tax_classes=classes)

    def test_secret_refused_unquoted(self) -> None:
        """A non-text consumer secret is refused without its value."""
        with pytest.raises(ConfigurationError, match="consumer_secret") as e:
            WooCommerce(URL, "ck_1", 12345678)  # type: ignore[arg-type]

        assert "12345678" not in str(e.value)


class TestShopify:
    @pytest.mark.parametrize(
        ("setting", "value"),
        _cases(
            ["batch_size", "concurrency"],
            ["request_deadline", "bulk_poll_interval"],
            ["allow_backorders"],
            ["api_version", "location"],
        ),
    )
    def test_out_of_range_refused(self, setting: str, value: Any) -> None:
        """A setting out of its range is a ConfigurationError naming it."""
        with pytest.raises(ConfigurationError, match=f"Shopify {setting} "):
            Shopify(URL, SECRET, **{setting: value})

    @pytest.mark.parametrize(
        "locations", [["WH1"], {"WH1": 3}, {"": "North"}, {"WH1": " "}]
    )
    def test_locations_refused(self, locations: Any) -> None:
        """A locations mapping that is not warehouse codes to location
        names is refused naming it (a list failed with a bare
        AttributeError on first contact)."""
        with pytest.raises(ConfigurationError, match="Shopify locations "):
            Shopify(URL, SECRET, locations=locations)

    @pytest.mark.parametrize("threshold", [0, 1.5, "250", True])
    def test_bulk_threshold_refused(self, threshold: Any) -> None:
        """A bulk threshold not a whole number of at least 1 (nor None)
        is refused naming it."""
        with pytest.raises(ConfigurationError, match="bulk_threshold"):
            Shopify(URL, SECRET, bulk_threshold=threshold)


class TestVendure:
    @pytest.mark.parametrize(
        ("setting", "value"),
        _cases(
            ["batch_size", "concurrency"],
            ["timeout"],
            ["allow_backorders"],
            ["language", "category_facet", "stock_location"],
        ),
    )
    def test_out_of_range_refused(self, setting: str, value: Any) -> None:
        """A setting out of its range is a ConfigurationError naming it
        (concurrency=0 was taken as 1)."""
        with pytest.raises(ConfigurationError, match=f"Vendure {setting} "):
            Vendure(URL, api_key=SECRET, **{setting: value})

    @pytest.mark.parametrize(
        "locations", [["WH1"], {"WH1": 3}, {"": "North"}, {"WH1": " "}]
    )
    def test_stock_locations_refused(self, locations: Any) -> None:
        """A stock_locations mapping that is not warehouse codes to
        location names is refused naming it."""
        with pytest.raises(
            ConfigurationError, match="Vendure stock_locations "
        ):
            Vendure(URL, api_key=SECRET, stock_locations=locations)

    def test_credential_refused_unquoted(self) -> None:
        """A non-text credential is refused naming it, without its
        value."""
        with pytest.raises(ConfigurationError, match="password") as e:
            Vendure(URL, username="admin", password=12345678)  # type: ignore[arg-type]

        assert "12345678" not in str(e.value)


class TestMemoryPlatform:
    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("batch_size", 0),
            ("batch_size", "100"),
            ("latency", -1),
            ("latency", float("nan")),
            ("allow_backorders", "no"),
        ],
    )
    def test_out_of_range_refused(self, setting: str, value: Any) -> None:
        """A setting out of its range is a ConfigurationError naming it."""
        with pytest.raises(
            ConfigurationError, match=f"MemoryPlatform {setting} "
        ):
            MemoryPlatform(**{setting: value})

    def test_no_latency_taken(self) -> None:
        """latency=0, the default, is a valid setting."""
        assert 0 == MemoryPlatform(latency=0).latency
