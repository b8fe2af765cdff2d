"""
The engine over the Shopify adapter and emulator: the engine contract (a
plan equals the run that follows it and bounds its requests, a plan
writes nothing, no secret leaks) and the dirty catalogue, which lands
exactly or fails by name, with and without bulk mutations.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
import stamina

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    SqliteStore,
    StagedMedia,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.exceptions import SyncError
from ecomsync.platforms.shopify import Shopify, collection_handle
from ecomsync.testing import (
    DirtyCatalogue,
    Trap,
    dirty_catalogue,
)
from ecomsync.testing.shopify import ShopifyEmulator

from .._engine_contract import (
    DirtyCatalogueContract,
    LostStateContract,
    Outcome,
    PlatformEngineContract,
    two_runs,
)
from .._push import pushing


TOKEN = "shpat_canary-S3CR3T"


def shop(emu: ShopifyEmulator, token: str = TOKEN, **kwargs: Any) -> Shopify:
    return Shopify(
        "https://shop.test",
        token,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


class TestEngine(PlatformEngineContract):
    """The engine contract over Shopify and its emulator."""

    secrets = (TOKEN,)
    wrong_secret = "shpat_wrong-S3CR3T-zz"

    def emulator(self) -> ShopifyEmulator:
        return ShopifyEmulator(
            TOKEN, maximum=1_000_000, restore_rate=1_000_000
        )

    def platform(
        self, emu: ShopifyEmulator, *, secret: str | None = None
    ) -> Shopify:
        return shop(emu, token=TOKEN if secret is None else secret)

    def place_costly_orders(self, emu: ShopifyEmulator) -> str:
        # 25 lines: the page holds 10, the rest cost a request more
        for n in range(6):
            emu.place_order(
                [("A-1", 1, "9.90")] * (25 if n else 1), name=f"#{7000 + n}"
            )
        return "7005"

    def writes(self, emu: ShopifyEmulator) -> list[Any]:
        # Every request is a POST to GraphQL: what a write would leave.
        held = emu.shop
        return [*held.products, *held.collections, *held.files]

    def stock(self, emu: ShopifyEmulator, number: str) -> list[int]:
        return [
            emu.shop.levels[(v["_item"], loc)]["available"]
            for v in emu.shop.variants.values()
            if v["sku"] == number
            for loc in emu.shop.locations
        ]


# -- the dirty catalogue ---------------------------------------------------


def _meta(row: dict[str, Any], key: str) -> str | None:
    for m in row.get("_metafields", ()):
        if m["namespace"] == "ecomsync" and m["key"] == key:
            return str(m["value"])
    return None


class TestLostState(LostStateContract):
    """
    Shopify says a file's content name is taken: the adapter finds the
    file by that name instead of adding it a second time.
    """

    def emulator(self) -> ShopifyEmulator:
        return ShopifyEmulator(
            TOKEN, maximum=1_000_000, restore_rate=1_000_000
        )

    def platform(self, emu: ShopifyEmulator) -> Shopify:
        return shop(emu)

    def media(self, emu: ShopifyEmulator) -> object:
        return set(emu.shop.files)

    def attached(self, emu: ShopifyEmulator) -> dict[int, list[int]]:
        return {n: list(p["_media"]) for n, p in emu.shop.products.items()}

    def requests(self, emu: ShopifyEmulator) -> int:
        return len(emu.requests)

    def catalogue(self, emu: ShopifyEmulator) -> object:
        shop = emu.shop
        files = {n: f["_filename"] for n, f in shop.files.items()}
        titles = {n: c["title"] for n, c in shop.collections.items()}
        return (
            sorted(
                (
                    _meta(p, "number"),
                    p["handle"],
                    p["title"],
                    sorted(
                        (shop.variants[v]["sku"], shop.variants[v]["price"])
                        for v in p["_variants"]
                    ),
                    [files.get(m) for m in p["_media"]],
                    sorted(titles[c] for c in p["_collections"]),
                )
                for p in shop.products.values()
            ),
            sorted(
                (c["title"], _meta(c, "number"), _meta(c, "parent"))
                for c in shop.collections.values()
            ),
            sorted(files.values()),
        )

    async def test_a_file_not_found_yet_fails_the_upload(self) -> None:
        """
        A content name Shopify says is taken but its files search does not
        find yet (the search index lags) fails the upload with a clear
        error; the next run links the file.
        """
        emu = ShopifyEmulator(TOKEN)
        inner = httpx.ASGITransport(app=emu.app)

        class Lagging(httpx.AsyncBaseTransport):
            async def handle_async_request(
                self, request: httpx.Request
            ) -> httpx.Response:
                if b"files(first: 1" in await request.aread():
                    return httpx.Response(
                        200, json={"data": {"files": {"nodes": []}}}
                    )
                return await inner.handle_async_request(request)

        staged = StagedMedia(
            sha256="a" * 64, path=Path("unused"), size=3,
            filename="logo.JPG", mime_type="image/jpeg", content=b"abc",
        )  # fmt: skip
        first = shop(emu)
        await first.upload_media(staged)
        await first.aclose()
        (row,) = emu.shop.files.values()
        assert f"{'a' * 64}.jpg" == row["_filename"]

        again = Shopify("https://shop.test", TOKEN, transport=Lagging())
        with pytest.raises(SyncError, match="does not find it yet"):
            await again.upload_media(staged)
        await again.aclose()


@attrs.frozen
class _Shop:
    emu: ShopifyEmulator

    def product(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.products.values():
            if _meta(row, "number") == number:
                return row
        return None

    def category(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.collections.values():
            if row["handle"] == collection_handle(number):
                return row
        return None

    def available(self, number: str) -> int | None:
        shop = self.emu.shop
        for v in shop.variants.values():
            if v["sku"] == number:
                return sum(
                    q["available"]
                    for (item, _), q in shop.levels.items()
                    if item == v["_item"]
                )
        return None

    def check_article(self, article: Article) -> None:
        row = self.product(article.number)
        assert row is not None, f"{article.number!r} is not in the shop"
        shop = self.emu.shop
        assert article.name == row["title"]
        assert article.active == (row["status"] == "ACTIVE")
        assert {collection_handle(c) for c in article.categories} == {
            shop.collections[c]["handle"] for c in row["_collections"]
        }
        variants = {
            shop.variants[v]["sku"]: shop.variants[v] for v in row["_variants"]
        }
        if not article.variants:
            assert {article.number} == set(variants)
            assert article.price == Decimal(variants[article.number]["price"])
        for variant in article.variants:
            held = variants[variant.number]
            price = article.price if variant.price is None else variant.price
            assert price == Decimal(held["price"])
            assert list(variant.options) == [
                (o["name"], o["value"]) for o in held["selectedOptions"]
            ]

    def check_category(self, category: Category) -> None:
        row = self.category(category.number)
        assert row is not None, f"{category.number!r} is not in the shop"
        assert category.name == row["title"]
        assert category.parent == _meta(row, "parent")

    def check_stock(self, stock: StockLevel) -> None:
        assert stock.quantity == self.available(stock.number)

    def holds(self, trap: Trap) -> bool:
        number = trap.record.number
        if trap.data_type is DataType.CATEGORIES:
            return self.category(number) is not None
        if trap.data_type is DataType.STOCK:
            return self.available(number) == trap.record.quantity  # type: ignore[union-attr]
        return self.product(number) is not None


class TestDirtyCatalogue(DirtyCatalogueContract):
    """The dirty catalogue into the Shopify emulator, twice, with one
    productSet per article or with bulk mutations."""

    @staticmethod
    def catalogue() -> DirtyCatalogue:
        # Product titles hold 255 characters; the customId metafield
        # compares exactly; negative stock goes as 0 and fails
        # (allow_backorders is off by default).
        return dirty_catalogue(numbers_fold=False, name_limit=255)

    @pytest.fixture(scope="class", name="dirty", params=["direct", "bulk"])
    @classmethod
    def _dirty(
        cls,
        tmp_path_factory: pytest.TempPathFactory,
        request: pytest.FixtureRequest,
    ) -> tuple[DirtyCatalogue, Outcome]:
        """
        Two runs of the dirty catalogue, with one productSet per article,
        or with every push of articles and stock as a bulk mutation.
        """
        stamina.set_testing(True, attempts=2)
        emulator = ShopifyEmulator(
            TOKEN, maximum=1_000_000, restore_rate=1_000_000
        )
        bulk = (
            {"bulk_threshold": 1, "bulk_poll_interval": 0.001}
            if request.param == "bulk"
            else {"bulk_threshold": None}
        )
        catalogue = cls.catalogue()
        try:
            outcome = anyio.run(
                two_runs,
                catalogue,
                shop(emulator, **bulk),
                tmp_path_factory.mktemp("shopify"),
            )
        finally:
            stamina.set_testing(False)
        outcome.shop = _Shop(emulator)
        operations = len(emulator.shop.bulk_operations)
        assert (operations > 0) == (request.param == "bulk"), operations
        return catalogue, outcome

    def test_whole_shop(self, dirty: tuple[DirtyCatalogue, Outcome]) -> None:
        """
        The shop holds a product for every article that must land.
        """
        catalogue, outcome = dirty

        assert len(catalogue.landing(DataType.ARTICLES)) == len(
            outcome.shop.emu.shop.products
        )


@pytest.mark.anyio
class TestCategoryImages:
    async def test_a_category_image_is_not_sent(self, tmp_path: Path) -> None:
        """
        A category with an image lands as its collection without it (a
        collection keeps no files): the run goes on, the plan and the run
        upload nothing for it, and an article's image still lands.
        """
        emu = ShopifyEmulator(TOKEN)
        erp = MemoryErp(
            [
                Category(
                    number="C-1",
                    name="Werkzeug",
                    media=(
                        MediaRef(
                            key="cat",
                            filename="tools.jpg",
                            mime_type="image/jpeg",
                        ),
                    ),
                ),
                Article(
                    number="A-1",
                    name="Hammer",
                    price=Decimal("9.99"),
                    categories=("C-1",),
                    media=(
                        MediaRef(
                            key="art",
                            filename="hammer.jpg",
                            mime_type="image/jpeg",
                        ),
                    ),
                ),
            ],
            media={"cat": b"\xff\xd8category", "art": b"\xff\xd8hammer"},
        )
        platform = shop(emu)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "state.db"),
            staging=MediaStaging(tmp_path / "staging"),
        )
        wanted = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )
        try:
            plan = await sync.plan(wanted)
            run = await sync.execute(wanted)
        finally:
            await platform.aclose()
            await sync.store.aclose()

        assert [] == list(run.failures)
        assert 0 == plan.types[DataType.CATEGORIES].media_upload
        assert 1 == plan.types[DataType.ARTICLES].media_upload
        assert ["Werkzeug"] == [
            c["title"] for c in emu.shop.collections.values()
        ]
        (product,) = emu.shop.products.values()
        assert list(emu.shop.files) == product["_media"]


class _RefusedFiles(httpx.AsyncBaseTransport):
    """
    The emulator, but a productSet setting the files of *product* answers
    a userError (as for a file Shopify no longer has).
    """

    def __init__(self, emu: ShopifyEmulator, product: str) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.emu = emu
        self.product = product

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        body = await request.aread()
        if b'"files"' in body and b"productSet" in body:
            ident = json.loads(body)["variables"]["id"]["id"]
            if self._title(ident) == self.product:
                error = {
                    "field": ["input", "files", "0", "id"],
                    "message": "File does not exist",
                    "code": "INVALID",
                }
                answer = {
                    "productSet": {"product": None, "userErrors": [error]}
                }
                return httpx.Response(200, json={"data": answer})
        return await self.inner.handle_async_request(request)

    def _title(self, ident: str) -> str | None:
        for product in self.emu.shop.products.values():
            if product["id"] == ident:
                return str(product["title"])
        return None


@pytest.mark.anyio
class TestMediaRefused:
    async def test_refused_files_fail_their_article_alone(
        self, tmp_path: Path
    ) -> None:
        """
        Files Shopify refuses to put on a product (a userError) fail that
        article on its media; the run goes on and the others land.
        """
        emu = ShopifyEmulator(TOKEN)
        erp = MemoryErp(
            [
                Article(
                    number=number,
                    name=name,
                    price=Decimal("9.99"),
                    media=(
                        MediaRef(
                            key=number,
                            filename=f"{number}.jpg",
                            mime_type="image/jpeg",
                        ),
                    ),
                )
                for number, name in (("A-1", "Hammer"), ("A-2", "Zange"))
            ],
            media={"A-1": b"\xff\xd8hammer", "A-2": b"\xff\xd8zange"},
        )
        platform = Shopify(
            "https://shop.test", TOKEN, transport=_RefusedFiles(emu, "Hammer")
        )
        async with pushing(platform, erp, tmp_path) as sync:
            run = await sync.execute(
                SyncSpec(types={DataType.ARTICLES: All()})
            )

        (failure,) = run.failures
        assert ("A-1", "media") == (failure.number, failure.field)
        assert "File does not exist" in failure.message
        media = {p["title"]: p["_media"] for p in emu.shop.products.values()}
        assert 1 == len(media["Zange"])
