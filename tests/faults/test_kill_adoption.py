"""
SIGKILL between "pushed to the shop" and "saved in the state store", on
every platform emulator: the child process writes to a shop the parent
serves (so the shop outlives it) and dies at a store write; the next
scheduled run, a new process with a new adapter and the store the dead
one left, adopts what the shop already holds.  The shop ends exactly as
after one clean run: no second product, variant, category or file
(reliability-performance.md D.2 F7, I2).  MemoryPlatform's kill points
are tests/faults/test_kill_matrix.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import RunStatus, Trigger

from ._adopt_child import SECRET, synchronizer
from ._kill_child import run_children


pytestmark = pytest.mark.anyio

#: Link writes of the run (1 categories; 2-5 the article batches, 4 and
#: 5 with the variant articles; 6-10 stock, 10 the variants'), and media
#: ids: the child dies just before the n-th such call, after the shop
#: took what it records.  (Shopware 6 stores a batch's media ids at once.)
#: Shopware 6 and WooCommerce write the stock in the articles' write
#: (`_stock_fold`): each article batch records its stock, then its
#: articles (2/3 .. 8/9, 6-9 with the variant articles), and no stock
#: step writes follow; 2 and 6 die after the write, before the stock's
#: record, 3 and 9 between it and the articles' links.
LINKS = {
    "shopware6": [("store.put_links", n) for n in (1, 2, 3, 6, 9)],
    "woocommerce": [("store.put_links", n) for n in (1, 2, 3, 6, 9)],
    "shopify": [("store.put_links", n) for n in (1, 4, 5, 6, 10)],
}
MEDIA = {
    "shopware6": [("store.put_media_ids", 1)],
    "woocommerce": [("store.put_media_id", 1), ("store.put_media_id", 5)],
    "shopify": [("store.put_media_id", 1), ("store.put_media_id", 5)],
}
CASES = [
    (name, point, n)
    for name in ("shopware6", "woocommerce", "shopify")
    for point, n in [*LINKS[name], *MEDIA[name]]
]


def _emulator(name: str) -> tuple[Any, Callable[[Any], Any], Any]:
    """A fresh emulator of *name*, its serve(), and its shop reader."""
    if name == "shopware6":
        import tests.engine.test_shopware6 as s6
        from ecomsync.testing.shopware6 import ShopwareEmulator, serve

        emu: Any = ShopwareEmulator(
            client_id="SWIAADOPT", client_secret=SECRET
        )
        return emu, serve, s6.TestLostState()
    if name == "woocommerce":
        import tests.platforms.test_woocommerce_engine as woo
        from ecomsync.testing.woocommerce import (
            WooCommerceEmulator,
        )
        from ecomsync.testing.woocommerce import (
            serve as serve_woo,
        )

        emu = WooCommerceEmulator(
            "ck_adopt",
            SECRET,
            wp_user="sync",
            wp_application_password=SECRET,
        )
        return emu, serve_woo, woo.TestLostState()
    import tests.platforms.test_shopify_engine as shopify
    from ecomsync.testing.shopify import ShopifyEmulator
    from ecomsync.testing.shopify import serve as serve_sf

    emu = ShopifyEmulator(SECRET, maximum=1_000_000, restore_rate=1_000_000)
    return emu, serve_sf, shopify.TestLostState()


async def _run(directory: Path, name: str, url: str) -> Any:
    """One scheduled run in this process, a new adapter; its record."""
    from .._push import PUSH

    async with synchronizer(directory, name, url) as sync:
        with anyio.fail_after(60):
            return await sync.execute(PUSH, trigger=Trigger.SCHEDULED)


@pytest.fixture(scope="module")
def served() -> Iterator[dict[tuple[str, str, int], tuple[Any, Any, str]]]:
    """
    Per case an emulator served on a socket, its reader and its URL; the
    emulators live as long as the module's tests.
    """
    with contextlib.ExitStack() as stack:
        out = {}
        for case in CASES:
            emu, serve, reader = _emulator(case[0])
            out[case] = (emu, reader, stack.enter_context(serve(emu)))
        yield out


@pytest.fixture(scope="module")
def killed(
    served: dict[tuple[str, str, int], tuple[Any, Any, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str, int], Path]:
    """Every case's child run, killed at its point; its directory."""
    base = tmp_path_factory.mktemp("adopt")
    out = {}
    children = []
    for i, case in enumerate(CASES):
        name, point, at = case
        directory = out[case] = base / f"k{i}"
        directory.mkdir()
        argv = ["tests.faults._adopt_child", str(directory), name]
        argv += [served[case][2], point, str(at)]
        children.append(((point, at, None), argv, {}))
    run_children(children)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """What one clean run leaves in each platform's shop."""
    out = {}
    for name in ("shopware6", "woocommerce", "shopify"):
        emu, serve, reader = _emulator(name)
        directory = tmp_path_factory.mktemp(f"clean-{name}")
        with serve(emu) as url:
            run = anyio.run(_run, directory, name, url)
        assert RunStatus.SUCCEEDED == run.status, run.failures
        assert not run.failures
        out[name] = reader.catalogue(emu)
    return out


@pytest.mark.parametrize(
    ("name", "point", "at"),
    CASES,
    ids=[f"{c[0]}-{c[1]}#{c[2]}" for c in CASES],
)
async def test_next_run_adopts(
    served: dict[tuple[str, str, int], tuple[Any, Any, str]],
    killed: dict[tuple[str, str, int], Path],
    clean: dict[str, object],
    name: str,
    point: str,
    at: int,
) -> None:
    """Killed before the store learnt what the shop took: the next run
    succeeds and the shop holds each record once, as a clean run leaves
    it."""
    emu, reader, url = served[name, point, at]
    run = await _run(killed[name, point, at], name, url)
    assert RunStatus.SUCCEEDED == run.status, run.failures
    assert not run.failures
    assert clean[name] == reader.catalogue(emu)
