"""
The WooCommerce adapter against scripted answers: per-item batch errors,
adoption of a create whose answer was lost, refused and missing orders,
malformed error bodies, records of the wrong type, odd order rows.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecomsync import (
    All,
    Category,
    DataType,
    Only,
    OrderState,
    OrderStatus,
    Outgoing,
    StagedMedia,
    StockLevel,
)
from ecomsync.exceptions import SyncError
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import article

from .._retries import fast_retries


pytestmark = pytest.mark.anyio

Answer = tuple[int, Any]


_fast_retries = fast_retries(1)


#: What a path answers unless a test scripts it (otherwise ``[]``).
_DEFAULTS: dict[str, Any] = {
    "settings/general": [
        {"id": "woocommerce_currency", "value": "EUR"},
        {"id": "woocommerce_price_num_decimals", "value": "2"},
        {"id": "woocommerce_calc_taxes", "value": "yes"},
    ],
    "settings/tax/woocommerce_prices_include_tax": {"value": "yes"},
}


class Script:
    """
    Answers by method and path below ``/wc/v3/``, in turn (the last one
    repeats); records each request with its JSON body.
    """

    def __init__(self, answers: dict[tuple[str, str], list[Answer]]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/wp-json/wc/v3/")
        json_body = "json" in request.headers.get("content-type", "")
        body = json.loads(request.content) if json_body else None
        self.seen.append((request.method, path, body))
        queue = self.answers.get(
            (request.method, path), [(200, _DEFAULTS.get(path, []))]
        )
        status, answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, str):
            return httpx.Response(status, text=answer)
        return httpx.Response(status, json=answer)


def _woo(script: Script) -> WooCommerce:
    return WooCommerce(
        "https://shop.test",
        "ck_scripted",
        "cs_scripted",
        transport=httpx.MockTransport(script),
    )


def _error(code: str, **data: Any) -> dict[str, Any]:
    return {"id": 0, "error": {"code": code, "message": "no", "data": data}}


class TestBatchAnswers:
    async def test_per_item_errors_fail_alone_naming_the_field(self) -> None:
        """
        Per-item errors under HTTP 200 fail their record only, naming the
        parameter, ``media`` for an image error, nothing for an unknown
        code; an item the answer leaves out fails as unanswered.
        """
        script = Script(
            {
                ("POST", "products/batch"): [
                    (
                        200,
                        {
                            "create": [
                                _error(
                                    "rest_invalid_param",
                                    params={"regular_price": "not a price"},
                                ),
                                _error("woocommerce_product_image_error"),
                                _error("woocommerce_rest_unknown"),
                                {"id": 41, "sku": "A-4"},
                            ]
                        },
                    )
                ]
            }
        )
        numbers = ["A-1", "A-2", "A-3", "A-4", "A-5"]
        async with _woo(script) as woo:
            outcomes = await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=article(n, categories=())) for n in numbers],
            )

        assert numbers == [o.number for o in outcomes]
        assert [False, False, False, True, False] == [o.ok for o in outcomes]
        assert ["regular_price", "media", None, None, None] == [
            o.field for o in outcomes
        ]
        assert "rest_invalid_param" in (outcomes[0].error or "")
        assert "no answer for this item" in (outcomes[4].error or "")
        assert "41" == outcomes[3].platform_id

    @pytest.mark.parametrize(
        ("answer", "problem"),
        [
            ([], "/products/batch with an unexpected shape: not an object"),
            (
                {"create": {"id": 1}},
                "(create) with an unexpected shape: an object where a list",
            ),
            (
                {"create": ["A-1"]},
                "(create) with an unexpected shape: item 0 is a text",
            ),
        ],
    )
    async def test_odd_batch_answer_names_the_request(
        self, answer: Any, problem: str
    ) -> None:
        """
        A batch answer of an unexpected shape (a list, ``create`` not a
        list of objects) is a SyncError naming the request, not a bare
        AttributeError.
        """
        script = Script({("POST", "products/batch"): [(200, answer)]})
        async with _woo(script) as woo:
            with pytest.raises(SyncError) as info:
                await woo.push(
                    DataType.ARTICLES,
                    [Outgoing(record=article("A-1", categories=()))],
                )

        assert problem in str(info.value)

    async def test_lost_create_is_adopted_by_resource_id(self) -> None:
        """
        A create refused as ``product_invalid_sku`` with a
        ``resource_id`` (our earlier write, answer lost) is sent again as
        an update of that product; a second refusal fails the record.
        """
        held = [
            {"id": 77, "sku": "A-1", "parent_id": 0},
            {"id": 78, "sku": "A-2", "parent_id": 0},
        ]
        script = Script(
            {
                # nothing before the write; the lost creates after it
                ("GET", "products"): [(200, []), (200, held)],
                ("POST", "products/batch"): [
                    (
                        200,
                        {
                            "create": [
                                _error("product_invalid_sku", resource_id=77),
                                _error("product_invalid_sku", resource_id=78),
                            ]
                        },
                    ),
                    (
                        200,
                        {
                            "update": [
                                {"id": 77, "sku": "A-1"},
                                _error("product_invalid_sku", resource_id=78),
                            ]
                        },
                    ),
                ],
            }
        )
        async with _woo(script) as woo:
            adopted, refused = await woo.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=article("A-1", categories=())),
                    Outgoing(record=article("A-2", categories=())),
                ],
            )

        writes = [b for m, p, b in script.seen if p == "products/batch"]
        assert "77" == adopted.platform_id
        assert not refused.ok
        assert "number" == refused.field
        assert 2 == len(writes)
        assert [] == writes[1]["create"]
        assert [77, 78] == [u["id"] for u in writes[1]["update"]]

    async def test_refusal_naming_another_product_is_not_adopted(
        self,
    ) -> None:
        """
        A create refused as ``product_invalid_sku`` whose ``resource_id``
        is not a product with the record's SKU (``a-1``, another
        article's, which WooCommerce's lookup takes for ``A-1``; or a
        variation) was sent again as an update of that product,
        overwriting it with this article.  It fails on ``number`` naming
        the product, and nothing more is written.
        """
        script = Script(
            {
                ("GET", "products"): [
                    (200, []),
                    (
                        200,
                        [
                            {"id": 77, "sku": "a-1", "parent_id": 0},
                            {"id": 78, "sku": "A-2", "parent_id": 5},
                        ],
                    ),
                ],
                ("POST", "products/batch"): [
                    (
                        200,
                        {
                            "create": [
                                _error("product_invalid_sku", resource_id=77),
                                _error("product_invalid_sku", resource_id=78),
                            ]
                        },
                    ),
                ],
            }
        )
        async with _woo(script) as woo:
            first, second = await woo.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=article("A-1", categories=())),
                    Outgoing(record=article("A-2", categories=())),
                ],
            )

        writes = [b for m, p, b in script.seen if p == "products/batch"]
        assert 1 == len(writes)
        assert [(False, "number")] * 2 == [
            (o.ok, o.field) for o in (first, second)
        ]
        assert "#77" in (first.error or "")
        assert "#78" in (second.error or "")

    async def test_adopted_category_refused_on_update(self) -> None:
        """
        A category adopted through ``term_exists`` whose update is refused
        fails naming ``name``.
        """
        script = Script(
            {
                ("POST", "products/categories/batch"): [
                    (
                        200,
                        {"create": [_error("term_exists", resource_id=9)]},
                    ),
                    (200, {"update": [_error("rest_invalid_param")]}),
                ]
            }
        )
        async with _woo(script) as woo:
            (outcome,) = await woo.push(
                DataType.CATEGORIES,
                [Outgoing(record=Category(number="K-1", name="Werkzeug"))],
            )

        assert not outcome.ok
        assert "name" == outcome.field
        assert "rest_invalid_param" in (outcome.error or "")


class TestOrderStatusAnswers:
    async def test_missing_refused_and_failing_orders(self) -> None:
        """
        An order the shop does not have (404, or not a number) fails
        naming ``number``; a refused status write fails naming
        ``state``; any other error answer on reading the order is raised.
        """
        script = Script(
            {
                ("GET", "orders/5"): [(404, {"code": "woocommerce_rest_x"})],
                ("GET", "orders/6"): [
                    (200, {"id": 6, "number": "6", "status": "pending"})
                ],
                ("PUT", "orders/6"): [
                    (400, {"code": "rest_invalid_param", "message": "bad"})
                ],
                ("GET", "orders/7"): [(409, {"code": "conflict"})],
            }
        )

        def status(number: str) -> Outgoing:
            return Outgoing(
                record=OrderStatus(number=number, state=OrderState.SHIPPED)
            )

        async with _woo(script) as woo:
            missing, odd, refused = await woo.push(
                DataType.ORDER_STATUS,
                [status("5"), status("x-5"), status("6")],
            )
            with pytest.raises(SyncError, match="HTTP 409"):
                await woo.push(DataType.ORDER_STATUS, [status("7")])

        assert ["number", "number", "state"] == [
            missing.field,
            odd.field,
            refused.field,
        ]
        assert "does not exist" in (missing.error or "")
        assert "rest_invalid_param: bad" in (refused.error or "")
        assert not any(p == "orders/x-5" for _, p, _ in script.seen)


class TestOtherAnswers:
    async def test_malformed_error_bodies_are_reported(self) -> None:
        """
        `WooCommerce.check` reports an error answer whose body is not
        WordPress' error shape with its text.
        """
        script = Script(
            {
                ("GET", "products"): [(400, "<html>proxy says no</html>")],
                ("GET", "products/categories"): [(400, ["not", "a", "dict"])],
                ("GET", "orders"): [(400, {"code": "rest_x", "message": "m"})],
            }
        )
        async with _woo(script) as woo:
            problems = await woo.check()

        assert 3 == len(problems)
        assert "proxy says no" in problems[0]
        assert "['not', 'a', 'dict']" in problems[1]
        assert "rest_x: m" in problems[2]

    @pytest.mark.parametrize(
        "body",
        [
            "<html><body>Down for service</body></html>",
            "<br />\n<b>Deprecated</b>: a PHP notice in ...<br />\n[]",
        ],
    )
    async def test_an_answer_that_is_not_json_names_the_request(
        self, body: str
    ) -> None:
        """
        A 200 whose body is not JSON (a maintenance page, PHP notices
        printed before the JSON) is a SyncError naming WooCommerce and the
        request, not Python's bare JSONDecodeError; the body is not
        quoted (it may echo what was sent).
        """
        script = Script({("GET", "products"): [(200, body)]})
        async with _woo(script) as woo:
            with pytest.raises(SyncError) as info:
                await woo.push(
                    DataType.ARTICLES, [Outgoing(record=article("A-1"))]
                )

        message = str(info.value)
        assert message.startswith(
            "WooCommerce answered GET /wp-json/wc/v3/products with HTTP 200 "
            f"and {len(body)} bytes that are not JSON ("
        )
        assert "an HTML page" in message
        assert "Down for" not in message
        assert "Deprecated" not in message

    @pytest.mark.parametrize(
        ("answer", "problem"),
        [
            ({"code": "x"}, "an object where a list was expected"),
            ([{"name": "Reduced rate"}], "item 0.slug is missing"),
            ([{"slug": None}], "item 0.slug is null"),
            (
                [{"slug": "zero-rate"}, "reduced-rate"],
                "item 1 is a text where an object was expected",
            ),
        ],
    )
    async def test_odd_tax_classes_name_the_request_and_field(
        self, answer: Any, problem: str
    ) -> None:
        """
        A ``taxes/classes`` answer of an unexpected shape (a plugin's, a
        proxy's) is a SyncError naming WooCommerce, the request and what
        was missing, not a bare KeyError or TypeError; nothing is
        written.
        """
        script = Script({("GET", "taxes/classes"): [(200, answer)]})
        async with _woo(script) as woo:
            with pytest.raises(SyncError) as info:
                await woo.push(
                    DataType.ARTICLES,
                    [
                        Outgoing(
                            record=article(
                                "A-1", tax_rate=Decimal(7), categories=()
                            )
                        )
                    ],
                )

        assert (
            "WooCommerce answered GET /wp-json/wc/v3/taxes/classes with an "
            "unexpected "
            f"shape: {problem}"
        ) == str(info.value)
        assert [] == [s for s in script.seen if s[0] == "POST"]

    @pytest.mark.parametrize(("held", "expected"), [([7, 9], "7"), ([9], "9")])
    async def test_content_held_already_is_kept(
        self, held: list[int], expected: str
    ) -> None:
        """
        An upload WordPress slugs "<hash>-2" means the content is held
        already: that attachment's id is answered, and the copy deleted
        (a failing delete leaves the copy, nothing worse); with no other
        attachment of that slug the new one is kept.
        """
        sha = "b" * 64
        media = "/wp-json/wp/v2/media"
        script = Script(
            {
                ("POST", media): [(201, {"id": 9, "slug": f"{sha}-2"})],
                ("GET", media): [(200, [{"id": i} for i in held])],
                ("DELETE", f"{media}/9"): [(500, {"code": "x"})],
            }
        )
        woo = WooCommerce(
            "https://shop.test", "ck_scripted", "cs_scripted",
            wp_user="sync", wp_application_password="pw",
            transport=httpx.MockTransport(script),
        )  # fmt: skip
        staged = StagedMedia(
            sha256=sha, path=Path("unused"), size=1, filename="a.jpg",
            mime_type="image/jpeg", content=b"a",
        )  # fmt: skip
        async with woo:
            assert expected == await woo.upload_media(staged)

        deletes = [s for s in script.seen if s[0] == "DELETE"]
        assert len(deletes) == (1 if expected == "7" else 0)

    @pytest.mark.parametrize(
        ("path", "answer", "problem"),
        [
            ("products", {"products": []}, "an object where a list was"),
            ("products", [{"id": 1}], "item 0.sku is missing"),
            ("products", [{"id": 1, "sku": None}], "item 0.sku is null"),
            ("products/categories", [{"slug": "k-2"}], "item 0.id is missing"),
            (
                "products/categories",
                [{"slug": "k-2", "id": "seven"}],
                "item 0.id is a text",
            ),
        ],
    )
    async def test_odd_listings_name_the_request_and_field(
        self, path: str, answer: Any, problem: str
    ) -> None:
        """
        A listing of products (the look-up by SKU) or categories of an
        unexpected shape is a SyncError naming the request and the field,
        not a bare KeyError or TypeError; nothing is written.
        """
        script = Script({("GET", path): [(200, answer)]})
        async with _woo(script) as woo:
            with pytest.raises(SyncError) as info:
                await woo.push(
                    DataType.ARTICLES, [Outgoing(record=article("A-1"))]
                )

        assert str(info.value).startswith(
            f"WooCommerce answered GET /wp-json/wc/v3/{path} with an "
            f"unexpected shape: {problem}"
        )
        assert [] == [s for s in script.seen if s[0] == "POST"]

    async def test_odd_page_count_names_the_request(self) -> None:
        """
        An ``X-WP-TotalPages`` header that is not a number is a SyncError
        naming the request, not a bare ValueError.
        """

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200, json=[], headers={"X-WP-TotalPages": "many"}
            )

        woo = WooCommerce(
            "https://shop.test",
            "ck_scripted",
            "cs_scripted",
            transport=httpx.MockTransport(answer),
        )
        async with woo:
            with pytest.raises(SyncError, match="X-WP-TotalPages header"):
                await woo.push(
                    DataType.ARTICLES, [Outgoing(record=article("A-1"))]
                )

    async def test_upload_answer_without_id_names_the_field(self) -> None:
        """
        A media upload answered without an ``id`` is a SyncError naming
        the request and the field, not a bare KeyError.
        """
        script = Script(
            {("POST", "/wp-json/wp/v2/media"): [(201, {"slug": "x"})]}
        )
        woo = WooCommerce(
            "https://shop.test", "ck_scripted", "cs_scripted",
            wp_user="sync", wp_application_password="pw",
            transport=httpx.MockTransport(script),
        )  # fmt: skip
        staged = StagedMedia(
            sha256="c" * 64, path=Path("unused"), size=1, filename="a.jpg",
            mime_type="image/jpeg", content=b"a",
        )  # fmt: skip
        async with woo:
            with pytest.raises(SyncError) as info:
                await woo.upload_media(staged)

        assert (
            "WooCommerce answered POST /wp-json/wp/v2/media with an "
            "unexpected shape: id is missing"
        ) == str(info.value)

    async def test_records_of_the_wrong_type_fail_alone(self) -> None:
        """
        A record of another type fails by itself; a type the shop does
        not take fails every record; nothing to push sends nothing.
        """
        script = Script({})
        other = Outgoing(record=Category(number="K-1", name="Werkzeug"))
        async with _woo(script) as woo:
            (no_article,) = await woo.push(DataType.ARTICLES, [other])
            (no_stock,) = await woo.push(DataType.STOCK, [other])
            (no_status,) = await woo.push(DataType.ORDER_STATUS, [other])
            (no_order,) = await woo.push(
                DataType.ADDRESSES_AND_ORDERS, [other]
            )
            (no_category,) = await woo.push(
                DataType.CATEGORIES,
                [Outgoing(record=StockLevel(number="A-1", quantity=1))],
            )
            nothing = await woo.push(DataType.STOCK, [])

        assert "not an article" == no_article.error
        assert "not a stock level" == no_stock.error
        assert "not an order status" == no_status.error
        assert "cannot be pushed" in (no_order.error or "")
        assert "not a category" == no_category.error
        assert [] == nothing

    async def test_odd_order_rows(self) -> None:
        """
        Orders selected by a number that is no order id are searched
        for, and an order the search finds under another number is not
        taken; an unreadable total reads as 0 and a line without quantity keeps
        its total as unit price.
        """
        row = {
            "id": 1,
            "number": "1",
            "status": "processing",
            "total": "n/a",
            "date_created_gmt": "2026-01-02T03:04:05",
            "billing": {"last_name": "Muster", "address_1": "Weg 1"},
            "line_items": [
                {
                    "sku": "A-1",
                    "name": "A",
                    "quantity": 0,
                    "subtotal": "3",
                    "total": "3",
                }
            ],
        }
        script = Script({("GET", "orders"): [(200, [row])]})
        async with _woo(script) as woo:
            none = [
                b async for b in woo.fetch_orders(Only(("x",)), batch_size=10)
            ]
            (batch,) = [
                b async for b in woo.fetch_orders(All(), batch_size=10)
            ]

        (order,) = batch
        assert [] == none
        assert 2 == len(script.seen)
        assert Decimal(0) == order.total
        assert Decimal(3) == order.lines[0].unit_price
        assert OrderState.IN_PROGRESS == order.state
