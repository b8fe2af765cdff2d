"""
Where the Shopware 6 adapter puts the ERP's top-level categories: under
the navigation category of the sales channel (a fresh shop's "Home"),
where the storefront shows them, or under ``category_root``; never as
separate roots, which no storefront shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ecomsync import (
    All,
    Category,
    DataType,
    MemoryErp,
    Outgoing,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._catalogue import LOOKUP_TTL
from ecomsync.platforms.shopware6._mapping import category_id, sw_id
from ecomsync.testing._platform_contract import CATEGORIES
from ecomsync.testing.shopware6 import ShopwareEmulator


pytestmark = pytest.mark.anyio

SECRET = "home-secret"
CHANNELS = "/api/search/sales-channel"


def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIAHOME", client_secret=SECRET)


def _shop(emu: ShopwareEmulator, **kwargs: Any) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


async def _push(
    shop: Shopware6, categories: tuple[Category, ...] = CATEGORIES
) -> dict[str, tuple[bool, str | None, str | None]]:
    """
    (ok, field, error) by category number.
    """
    outcomes = await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in categories]
    )
    return {
        c.number: (o.ok, o.field, o.error)
        for c, o in zip(categories, outcomes, strict=True)
    }


def _parent(emu: ShopwareEmulator, number: str) -> str | None:
    parent = emu.entities["category"][category_id(number)].get("parentId")
    return None if parent is None else str(parent)


def _reads(emu: ShopwareEmulator, path: str, since: int = 0) -> int:
    return sum(1 for r in list(emu.requests)[since:] if r.path == path)


async def _category(shop: Shopware6, cid: str, name: str, **row: Any) -> None:
    """
    A category the merchant made in the administration.
    """
    await shop._api.sync(
        [
            {
                "key": "merchant",
                "entity": "category",
                "action": "upsert",
                "payload": [{"id": cid, "name": name, **row}],
            }
        ]
    )


def _channel(emu: ShopwareEmulator, name: str, navigation: str) -> str:
    """
    A second sales channel that shows the tree below *navigation*.
    """
    channels = emu.entities["sales_channel"]
    added = sw_id("sales_channel", name)
    channels[added] = {
        **channels[emu.ids.sales_channel],
        "id": added,
        "name": name,
        "accessKey": f"SWSC{name.upper()}",
        "navigationCategoryId": navigation,
    }
    return added


def _navigate(emu: ShopwareEmulator, category: str) -> None:
    emu.entities["sales_channel"][emu.ids.sales_channel][
        "navigationCategoryId"
    ] = category


class TestUnderTheNavigationCategory:
    async def test_top_level_categories_are_children_of_home(self) -> None:
        """
        The ERP's top-level categories become children of the sales
        channel's navigation category (a fresh shop's Home), so the
        storefront shows them; the tree below is kept.
        """
        emu = _emu()
        shop = _shop(emu)
        home = emu.entities["sales_channel"][emu.ids.sales_channel][
            "navigationCategoryId"
        ]

        pushed = await _push(shop)
        found = await shop._api.search(
            "category", {"ids": [category_id("K-2")]}
        )
        await shop.aclose()

        assert all(ok for ok, _, _ in pushed.values()), pushed
        assert emu.ids.root_category == home
        assert home == _parent(emu, "K-1")
        assert home == _parent(emu, "K-3")
        assert category_id("K-1") == _parent(emu, "K-2")
        assert f"|{home}|{category_id('K-1')}|" == found[0]["path"]
        assert 3 == found[0]["level"]
        # Home is the only root.
        roots = [
            c for c in emu.entities["category"].values() if not c["parentId"]
        ]
        assert [home] == [c["id"] for c in roots]

    async def test_the_configured_sales_channels_navigation(self) -> None:
        """
        With ``sales_channel_id``, the categories go below that channel's
        navigation category, whatever the other channels show.
        """
        emu = _emu()
        shop = _shop(emu)
        other = sw_id("category", "merchant-b2b")
        await _category(shop, other, "B2B")
        added = _channel(emu, "b2b", other)
        await shop.aclose()
        shop = _shop(emu, sales_channel_id=added)

        pushed = await _push(shop)
        await shop.aclose()

        assert all(ok for ok, _, _ in pushed.values()), pushed
        assert other == _parent(emu, "K-1")
        assert other == _parent(emu, "K-3")
        assert 1 == _reads(emu, CHANNELS)

    async def test_channels_that_disagree_fail_the_top_level(self) -> None:
        """
        Sales channels that show different navigation categories leave no
        place to choose: the top-level categories fail on ``parent``,
        saying which option settles it; nothing becomes a hidden root.
        """
        emu = _emu()
        shop = _shop(emu)
        other = sw_id("category", "merchant-b2b")
        await _category(shop, other, "B2B")
        _channel(emu, "b2b", other)

        pushed = await _push(shop)
        await shop.aclose()

        for number in ("K-1", "K-3"):
            ok, field, error = pushed[number]
            assert not ok
            assert "parent" == field
            assert "category_root" in (error or "")
            assert "sales_channel_id" in (error or "")
        assert not pushed["K-2"][0]
        assert category_id("K-1") not in emu.entities["category"]

    async def test_below_a_refused_category_fails_at_once(self) -> None:
        """
        The categories below a top-level one that cannot be placed fail
        on ``parent`` naming it and why, without a write: each failed
        alone after Shopware's answer (which names no row) was bisected,
        185 requests for 41 categories, saying only that the parent did
        not exist.
        """
        emu = _emu()
        shop = _shop(emu)
        other = sw_id("category", "merchant-b2b")
        await _category(shop, other, "B2B")
        _channel(emu, "b2b", other)
        tree = (
            Category(number="T", name="T"),
            *(
                Category(number=f"C-{i}", name=f"C {i}", parent="T")
                for i in range(40)
            ),
            Category(number="G", name="G", parent="C-0"),
        )
        since = len(emu.requests)

        pushed = await _push(shop, tree)
        await shop.aclose()

        for number in ("C-0", "C-39", "G"):
            ok, field, error = pushed[number]
            assert not ok
            assert "parent" == field
            assert "category_root" in (error or ""), error
        assert "'T'" in (pushed["C-0"][2] or "")
        assert "'C-0'" in (pushed["G"][2] or "")
        assert 0 == _reads(emu, "/api/_action/sync", since)

    async def test_a_navigation_category_of_ours_stays_a_root(self) -> None:
        """
        A shop whose sales channel shows one of the ERP's categories (the
        set-up an earlier version needed) keeps it as it is: that
        category and the other top-level ones stay roots.
        """
        emu = _emu()
        shop = _shop(emu)
        await _push(shop)
        await shop._api.sync(
            [
                {
                    "key": "old",
                    "entity": "category",
                    "action": "upsert",
                    "payload": [
                        {"id": category_id(n), "parentId": None}
                        for n in ("K-1", "K-3")
                    ],
                }
            ]
        )
        _navigate(emu, category_id("K-1"))
        await shop.aclose()
        shop = _shop(emu)

        pushed = await _push(shop)
        await shop.aclose()

        assert all(ok for ok, _, _ in pushed.values()), pushed
        assert _parent(emu, "K-1") is None
        assert _parent(emu, "K-3") is None

    async def test_an_ancestor_of_the_navigation_stays_a_root(self) -> None:
        """
        A top-level category above the navigation category (the channel
        shows one of its children) is not put below it: that would make
        it its own ancestor.
        """
        emu = _emu()
        shop = _shop(emu)
        await _push(shop)
        await shop._api.sync(
            [
                {
                    "key": "old",
                    "entity": "category",
                    "action": "upsert",
                    "payload": [{"id": category_id("K-1"), "parentId": None}],
                }
            ]
        )
        _navigate(emu, category_id("K-2"))
        await shop.aclose()
        shop = _shop(emu)

        pushed = await _push(shop)
        await shop.aclose()

        assert all(ok for ok, _, _ in pushed.values()), pushed
        assert _parent(emu, "K-1") is None
        assert category_id("K-1") == _parent(emu, "K-2")


class TestCategoryRoot:
    async def test_below_the_given_category(self) -> None:
        """
        ``category_root`` puts the top-level categories below that
        category, and no sales channel is asked for.
        """
        emu = _emu()
        shop = _shop(emu)
        mine = sw_id("category", "merchant-erp")
        await _category(
            shop, mine, "Sortiment", parentId=emu.ids.root_category
        )
        await shop.aclose()
        shop = _shop(emu, category_root=mine)

        pushed = await _push(shop)
        await shop.aclose()

        assert all(ok for ok, _, _ in pushed.values()), pushed
        assert mine == _parent(emu, "K-1")
        assert mine == _parent(emu, "K-3")
        assert 0 == _reads(emu, CHANNELS)

    async def test_a_missing_category_root(self) -> None:
        """
        A ``category_root`` the shop lacks fails the top-level categories
        on ``parent``, naming the option.
        """
        emu = _emu()
        missing = sw_id("category", "missing")
        shop = _shop(emu, category_root=missing)

        pushed = await _push(shop)
        await shop.aclose()

        ok, field, error = pushed["K-1"]
        assert (False, "parent") == (ok, field)
        assert f"category_root {missing!r} does not exist" in (error or "")
        assert not pushed["K-3"][0]

    async def test_a_category_root_below_a_top_level_category(self) -> None:
        """
        A ``category_root`` below one of the ERP's top-level categories
        fails that category (it would be its own ancestor); the others
        go below it.
        """
        emu = _emu()
        shop = _shop(emu)
        await _push(shop)
        await shop.aclose()
        shop = _shop(emu, category_root=category_id("K-2"))

        pushed = await _push(shop)
        await shop.aclose()

        ok, field, error = pushed["K-1"]
        assert (False, "parent") == (ok, field)
        assert "category_root" in (error or "")
        assert emu.ids.root_category == _parent(emu, "K-1")
        assert category_id("K-2") == _parent(emu, "K-3")

    @pytest.mark.parametrize(
        "value", ["", "Home", "0" * 31, "A" * 32, 42, sw_id("x", "y") + " "]
    )
    def test_not_an_id(self, value: object) -> None:
        """
        A ``category_root`` that is not a Shopware id (32 lower-case hex
        digits) is a ConfigurationError naming the option.
        """
        with pytest.raises(ConfigurationError, match="category_root"):
            Shopware6(
                "http://shop.test",
                "SWIAHOME",
                SECRET,
                category_root=value,  # type: ignore[arg-type]
            )


class TestLookup:
    async def test_once_not_per_batch(self) -> None:
        """
        The navigation category is asked for once (with the sales
        channels the articles need), not per batch, and again only once
        older than LOOKUP_TTL; a batch without top-level categories
        asks nothing.
        """
        emu = _emu()
        shop = _shop(emu)
        now = [1000.0]
        shop._catalogue.clock = lambda: now[0]

        await _push(shop, (Category(number="T-1", name="Eins"),))
        await _push(shop, (Category(number="T-2", name="Zwei"),))
        await _push(shop, (Category(number="T-3", name="Drei", parent="T-1"),))
        first = _reads(emu, CHANNELS)
        now[0] += LOOKUP_TTL
        await _push(shop, (Category(number="T-4", name="Vier", parent="T-1"),))
        later = _reads(emu, CHANNELS)
        await _push(shop, (Category(number="T-5", name="Fünf"),))
        await shop.aclose()

        assert (1, 1, 2) == (first, later, _reads(emu, CHANNELS))
        assert emu.ids.root_category == _parent(emu, "T-5")


async def _run(
    emu: ShopwareEmulator, erp: MemoryErp, store: Path, *, force: bool = False
) -> None:
    """
    One run of the categories in a new process.
    """
    shop = _shop(emu)
    state = SqliteStore(store)
    spec = SyncSpec(types={DataType.CATEGORIES: All()}, force=force)
    async with Synchronizer(
        erp=erp, platforms={"shop": shop}, store=state
    ) as sync:
        result = await sync.execute(spec)
    await shop.aclose()
    await state.aclose()
    assert RunStatus.SUCCEEDED == result.status, result.failures


async def _as_an_earlier_version(emu: ShopwareEmulator) -> set[str]:
    """
    Make K-1 and K-3 roots, as an earlier version wrote them (same ids);
    the shop's category ids.
    """
    shop = _shop(emu)
    await shop._api.sync(
        [
            {
                "key": "old",
                "entity": "category",
                "action": "upsert",
                "payload": [
                    {"id": category_id(n), "parentId": None}
                    for n in ("K-1", "K-3")
                ],
            }
        ]
    )
    await shop.aclose()
    return set(emu.entities["category"])


class TestEarlierRoots:
    async def test_moved_below_home_on_their_next_update(
        self, tmp_path: Path
    ) -> None:
        """
        Top-level categories an earlier version left as roots (the store
        links them) move below Home when they next change: updated in
        place, no second category; an unchanged one stays until then.
        """
        emu = _emu()
        erp = MemoryErp(list(CATEGORIES))
        await _run(emu, erp, tmp_path / "state.db")
        ids = await _as_an_earlier_version(emu)
        erp.put(Category(number="K-1", name="Werkzeug & Maschinen"))

        await _run(emu, erp, tmp_path / "state.db")

        assert ids == set(emu.entities["category"])
        assert emu.ids.root_category == _parent(emu, "K-1")
        assert _parent(emu, "K-3") is None
        row = emu.entities["category"][category_id("K-1")]
        assert "Werkzeug & Maschinen" == row["name"]

    async def test_a_forced_run_moves_them_all(self, tmp_path: Path) -> None:
        """
        A forced run writes every category again: all move below Home.
        """
        emu = _emu()
        erp = MemoryErp(list(CATEGORIES))
        await _run(emu, erp, tmp_path / "state.db")
        ids = await _as_an_earlier_version(emu)

        await _run(emu, erp, tmp_path / "state.db", force=True)

        assert ids == set(emu.entities["category"])
        assert emu.ids.root_category == _parent(emu, "K-1")
        assert emu.ids.root_category == _parent(emu, "K-3")
