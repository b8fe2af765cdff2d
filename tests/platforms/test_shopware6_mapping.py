"""
The Shopware 6 adapter's pure mapping: ids, prices, error pointers, state
machine paths and order-number prefilters.
"""

from __future__ import annotations

import mimetypes
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecomsync import (
    NumberRange,
)
from ecomsync._contracts import StagedMedia
from ecomsync.platforms.shopware6._mapping import net_of, sw_id
from ecomsync.platforms.shopware6._media import _extension
from ecomsync.platforms.shopware6._order_mapping import (
    DELIVERY_GRAPH,
    ORDER_ASSOCIATIONS,
    ORDER_GRAPH,
    ORDER_INCLUDES,
    order_from,
    range_prefilter,
    transitions,
)
from ecomsync.platforms.shopware6._writer import pointer_parts
from ecomsync.testing.shopware6 import ShopwareEmulator


pytestmark = pytest.mark.anyio


def _by_path(filename: str, mime_type: str) -> str:
    """
    The upload's extension as `_extension` took it before, with a path.
    """
    suffix = PurePosixPath(filename).suffix.lower().lstrip(".")
    if suffix.isalnum() and 0 < len(suffix) <= 8:
        return suffix
    guessed = mimetypes.guess_extension(mime_type) or ".bin"
    return guessed.lstrip(".")


class TestUploadExtension:
    @pytest.mark.parametrize(
        "filename",
        [
            "a.jpg",
            "A.JPG",
            "a.tar.gz",
            "a..png",
            "..png",
            ".hidden",
            "a.",
            "noext",
            "",
            ".",
            "..",
            "dir/a.webp",
            "dir.x/a",
            "a.jpg/",
            "a.png/.",
            "a.verylongext",
            "a.j-g",
            "a.ünï",
        ],
    )
    @pytest.mark.parametrize("mime_type", ["image/jpeg", "x/unknown"])
    def test_as_a_path_would_take_it(
        self, filename: str, mime_type: str
    ) -> None:
        """The extension comes from the file name's last suffix exactly as
        PurePosixPath takes it (else from the MIME type), without a path
        per upload."""
        staged = StagedMedia(
            sha256="0" * 64,
            path=Path("/nowhere"),
            size=1,
            filename=filename,
            mime_type=mime_type,
        )
        assert _by_path(filename, mime_type) == _extension(staged)


class TestMapping:
    def test_ids_are_deterministic_hex(self) -> None:
        """
        Ids are md5 of a namespaced string: stable and Shopware-shaped.
        """
        assert sw_id("product", "A-1") == sw_id("product", "A-1")
        assert sw_id("product", "A-1") != sw_id("category", "A-1")
        assert len(sw_id("product", "A-1")) == 32

    def test_net_from_gross(self) -> None:
        """
        Net is gross without tax, to the cent.
        """
        assert Decimal("16.80") == net_of(Decimal("19.99"), Decimal(19))

    def test_pointer(self) -> None:
        """
        A Sync pointer names operation, row and field.
        """
        assert pointer_parts("/ops/3/price/0/gross") == (
            "ops",
            3,
            "price.0.gross",
        )
        assert None is pointer_parts("/limit")

    @pytest.mark.parametrize(
        ("current", "target", "path"),
        [
            ("open", "open", []),
            ("open", "completed", ["process", "complete"]),
            ("cancelled", "in_progress", ["reopen", "process"]),
            ("completed", "in_progress", ["reopen", "process"]),
            # back to open only through completed or cancelled: no way
            ("in_progress", "open", None),
        ],
    )
    def test_order_transitions(
        self, current: str, target: str, path: list[str] | None
    ) -> None:
        """
        The shortest path through the order state machine is planned,
        never through completed or cancelled on the way.
        """
        assert path == transitions(ORDER_GRAPH, current, target)

    def test_delivery_ship(self) -> None:
        """
        An open delivery ships in one step.
        """
        assert transitions(DELIVERY_GRAPH, "open", "shipped") == ["ship"]

    @given(
        st.integers(1, 5000),
        st.integers(0, 5000),
        st.integers(1, 20000),
        st.sampled_from(["", "R-", "SW"]),
        st.sampled_from(["", "0", "00"]),
        st.sampled_from(["", "x", "-1"]),
        st.booleans(),
    )
    def test_range_prefilter_is_superset(
        self,
        low: int,
        span: int,
        probe: int,
        prefix: str,
        zeros: str,
        suffix: str,
        arabic: bool,
    ) -> None:
        """
        Whatever the server-side prefilter drops is outside the range,
        also for numbers with leading zeros, a text after the digits or
        digits of another script (compared as MySQL compares text).
        """
        selection = NumberRange(f"{prefix}{low}", f"{prefix}{low + span}")
        digits = f"{zeros}{probe}"
        if arabic:
            digits = digits.translate(
                str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
            )
        number = f"{prefix}{digits}{suffix}"
        flt = range_prefilter(selection)
        if number in selection:
            assert _matches(flt, number)

    def test_numbers_a_string_range_misplaces(self) -> None:
        """
        007, 9x and Arabic-Indic 7 (U+0667) lie between 5 and 20 and pass the
        prefilter; 4 and 25 do not pass it.
        """
        flt = range_prefilter(NumberRange("5", "20"))

        assert [True, True, True, True] == [
            _matches(flt, n) for n in ("007", "9x", "\u0667", "12")
        ]
        assert [False, False] == [_matches(flt, n) for n in ("4", "25")]


def _matches(flt: dict[str, Any] | None, value: str) -> bool:
    if flt is None:
        return True
    if flt["type"] == "prefix":
        return value.startswith(flt["value"])
    if flt["type"] == "range":
        p = flt["parameters"]
        return bool(p["gte"] <= value <= p["lte"])
    found = any(_matches(q, value) for q in flt["queries"])
    return not found if flt["type"] == "not" else found


class _Traced(dict[str, Any]):
    """
    A row that notes which of its keys are read, by its API alias.
    """

    def __init__(self, row: dict[str, Any], seen: set[tuple[str, str]]):
        super().__init__(row)
        self.seen = seen
        self.alias = str(row.get("apiAlias", ""))

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, dict):
            return _Traced(value, self.seen)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add((self.alias, key))
        return self._wrap(super().get(key, default))

    def __getitem__(self, key: str) -> Any:
        self.seen.add((self.alias, key))
        return self._wrap(super().__getitem__(key))


async def _order_rows(
    emu: ShopwareEmulator, includes: Any
) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="http://t"
    ) as client:
        token = (
            await client.post(
                "/api/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": emu.client_id,
                    "client_secret": emu.client_secret,
                },
            )
        ).json()["access_token"]
        criteria: dict[str, Any] = {"associations": ORDER_ASSOCIATIONS}
        if includes is not None:
            criteria["includes"] = includes
        answer = await client.post(
            "/api/search/order",
            json=criteria,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
            },
        )
        rows: list[dict[str, Any]] = answer.json()["data"]
        return rows


class TestOrderIncludes:
    async def test_orders_read_alike_with_only_the_included_fields(
        self,
    ) -> None:
        """Every field order_from reads is in ORDER_INCLUDES (by API
        alias; structs come whole), so a search that returns only those
        reads each kind of order exactly as the whole rows do: net and
        gross, shipping, promotions, a separate delivery address."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret="s")
        emu.place_order(
            order_number="N-1",
            customer={
                "email": "b2b@example.com",
                "firstName": "Bea",
                "lastName": "Zwo",
                "customerNumber": "K-7",
            },
            lines=[
                {"quantity": 3, "unitPrice": 10.0, "taxRate": 19},
                {
                    "type": "promotion",
                    "quantity": 1,
                    "unitPrice": -5.0,
                    "taxRate": 19,
                },
            ],
            shipping_costs=4.9,
            tax_status="net",
            shipping_address={
                "firstName": "Lager",
                "lastName": "Zwo",
                "street": "Hafen 2",
                "zipcode": "20457",
                "city": "Hamburg",
                "company": "Zwo GmbH",
                "phoneNumber": "040 1",
            },
        )
        emu.place_order(
            order_number="G-1",
            lines=[{"quantity": 1, "unitPrice": 11.9, "taxRate": 19}],
        )

        whole = await _order_rows(emu, None)
        lean = await _order_rows(emu, ORDER_INCLUDES)
        seen: set[tuple[str, str]] = set()
        read = [order_from(_Traced(row, seen)) for row in whole]

        assert read == [order_from(row) for row in lean]
        assert {o.number for o in read} == {"N-1", "G-1"}
        assert len(str(lean)) < len(str(whole)) / 2
        missing = {
            (alias, key)
            for alias, key in seen
            if alias in ORDER_INCLUDES and key not in ORDER_INCLUDES[alias]
        }
        assert set() == missing
        # the reads were traced through every kind of row
        assert {a for a, _ in seen} >= set(ORDER_INCLUDES)
