"""
Which Tryton products make which article (no server needed): reused
codes, templates with variants, inactive products.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.abc import TaskGroup

from ecomsync.erp._tryton_catalog import (
    ArticleGroup,
    ProductRow,
    group_articles,
    template_number,
)
from ecomsync.erp._tryton_products import READ_AHEAD, ProductReader
from ecomsync.erp.tryton import TrytonErp
from ecomsync.exceptions import RetryableError


def _row(
    pid: int,
    code: str,
    template: int,
    *,
    active: bool = True,
    template_code: str | None = None,
) -> ProductRow:
    return ProductRow(pid, code, template, template_code, active)


def _shape(rows: list[ProductRow]) -> list[tuple[str, list[int], bool, bool]]:
    return [
        (g.number, [p.id for p in g.products], g.variants, g.active)
        for g in group_articles(rows)
    ]


class TestReusedCodes:
    """
    A code held by an active product never reads as an inactive one.
    """

    def test_active_wins(self) -> None:
        """Old Z (inactive) and New Z (active), both Z-1: New Z is Z-1."""
        rows = [_row(1, "Z-1", 10, active=False), _row(2, "Z-1", 20)]

        assert [("Z-1", [2], False, True)] == _shape(rows)
        assert [("Z-1", [2], False, True)] == _shape(rows[::-1])

    def test_all_inactive_newest_stands(self) -> None:
        """Of several inactive products with one code, the newest stands,
        as inactive."""
        rows = [
            _row(7, "Y-1", 70, active=False),
            _row(3, "Y-1", 30, active=False),
        ]

        assert [("Y-1", [7], False, False)] == _shape(rows)

    def test_two_active_are_kept_for_the_engine(self) -> None:
        """Two active products with one code are both read: an ambiguity
        the engine fails, not a choice made here."""
        rows = [_row(1, "Q-1", 10), _row(2, "Q-1", 20)]

        assert [
            ("Q-1", [1], False, True),
            ("Q-1", [2], False, True),
        ] == _shape(rows)

    def test_inactive_article_under_an_active_variant_number(self) -> None:
        """An inactive plain article numbered like an active article's
        variant is not read."""
        rows = [
            _row(1, "SHIRT", 10, active=False),
            _row(2, "SHIRT-S", 20, template_code="SHIRT"),
            _row(3, "SHIRT-M", 20, template_code="SHIRT"),
        ]

        assert [("SHIRT", [3, 2], True, True)] == _shape(rows)

    def test_inactive_templates_with_one_number(self) -> None:
        """Of two inactive variant articles with one number, the newest
        template's stands."""
        rows = [
            _row(1, "T-A", 10, active=False, template_code="T"),
            _row(2, "T-B", 10, active=False, template_code="T"),
            _row(3, "T-C", 11, active=False, template_code="T"),
            _row(4, "T-D", 11, active=False, template_code="T"),
        ]

        assert [("T", [3, 4], True, False)] == _shape(rows)


class TestVariants:
    """
    A template with several products is one article with variants.
    """

    def test_template_code_numbers_it(self) -> None:
        """The template's code is the article number; variants in natural
        order."""
        rows = [
            _row(1, "SHIRT-10", 5, template_code="SHIRT"),
            _row(2, "SHIRT-9", 5, template_code="SHIRT"),
        ]

        assert [("SHIRT", [2, 1], True, True)] == _shape(rows)

    def test_single_product_is_plain(self) -> None:
        """A template with one product is a plain article with its code."""
        assert [("A-1", [1], False, True)] == _shape(
            [_row(1, "A-1", 5, template_code="A")]
        )

    def test_inactive_variants_are_left_out(self) -> None:
        """Only active variants are read while any is active; an article
        whose variants are all inactive is inactive with all of them."""
        rows = [
            _row(1, "S-1", 5, template_code="S"),
            _row(2, "S-2", 5, template_code="S", active=False),
            _row(3, "U-1", 6, template_code="U", active=False),
            _row(4, "U-2", 6, template_code="U", active=False),
        ]

        got = group_articles(rows)

        assert [("S", [1], True, True), ("U", [3, 4], True, False)] == _shape(
            rows
        )
        assert frozenset({1, 2}) == got[0].members
        assert frozenset({"S", "S-1", "S-2"}) == got[0].numbers

    def test_no_number_means_separate_articles(self) -> None:
        """Without a template code or a usable common prefix, every
        product is an article of its own."""
        rows = [_row(1, "RED", 5), _row(2, "BLUE", 5)]

        assert [
            ("BLUE", [2], False, True),
            ("RED", [1], False, True),
        ] == _shape(rows)

    @pytest.mark.parametrize(
        ("template_code", "codes", "number"),
        [
            ("SHIRT", ["SHIRT-S", "SHIRT-M"], "SHIRT"),
            (" ", ["SOCK-RED", "SOCK-BLUE"], "SOCK"),
            (None, ["CAP_1", "CAP_2"], "CAP"),
            (None, ["A-1", "A-10"], ""),  # the prefix is a variant's code
            (None, ["X", "Y"], ""),
            ("A-1", ["A-1", "A-2"], ""),
        ],
    )
    def test_template_number(
        self, template_code: str | None, codes: list[str], number: str
    ) -> None:
        """Template code, else the common prefix without separators, never
        a variant's own code."""
        assert number == template_number(template_code, codes)


class _FakeRpc:
    """
    Answers the calls `ProductReader.articles` makes and records the
    product reads.
    """

    context: ClassVar[dict[str, Any]] = {"company": 1}

    def __init__(
        self, currency: str = "EUR", price: Decimal = Decimal("1.50")
    ) -> None:
        self.product_reads: list[int] = []
        self.currency = currency
        self.price = price
        #: product reads (by their position) that fail
        self.failing: set[int] = set()
        #: ``product.image`` rows, in ``sequence`` order
        self.images: list[dict[str, Any]] = []

    async def read(
        self, model: str, ids: list[int], fields: list[str], **_: Any
    ) -> list[dict[str, Any]]:
        if model == "company.company":
            return [{"id": 1, "currency.": {"code": self.currency}}]
        self.product_reads.append(len(ids))
        if len(self.product_reads) - 1 in self.failing:
            raise RetryableError("Tryton: HTTP 503 on read")
        return [
            {
                "id": i,
                "name": f"P {i}",
                "description": "",
                "list_price_used": self.price,
                "categories": [],
            }
            for i in ids
        ]

    async def model(self, *_: Any, **__: Any) -> dict[str, Any]:
        return {}  # fields_get: no product_attribute module

    async def search_read(
        self, model: str, domain: list[Any], *_: Any, **__: Any
    ) -> list[dict[str, Any]]:
        if model != "product.image":
            return []
        templates = set(domain[0][2])
        return [i for i in self.images if i["template"] in templates]


def _numbered(count: int) -> list[ArticleGroup]:
    """The groups of *count* plain articles A-1, A-2, ... in order."""
    return group_articles(
        [_row(i, f"A-{i}", 10_000 + i) for i in range(1, count + 1)]
    )


def _reader(
    rpc: _FakeRpc, background: TaskGroup | None = None
) -> ProductReader:
    """A reader of *rpc* for a gross-price TrytonErp."""
    return ProductReader(
        rpc,  # type: ignore[arg-type]
        TrytonErp("http://erp", "d", "u", "p"),
        background=background,
    )


class TestReadAhead:
    """
    Products are read a window ahead of the engine's batches.
    """

    @pytest.mark.anyio
    async def test_windows(self) -> None:
        """2 x READ_AHEAD + 200 articles read by 50 cost three product
        reads (READ_AHEAD, READ_AHEAD, 200), and every article comes back
        once, in order."""
        count = 2 * READ_AHEAD + 200
        groups = _numbered(count)
        rpc = _FakeRpc()
        reader = _reader(rpc)
        reader.expect(groups)

        got = [
            a.number
            for start in range(0, len(groups), 50)
            for a in await reader.articles(groups[start : start + 50])
        ]

        assert [READ_AHEAD, READ_AHEAD, 200] == rpc.product_reads
        assert [g.number for g in groups] == got

    @pytest.mark.anyio
    async def test_next_window_read_in_the_background(self) -> None:
        """With a background task group, the window after the one a batch
        needs is read before the engine asks for it, each window once."""
        count = 2 * READ_AHEAD + 200
        groups = _numbered(count)
        rpc = _FakeRpc()
        async with anyio.create_task_group() as background:
            reader = _reader(rpc, background)
            reader.expect(groups)

            first = await reader.articles(groups[:50])
            await wait_all_tasks_blocked()
            early = list(rpc.product_reads)
            rest = [
                a
                for start in range(50, len(groups), 50)
                for a in await reader.articles(groups[start : start + 50])
            ]

        assert [READ_AHEAD, READ_AHEAD] == early
        assert [READ_AHEAD, READ_AHEAD, 200] == rpc.product_reads
        assert [g.number for g in groups] == [
            a.number for a in [*first, *rest]
        ]

    @pytest.mark.anyio
    async def test_every_window_after_the_first_is_read_ahead(self) -> None:
        """When the background read of a window ends before its batches
        come, the first of them starts the next window's read: every
        window after the first is read in the background, one ahead."""
        count = 3 * READ_AHEAD + 200
        groups = group_articles(
            [_row(i, f"A-{i}", 10_000 + i) for i in range(1, count + 1)]
        )
        rpc = _FakeRpc()
        async with anyio.create_task_group() as background:
            reader = ProductReader(
                rpc,  # type: ignore[arg-type]
                TrytonErp("http://erp", "d", "u", "p"),
                background=background,
            )
            reader.expect(groups)
            got = []
            for start in range(0, len(groups), 50):
                window = start // READ_AHEAD
                await wait_all_tasks_blocked()  # the engine writes meanwhile
                # the batch's window is read before it comes ...
                assert len(rpc.product_reads) >= (window + 1 if start else 0)
                got += await reader.articles(groups[start : start + 50])
                await wait_all_tasks_blocked()
                # ... and no further ahead than the window after it
                assert len(rpc.product_reads) <= window + 2

        assert [READ_AHEAD, READ_AHEAD, READ_AHEAD, 200] == rpc.product_reads
        assert [g.number for g in groups] == [a.number for a in got]

    @pytest.mark.anyio
    async def test_failed_read_ahead_is_read_again(self) -> None:
        """A window whose background read failed is read when its batch
        comes; when that read fails too, the batch fails with its error."""
        count = 2 * READ_AHEAD
        groups = _numbered(count)
        rpc = _FakeRpc()
        rpc.failing = {1}
        async with anyio.create_task_group() as background:
            reader = _reader(rpc, background)
            reader.expect(groups)
            got = [
                a.number
                for start in range(0, len(groups), 50)
                for a in await reader.articles(groups[start : start + 50])
            ]
            assert [g.number for g in groups] == got
            assert [READ_AHEAD] * 3 == rpc.product_reads

            rpc.product_reads.clear()
            rpc.failing = {1, 2}
            reader.expect(groups)
            await reader.articles(groups[:50])
            with pytest.raises(RetryableError, match="503"):
                await reader.articles(groups[READ_AHEAD : READ_AHEAD + 50])

    @pytest.mark.anyio
    async def test_without_plan(self) -> None:
        """Groups read without expect() are read as they come."""
        groups = group_articles([_row(1, "A-1", 5), _row(2, "B-1", 6)])
        rpc = _FakeRpc()
        reader = _reader(rpc)

        (article,) = await reader.articles(groups[1:])

        assert "B-1" == article.number
        assert [1] == rpc.product_reads


class TestImages:
    @pytest.mark.anyio
    async def test_each_article_gets_its_templates_images(self) -> None:
        """In one batch, a plain article gets its product's images, then
        its template's; an article with variants its template's, then
        each variant's; no article gets another template's images."""
        groups = group_articles(
            [
                _row(1, "A-1", 5),
                _row(2, "B-1", 6, template_code="B"),
                _row(3, "B-2", 6, template_code="B"),
                _row(4, "C-1", 7),
            ]
        )
        rpc = _FakeRpc()
        rpc.images = [
            {"id": i, "template": t, "product": p, "description": "x"}
            for i, t, p in [
                (10, 5, None),
                (11, 6, 3),
                (12, 5, 1),
                (13, 6, None),
                (14, 6, 2),
            ]
        ]
        reader = _reader(rpc)
        reader.expect(groups)

        articles = await reader.articles(groups)

        assert {
            "A-1": ["12", "10"],
            "B": ["13", "14", "11"],
            "C-1": [],
        } == {
            a.number: [m.key.rsplit(":", 1)[1] for m in a.media]
            for a in articles
        }


class TestNetPrices:
    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("currency", "net", "rate", "gross"),
        [
            ("EUR", "8.4000", 19, "10.00"),
            ("KWD", "12.3450", 0, "12.345"),
            ("JPY", "999", 8, "1079"),
        ],
    )
    async def test_gross_price_to_the_currencys_unit(
        self, currency: str, net: str, rate: int, gross: str
    ) -> None:
        """With gross_prices=False the gross price is rounded to the
        company currency's smallest unit (fils, yen), not to cents:
        12.345 KWD became 12.35, a yen price 1078.92."""
        groups = group_articles([_row(1, "A-1", 5)])
        rpc = _FakeRpc(currency, Decimal(net))
        erp = TrytonErp(
            "http://erp", "d", "u", "p", gross_prices=False, tax_rate=rate
        )
        reader = ProductReader(rpc, erp)  # type: ignore[arg-type]

        (article,) = await reader.articles(groups)

        assert (Decimal(gross), str(Decimal(gross))) == (
            article.price,
            str(article.price),
        )
