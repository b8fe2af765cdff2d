"""
`TrytonErp` against a live Tryton server: the ERP contract, and what is
specific to Tryton (sessions, errors, secrets, options).  Order mapping,
variants with reused codes and available stock have their own files
(test_tryton_mapping, test_tryton_variants, test_tryton_stock_available).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    All,
    DataType,
    Only,
    OrderState,
    OrderStatus,
)
from ecomsync.erp.tryton import TrytonErp, TrytonError
from ecomsync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    RetryableError,
)
from ecomsync.testing._erp_contract import ErpSourceContract, make_order
from ecomsync.testing._tryton_seed import (
    set_stock,
    storage_location,
)
from ecomsync.typing import ErpSource

from ._tryton import (
    _erp,
    ship_sale,
)
from .conftest import (
    PASSWORD,
    CountingTransport,
    make_erp,
)


pytestmark = pytest.mark.tryton


@pytest.fixture(name="source")
def _source(tryton: TrytonErp) -> TrytonErp:
    return tryton


#: The model and field `TestTrytonContract.touch` writes back unchanged.
_REWRITTEN = {
    DataType.CATEGORIES: ("product.category", "name"),
    DataType.ARTICLES: ("product.product", "description"),
}


class TestTrytonContract(ErpSourceContract):
    """
    The standard ERP behaviour, on a live Tryton.
    """

    @pytest.mark.anyio
    async def test_stock_levels(self, tryton_unsold: TrytonErp) -> None:
        """Stock levels are the seeded quantities available to sell, per
        warehouse or summed, on a server no test sells from: on the
        shared one, the open sales other tests leave (the parties' tests,
        run first) hold some of the stock."""
        await super().test_stock_levels(tryton_unsold)

    async def touch(
        self, source: ErpSource, data_type: DataType, number: str
    ) -> None:
        async with _erp(source).session() as session:
            rpc = session.rpc
            if data_type in _REWRITTEN:
                # Writing a field's own value back stamps write_date.
                model, field = _REWRITTEN[data_type]
                (row,) = await rpc.search_read(
                    model, [["code", "=", number]], [field]
                )
                await rpc.model(
                    model, "write", [row["id"]], {field: row[field]}
                )
            elif data_type is DataType.STOCK:
                (row,) = await rpc.search_read(
                    "product.product", [["code", "=", number]], ["quantity"]
                )
                location = await storage_location(rpc)
                await set_stock(
                    rpc, location, {row["id"]: row["quantity"] + 1}
                )
                await set_stock(rpc, location, {row["id"]: row["quantity"]})
            else:
                (row,) = await rpc.search_read(
                    "sale.sale", [["reference", "=", number]], ["shipments"]
                )
                shipments = await rpc.read(
                    "stock.shipment.out", row["shipments"], ["reference"]
                )
                for shipment in shipments:
                    await rpc.model(
                        "stock.shipment.out",
                        "write",
                        [shipment["id"]],
                        {"reference": shipment["reference"]},
                    )

    async def imported_count(
        self, source: ErpSource, order_number: str
    ) -> int:
        async with _erp(source).session() as session:
            return int(
                await session.rpc.model(
                    "sale.sale",
                    "search_count",
                    [["reference", "=", order_number]],
                )
            )

    async def imported_state(
        self, source: ErpSource, order_number: str
    ) -> OrderState:
        async with _erp(source).session() as session:
            (status,) = [
                s
                async for batch in session.read(
                    DataType.ORDER_STATUS, Only([order_number]), batch_size=1
                )
                for s in batch
            ]
        assert isinstance(status, OrderStatus)
        return status.state

    async def ship(self, source: ErpSource, order_number: str) -> None:
        async with _erp(source).session() as session:
            await ship_sale(session.rpc, order_number)


class TestSessions:
    """
    One Tryton session per `session()`.
    """

    @pytest.mark.anyio
    async def test_one_login_per_session(
        self, tryton_server: dict[str, Any], tryton: TrytonErp
    ) -> None:
        """Each session logs in on enter and out on exit, also on error."""
        counting = CountingTransport()
        erp = make_erp(tryton_server, transport=counting)

        async with erp.session(), erp.session():
            assert counting.open == 2
        with pytest.raises(ZeroDivisionError):
            async with erp.session():
                1 / 0  # noqa: B018

        assert counting.open == 0
        assert counting.most == 2


class TestErrors:
    """
    Tryton's refusals become ecomsync errors with Tryton's message.
    """

    @pytest.mark.anyio
    async def test_wrong_password(self, tryton_server: dict[str, Any]) -> None:
        """A refused login is an AuthenticationError without the password."""
        erp = make_erp(tryton_server)
        erp = attrs.evolve(erp, password="s3cret-Pa55word")

        with pytest.raises(AuthenticationError) as info:
            async with erp.session():
                pass

        assert "s3cret-Pa55word" not in str(info.value)
        assert "s3cret-Pa55word" not in repr(info.value)

    @pytest.mark.anyio
    async def test_unreachable_is_retryable(self) -> None:
        """A server that does not answer is a RetryableError."""
        erp = TrytonErp("http://127.0.0.1:9", "db", "admin", "pw", timeout=5)

        with pytest.raises(RetryableError):
            async with erp.session():
                pass

    @pytest.mark.anyio
    async def test_user_error_fails_that_order_alone(
        self, tryton: TrytonErp
    ) -> None:
        """Tryton's own validation message reaches the one bad order's
        outcome; the other order is imported."""
        good = make_order()
        line = attrs.evolve(good.lines[0], unit_price=Decimal("1.234567"))
        bad = attrs.evolve(make_order(), lines=(line,), total=Decimal("1.23"))

        async with tryton.session() as session:
            # as if Tryton kept six places: the price goes as it is, and
            # Tryton's own digits check refuses it
            session._orders._price_places = 6
            outcomes = await session.import_orders([bad, good])

        assert [o.ok for o in outcomes] == [False, True]
        assert "digits" in (outcomes[0].error or ""), outcomes[0].error
        assert (outcomes[0].error or "").startswith("Tryton")

    @pytest.mark.anyio
    async def test_unknown_article(self, tryton: TrytonErp) -> None:
        """An order for an article Tryton lacks names the line."""
        line = attrs.evolve(make_order().lines[0], article_number="NOPE-1")
        order = attrs.evolve(
            make_order(), lines=(line,), total=line.unit_price
        )

        async with tryton.session() as session:
            (outcome,) = await session.import_orders([order])

        assert outcome.field == "lines.0.article_number"
        assert "NOPE-1" in (outcome.error or "")

    @pytest.mark.anyio
    async def test_user_error_on_read_raises(self, tryton: TrytonErp) -> None:
        """A refused call outside import raises TrytonError with Tryton's
        message."""
        async with tryton.session() as session:
            with pytest.raises(TrytonError) as info:
                await session.rpc.model(
                    "product.category", "create", [{"name": None}]
                )

        assert info.value.kind == "UserError"
        assert info.value.message

    @pytest.mark.anyio
    async def test_unknown_warehouse(
        self, tryton_server: dict[str, Any], tryton: TrytonErp
    ) -> None:
        """A warehouse code Tryton lacks is a ConfigurationError."""
        erp = make_erp(tryton_server, warehouse="NOPE")

        async with erp.session() as session:
            with pytest.raises(ConfigurationError):
                await session.count(DataType.STOCK, All())


def _mock(status: int, payload: object, **headers: str) -> TrytonErp:
    """
    A TrytonErp whose server logs in, then answers every call with
    *status* and *payload*.
    """

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["method"] == "common.db.login":
            return httpx.Response(
                200, json={"id": 1, "result": [1, "t", None]}
            )
        if body["method"] == "model.res.user.get_preferences":
            return httpx.Response(
                200, json={"id": 2, "result": {"company": 1}}
            )
        if body["method"] == "common.db.logout":
            return httpx.Response(200, json={"id": 3, "result": None})
        return httpx.Response(status, json=payload, headers=headers)

    return TrytonErp(
        "http://erp.test",
        "db",
        "admin",
        "pw-not-shown",
        transport=httpx.MockTransport(handler),
    )


class TestErrorMapping:
    """
    Tryton's answers map to the ecomsync error tree (no server needed).
    """

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("status", "payload", "error"),
        [
            (401, {}, AuthenticationError),
            (429, {}, RetryableError),
            (503, {}, RetryableError),
            (403, {}, TrytonError),
            (
                200,
                {"id": 1, "error": ["ConcurrencyException", "changed"]},
                RetryableError,
            ),
            (
                200,
                {"id": 1, "error": ["UserError", ["Bad value", "Why", None]]},
                TrytonError,
            ),
            (
                200,
                {"id": 1, "error": ["KeyError: 'x'", "Traceback ..."]},
                TrytonError,
            ),
        ],
    )
    async def test_status_and_payload(
        self, status: int, payload: object, error: type[Exception]
    ) -> None:
        """Each failure is the error the engine can act on."""
        erp = _mock(status, payload, **{"Retry-After": "7"})

        with pytest.raises(error) as info:
            async with erp.session() as session:
                await session.count(DataType.ARTICLES, All())

        assert "pw-not-shown" not in str(info.value)
        if status == 429:
            assert info.value.retry_after.total_seconds() == 7  # type: ignore[attr-defined]

    @pytest.mark.anyio
    async def test_user_error_message(self) -> None:
        """A user error carries Tryton's message and description."""
        erp = _mock(
            200,
            {"id": 1, "error": ["UserError", ["Bad value", "Because.", None]]},
        )

        with pytest.raises(TrytonError) as info:
            async with erp.session() as session:
                await session.count(DataType.ARTICLES, All())

        assert info.value.kind == "UserError"
        assert info.value.text == "Bad value (Because.)"
        assert str(info.value).startswith("Tryton: Bad value (Because.)")

    @pytest.mark.anyio
    async def test_warning_fails_the_order(self) -> None:
        """A warning that needs acknowledging fails that order with its
        message (acknowledge_warnings=False)."""
        erp = _mock(
            200,
            {
                "id": 1,
                "error": ["UserWarning", ["w.name", "Are you sure?", ""]],
            },
        )

        async with erp.session() as session:
            (outcome,) = await session.import_orders([make_order()])

        assert "Tryton warning: Are you sure?" in (outcome.error or "")


class TestSecrets:
    """
    The password never shows.
    """

    def test_repr(self) -> None:
        """Neither repr nor str of TrytonErp contains the password."""
        erp = TrytonErp("http://erp", "db", "admin", "hunter2-secret")

        assert "hunter2-secret" not in repr(erp)
        assert "hunter2-secret" not in str(erp)

    def test_bad_url(self) -> None:
        """A URL without scheme is refused at construction."""
        with pytest.raises(ConfigurationError):
            TrytonErp("erp.example.com", "db", "admin", PASSWORD)


class TestOptions:
    """
    TrytonErp's stock options are checked at construction.
    """

    @pytest.mark.parametrize("codes", [(), [""], [1]])
    def test_bad_stock_warehouses(self, codes: Any) -> None:
        """stock_warehouses must be non-empty warehouse codes."""
        with pytest.raises(ConfigurationError):
            TrytonErp(
                "http://erp", "db", "admin", "pw", stock_warehouses=codes
            )

    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("timeout", 0),
            ("timeout", -5),
            ("timeout", float("nan")),
            ("timeout", "60"),
            ("confirm_orders", "no"),
            ("gross_prices", "false"),
            ("stock_per_warehouse", 1),
            ("acknowledge_warnings", None),
            ("warehouse", ""),
            ("tax_rate", "x"),
            ("tax_rate", "NaN"),
            ("tax_rate", float("inf")),
            ("tax_rate", -19),
            ("tax_rate", True),
        ],
    )
    def test_setting_out_of_range_refused(
        self, setting: str, value: Any
    ) -> None:
        """A setting out of its range is a ConfigurationError naming it
        (confirm_orders="no" counted as true, tax_rate="x" raised a bare
        InvalidOperation, a NaN rate was reported for every article)."""
        with pytest.raises(
            ConfigurationError, match=f"TrytonErp {setting} must be"
        ):
            TrytonErp("http://erp", "db", "admin", "pw", **{setting: value})

    @pytest.mark.parametrize("position", [1, 2, 3])
    def test_empty_login_refused(self, position: int) -> None:
        """An empty database, user or password is refused naming it."""
        login = ["db", "admin", "pw"]
        login[position - 1] = ""
        names = {1: "database", 2: "user", 3: "password"}

        with pytest.raises(ConfigurationError, match=names[position]):
            TrytonErp("http://erp", *login)

    def test_documented_tax_rate_forms_taken(self) -> None:
        """A tax rate given as a number or a text becomes a Decimal."""
        rates = [
            TrytonErp("http://erp", "db", "u", "pw", tax_rate=r).tax_rate
            for r in (7, 7.0, "7", Decimal("7.0"), 0)
        ]

        assert [Decimal(7)] * 4 + [Decimal(0)] == rates

    def test_one_code(self) -> None:
        """A single code is taken as one warehouse."""
        erp = TrytonErp(
            "http://erp", "db", "admin", "pw", stock_warehouses="WH"
        )

        assert ("WH",) == erp.stock_warehouses
