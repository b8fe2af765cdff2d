"""
The Vendure adapter's settings lists (tax rates, stock locations,
channels: `_lists`) are read whole, without a server: a list longer
than a page (Vendure caps none of them) is read past its first page,
and one of a page costs the one request it always did.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from ecomsync.platforms.vendure._catalog import Catalog
from ecomsync.platforms.vendure._client import GraphQL


pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
Rows = list[dict[str, Any]]
ROOTS = ("taxRates", "stockLocations", "channels")
DEFAULT = "__default_channel__"


def _row(rid: int, **fields: Any) -> dict[str, Any]:
    created = T0 + timedelta(seconds=rid)
    shown = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"id": str(rid), "_at": created, "createdAt": shown} | fields


def _rate(rid: int, zone: str, value: int, category: str) -> dict[str, Any]:
    cat = {"id": category, "name": f"Tax {category}", "isDefault": False}
    return _row(rid, value=value, enabled=True, zone={"id": zone}) | {
        "category": cat
    }


class FakeSettings:
    """
    Vendure answering the settings lists as the server does: each list
    its page (``take`` written in the document or in ``$options``;
    listed in an order of the server's, newest first, where no sort is
    asked), ``totalItems``, the ``after``/``notIn`` filters of a read
    by key and a code filter; a channel's locations by its token.
    """

    def __init__(
        self,
        lists: dict[str, Rows],
        held: dict[str, Rows] | None = None,
    ) -> None:
        self.lists = lists
        self.held = held or {}
        self.sent: list[str] = []

    @staticmethod
    def _holds(row: dict[str, Any], field: str, ops: dict[str, Any]) -> bool:
        value = row["_at"] if field == "createdAt" else row.get(field)
        for op, arg in ops.items():
            if op == "eq" and value != arg:
                return False
            if op == "notIn" and value in arg:
                return False
            if op == "after":
                after = datetime.fromisoformat(arg.replace("Z", "+00:00"))
                if not value > after:
                    return False
        return True

    def _page(
        self, root: str, rows: Rows, document: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        options = dict(variables.get("options") or {})
        if not options:
            inline = re.search(rf"{root}\(options: \{{ take: (\d+)", document)
            options["take"] = int(inline.group(1)) if inline else 1000
            code = re.search(r'code: \{ eq: "([^"]+)"', document)
            if code:
                options["filter"] = {"code": {"eq": code.group(1)}}
        found = [
            r
            for r in rows
            if all(
                self._holds(r, f, ops)
                for f, ops in (options.get("filter") or {}).items()
            )
        ]
        if options.get("sort"):
            found.sort(key=lambda r: (r["_at"], int(r["id"])))
        else:
            found.sort(key=lambda r: -int(r["id"]))
        return {"totalItems": len(found), "items": found[: options["take"]]}

    async def query(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        channel: str | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        self.sent.append(document)
        answer: dict[str, Any] = {}
        if "activeChannel" in document:
            answer["activeChannel"] = {
                "id": "1",
                "code": DEFAULT,
                "defaultCurrencyCode": "EUR",
                "pricesIncludeTax": True,
                "defaultTaxZone": {"id": "Z"},
            }
        if "globalSettings" in document:
            answer["globalSettings"] = {
                "serverConfig": {"moneyStrategyPrecision": 2}
            }
        for root in ROOTS:
            if f"{root}(" in document:
                rows = self.held[channel] if channel else self.lists[root]
                answer[root] = self._page(
                    root, rows, document, variables or {}
                )
        return answer


def _catalog(shop: FakeSettings, **kwargs: Any) -> Catalog:
    return Catalog(gql=cast(GraphQL, shop), **kwargs)


def _locations(n: int) -> Rows:
    return [_row(i, name=f"Lager {i}") for i in range(1, n + 1)]


def _other_rates(n: int) -> Rows:
    return [_rate(i, "other", 20, f"O{i}") for i in range(1, n + 1)]


async def test_the_settings_of_a_page_each_are_one_request() -> None:
    """A channel with a page of rates and locations is read at one request."""
    shop = FakeSettings(
        {
            "taxRates": [*_other_rates(5), _rate(6, "Z", 7, "T7")],
            "stockLocations": _locations(3),
        }
    )

    reference = await _catalog(shop).reference()

    assert 1 == len(shop.sent)
    assert {Decimal(7): ("T7",)} == reference.tax_categories
    assert "1" == reference.default_location


async def test_a_tax_rate_past_a_page_is_known() -> None:
    """A rate of the channel's zone past the 1,000th rate is a known rate."""
    # the channel's one rate is the oldest: the server lists it last
    shop = FakeSettings(
        {
            "taxRates": [*_other_rates(1200), _rate(0, "Z", 7, "T7")],
            "stockLocations": _locations(1),
        }
    )

    reference = await _catalog(shop).reference()

    # cut at 1,000 rows the 7 % rate was unknown and every article
    # at 7 % failed "no tax category"
    assert {Decimal(7): ("T7",)} == reference.tax_categories
    # the first page, then the list again by key: two pages
    assert 3 == len(shop.sent)


async def test_the_oldest_location_past_a_page_is_the_default() -> None:
    """The default location is Vendure's oldest, though past a page."""
    shop = FakeSettings(
        {
            "taxRates": [_rate(1, "Z", 7, "T7")],
            "stockLocations": _locations(1001),
        }
    )

    reference = await _catalog(
        shop, stock_locations={"B": "Lager 1"}
    ).reference()

    # cut at the newest 1,000, Lager 2 was taken for the default and
    # "Lager 1" was not found at all
    assert "1" == reference.default_location
    assert {"B": "1"} == reference.warehouses
    assert 1001 == len(reference.locations)


async def test_another_channels_locations_past_a_page_are_foreign() -> None:
    """Every channel's locations count as foreign, past a page of each."""
    channels = [_row(1, code=DEFAULT, token="t-default")] + [
        _row(i, code=f"c{i}", token=f"t{i}") for i in range(2, 1003)
    ]
    held = {f"t{i}": [_row(5000 + i, name=f"L{i}")] for i in range(2, 1003)}
    held["t1002"] = _locations(1001)
    shop = FakeSettings({"channels": channels}, held)

    foreign = await _catalog(shop).foreign_locations()

    # the channels past the 1,000th and the locations past the 1,000th
    # of one channel were not seen: set to sell nothing
    assert {"5002", "5003", "1", "1001"} <= foreign
    assert 1001 + 1000 == len(foreign)


async def test_the_default_channel_past_a_page_is_found() -> None:
    """The default channel's token is found among more than 1,000."""
    channels = [
        _row(i, code=f"c{i}", token=f"t{i}") for i in range(1, 1002)
    ] + [_row(0, code=DEFAULT, token="t-default")]
    shop = FakeSettings({"channels": channels})

    assert "t-default" == await _catalog(shop).default_token()
    assert 1 == len(shop.sent)
