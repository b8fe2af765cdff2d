"""
The WooCommerce emulator keying custom attributes as WooCommerce does
(``sanitize_title`` of the name).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_test", "cs_test"
API = "/wp-json/wc/v3"


def _attribute(name: str, *options: str) -> dict[str, object]:
    return {"name": name, "options": list(options), "variation": True}


async def _shirt(
    attributes: list[dict[str, object]], variation: list[dict[str, str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """
    A variable product "shirt" with *attributes* and one variation with
    *variation*, through the emulator's REST API: as it answered both.
    """
    emu = WooCommerceEmulator(KEY, SECRET)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="https://shop.test",
        auth=(KEY, SECRET),
    ) as c:
        parent = (
            await c.post(
                f"{API}/products",
                json={
                    "name": "shirt",
                    "type": "variable",
                    "attributes": attributes,
                },
            )
        ).json()
        child = (
            await c.post(
                f"{API}/products/{parent['id']}/variations",
                json={"attributes": variation},
            )
        ).json()
    return parent, child


class TestAttributeKeys:
    """
    A product's custom attributes are keyed by ``sanitize_title(name)``.
    """

    async def test_product_and_variation_keep_one_per_key(self) -> None:
        """
        ``Size`` and ``size`` are one attribute, the later kept
        (``WC_Product::set_attributes``); ``Размер`` and ``Цвет`` two; a
        variation keeps only attributes its parent varies by.
        """
        parent, variation = await _shirt(
            [
                _attribute("Size", "S"),
                _attribute("size", "M"),
                _attribute("Размер", "S"),
                _attribute("Цвет", "Красный"),
            ],
            [
                {"name": "SIZE", "option": "M"},
                {"name": "Цвет", "option": "Красный"},
                {"name": "Material", "option": "Cotton"},
            ],
        )

        assert [("size", ["M"]), ("Размер", ["S"]), ("Цвет", ["Красный"])] == [
            (a["name"], a["options"]) for a in parent["attributes"]
        ]
        assert ["SIZE", "Цвет"] == [a["name"] for a in variation["attributes"]]

    async def test_variation_skips_a_name_of_empty_key(self) -> None:
        """
        The variations controller skips an attribute whose name
        ``sanitize_title`` makes "" (``if ( ! $attribute_id && !
        $attribute_name ) continue;``), though the parent keeps it.
        """
        parent, variation = await _shirt(
            [
                _attribute("???", "S", "M"),
                _attribute("Size", "S"),
            ],
            [
                {"name": "???", "option": "S"},
                {"name": "Size", "option": "S"},
            ],
        )

        assert ["???", "Size"] == [a["name"] for a in parent["attributes"]]
        assert ["Size"] == [a["name"] for a in variation["attributes"]]
