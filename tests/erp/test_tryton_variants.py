"""
Templates with variants and reused codes read from a live Tryton (the
traps server).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import anyio
import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    Only,
)
from ecomsync._model import number_key
from ecomsync._spec import Selection
from ecomsync.erp._tryton_products import ProductReader
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._tryton_seed import (
    TRAP_ARTICLES,
)

from ._tryton import (
    _read,
    traps_erp,
)


pytestmark = pytest.mark.tryton

_traps = traps_erp


class TestVariantsAndReusedCodes:
    """
    Templates with variants and reused codes, on a live Tryton.
    """

    @pytest.mark.anyio
    async def test_articles_as_the_merchant_has_them(
        self, traps: TrytonErp
    ) -> None:
        """Variants under their template, options from attributes, the
        active product for a reused code, an inactive article inactive."""
        got = await _read(traps, DataType.ARTICLES, All())

        assert sorted(TRAP_ARTICLES, key=lambda a: number_key(a.number)) == got

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("numbers", "expected"),
        [
            (["Z-1"], ["Z-1"]),
            (["SHIRT-S"], ["SHIRT"]),
            (["SOCK"], ["SOCK"]),
            (["SHIRT-L", "G-1"], ["G-1", "SHIRT"]),
            # many numbers: selected here, not on the server
            (
                [f"N-{i}" for i in range(30)] + ["SOCK-RED", "Z-1"],
                ["SOCK", "Z-1"],
            ),
        ],
    )
    async def test_only(
        self, traps: TrytonErp, numbers: list[str], expected: list[str]
    ) -> None:
        """Only() finds an article by its number or a variant's; a reused
        code finds the active product."""
        got = await _read(traps, DataType.ARTICLES, Only(numbers))

        assert expected == [a.number for a in got]
        assert all(a.name != "Old Z" for a in got)

    @pytest.mark.anyio
    async def test_changed_inactive_duplicate_is_not_read(
        self, traps: TrytonErp
    ) -> None:
        """A change to the inactive Old Z yields nothing for Z-1; a change
        to a discontinued variant yields its article."""
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        async with traps.session() as session:
            rpc = session.rpc
            rows = await rpc.search_read(
                "product.product",
                [["code", "in", ["Z-1", "SHIRT-L"]], ["active", "=", False]],
                ["code"],
                context={"active_test": False},
            )
            # an inactive product is read-only but for its active flag
            await rpc.model(
                "product.product",
                "write",
                [row["id"] for row in rows],
                {"active": False},
            )

        got = await _read(traps, DataType.ARTICLES, ChangedSince(moment))

        assert {"Z-1", "SHIRT-L"} == {row["code"] for row in rows}
        assert ["SHIRT"] == [a.number for a in got]
        assert [("SHIRT-M", "SHIRT-S")] == [
            tuple(v.number for v in a.variants) for a in got
        ]

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("template_code", "suffixes", "rivalled"),
        [
            (None, ["SHIRT"], ("Rival", "Shirt")),
            ("Z-1", ["-X", "-Y"], ("New Z", "Rival")),
        ],
        ids=["article-as-variants", "variants-as-article"],
    )
    @pytest.mark.parametrize("expand_limit", [1000, 0], ids=["lazy", "eager"])
    async def test_changed_rival_is_read_with_the_holder(
        self,
        traps: TrytonErp,
        template_code: str | None,
        suffixes: list[str],
        rivalled: tuple[str, str],
        expand_limit: int,
    ) -> None:
        """A new product numbered like an unchanged article (Tryton keeps
        active product codes unique, not a product's code apart from a
        template's) is read by ChangedSince together with that article, so
        the engine fails both instead of the newcomer overwriting the
        shop's product."""
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        number = template_code or suffixes[0]
        async with traps.session() as session:
            rpc = session.rpc
            (unit,) = await rpc.model(
                "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
            )
            (template,) = await rpc.model(
                "product.template",
                "create",
                [
                    {
                        "name": "Rival",
                        "code": template_code,
                        "type": "goods",
                        "default_uom": unit,
                        "salable": True,
                        "sale_uom": unit,
                        "list_price": Decimal("1.00"),
                        "products": [
                            ["create", [{"suffix_code": s} for s in suffixes]]
                        ],
                    }
                ],
            )
            try:
                reader = ProductReader(rpc, traps, expand_limit=expand_limit)
                groups = await reader.article_groups(ChangedSince(moment))
                got = await reader.articles(groups)
            finally:
                await rpc.model("product.template", "delete", [template])

        assert rivalled == tuple(sorted(a.name for a in got))
        assert [number, number] == [a.number for a in got]

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        "selection",
        [
            ChangedSince(datetime(2000, 1, 1, tzinfo=UTC)),
            Only(["Z-1", "SOCK"]),
        ],
        ids=["since", "only"],
    )
    async def test_many_changed_read_every_candidate(
        self, traps: TrytonErp, selection: Selection
    ) -> None:
        """With more matched templates than the expansion limit, every
        candidate is read and the same articles come out."""
        async with traps.session() as session:
            eager = ProductReader(session.rpc, traps, expand_limit=0)
            lazy = ProductReader(session.rpc, traps)
            got = [g.number for g in await eager.article_groups(selection)]
            want = [g.number for g in await lazy.article_groups(selection)]

        assert want == got
        assert got
