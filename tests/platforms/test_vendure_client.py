"""
The Vendure adapter without a server: its transport on the shared HTTP
layer, `Vendure.check`, and the values it refuses before writing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import stamina

from ecomsync import Article, DataType, Variant
from ecomsync._contracts import MediaLink, Outcome, StagedMedia
from ecomsync._http import MaybeApplied
from ecomsync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    EcomsyncError,
    RetryableError,
    SyncError,
)
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.vendure._catalog import Reference
from ecomsync.platforms.vendure._client import GraphQL, GraphQLFailure
from ecomsync.platforms.vendure._locations import resolve_locations
from ecomsync.platforms.vendure._stock import quantity_problem
from ecomsync.platforms.vendure._variants import (
    gross_of,
    price_of,
    price_problem,
)
from ecomsync.typing import SupportsCheck


pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]

_FORBIDDEN = {
    "message": "You are not currently authorized to perform this action",
    "extensions": {"code": "FORBIDDEN"},
}


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


def _query(request: httpx.Request) -> str:
    return str(json.loads(request.content)["query"])


def _gql(handler: Handler) -> tuple[GraphQL, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return GraphQL(
        url="http://shop.test/admin-api", client=client, api_key="k"
    ), seen


class TestTransport:
    """
    Vendure's answers become the library's errors; retries follow the
    shared policy.
    """

    async def test_busy_server_is_retried(self) -> None:
        """A 503 with Retry-After is retried and the answer returned."""
        answers = iter(
            [
                httpx.Response(503, headers={"Retry-After": "0"}),
                httpx.Response(200, json={"data": {"x": 1}}),
            ]
        )
        gql, seen = _gql(lambda _: next(answers))

        data = await gql.query("{ x }")

        assert {"x": 1} == data
        assert 2 == len(seen)

    async def test_failed_mutation_is_not_repeated(self) -> None:
        """A 500 to a mutation may have been applied: MaybeApplied, sent
        once."""
        gql, seen = _gql(lambda _: httpx.Response(500, text="boom"))

        with pytest.raises(MaybeApplied):
            await gql.request("mutation { x }", mutation=True)

        assert 1 == len(seen)

    async def test_idempotent_mutation_is_repeated(self) -> None:
        """A bare 503 to an idempotent mutation (absolute values) is sent
        again and its answer returned."""
        answers = iter(
            [
                httpx.Response(503, text="upstream timed out"),
                httpx.Response(200, json={"data": {"x": 1}}),
            ]
        )
        gql, seen = _gql(lambda _: next(answers))

        data, _ = await gql.request(
            "mutation { x }", mutation=True, idempotent=True
        )

        assert {"x": 1} == data
        assert 2 == len(seen)

    async def test_confirmed_mutation_is_not_repeated(self) -> None:
        """A bare 503 to a mutation whose effect the look finds: the
        look's data, the mutation sent once."""
        gql, seen = _gql(lambda _: httpx.Response(503))

        async def found() -> dict[str, Any]:
            return {"x": 2}

        data, _ = await gql.request(
            "mutation { x }", mutation=True, confirm=found
        )

        assert {"x": 2} == data
        assert 1 == len(seen)

    async def test_refused_credentials(self) -> None:
        """HTTP 401 is an AuthenticationError."""
        gql, _ = _gql(lambda _: httpx.Response(401))

        with pytest.raises(AuthenticationError):
            await gql.query("{ x }")

    async def test_answer_without_json(self) -> None:
        """A 200 that is not JSON is a SyncError naming the status."""
        gql, _ = _gql(lambda _: httpx.Response(200, text="<html>"))

        with pytest.raises(SyncError, match="HTTP 200 without JSON"):
            await gql.query("{ x }")

    async def test_unreachable(self) -> None:
        """A refused connection is retryable and says so."""

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        gql, seen = _gql(refuse)

        with pytest.raises(RetryableError, match="cannot connect"):
            await gql.query("{ x }", retry=False)

        assert 1 == len(seen)


class TestLogin:
    """
    Username and password: a bearer session, renewed once when refused.
    """

    @staticmethod
    def _server(
        *, token: str | None = "t1", login: str = "CurrentUser"
    ) -> tuple[Handler, list[str]]:
        seen: list[str] = []
        state = {"logins": 0}

        def answer(request: httpx.Request) -> httpx.Response:
            query = _query(request)
            if "login(" in query:
                state["logins"] += 1
                seen.append("login")
                headers = (
                    {"vendure-auth-token": f"{token}-{state['logins']}"}
                    if token
                    else {}
                )
                result = (
                    {"__typename": "CurrentUser", "id": "1"}
                    if login == "CurrentUser"
                    else {"__typename": login, "errorCode": "INVALID"}
                )
                return httpx.Response(
                    200, json={"data": {"login": result}}, headers=headers
                )
            bearer = request.headers.get("authorization", "")
            seen.append(bearer)
            if bearer.endswith("-1"):  # the first session has expired
                return httpx.Response(
                    200,
                    json={"data": None, "errors": [{**_FORBIDDEN}]},
                )
            return httpx.Response(200, json={"data": {"x": 1}})

        return answer, seen

    @staticmethod
    def _gql(handler: Handler) -> GraphQL:
        return GraphQL(
            url="http://shop.test/admin-api",
            client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
            username="admin",
            password="sekrit-pw",
        )

    async def test_expired_session_logs_in_again(self) -> None:
        """A refused bearer session is renewed once and the request
        repeated with the new token."""
        handler, seen = self._server()

        data = await self._gql(handler).query("{ x }")

        assert {"x": 1} == data
        assert ["login", "Bearer t1-1", "login", "Bearer t1-2"] == seen

    async def test_busy_login_is_retried(self) -> None:
        """A login answered with a bare 503 (a proxy) is sent again: a
        login only opens a session, repeating it is safe."""
        handler, seen = self._server()
        busy = [httpx.Response(503, text="upstream timed out")]

        def answer(request: httpx.Request) -> httpx.Response:
            if busy and "login(" in _query(request):
                return busy.pop()
            return handler(request)

        data = await self._gql(answer).query("{ x }")

        assert {"x": 1} == data
        assert ["login", "Bearer t1-1", "login", "Bearer t1-2"] == seen

    async def test_refused_login(self) -> None:
        """A login Vendure refuses is an AuthenticationError naming the
        error code, not the password."""
        handler, _ = self._server(login="InvalidCredentialsError")

        with pytest.raises(AuthenticationError, match="INVALID") as caught:
            await self._gql(handler).query("{ x }")

        assert "sekrit" not in str(caught.value)

    async def test_no_bearer_method(self) -> None:
        """A server that sends no session token header needs the bearer
        token method: a ConfigurationError says so."""
        handler, _ = self._server(token=None)

        with pytest.raises(ConfigurationError, match="bearer"):
            await self._gql(handler).query("{ x }")


class TestAnswers:
    """
    Answers that are not what GraphQL promises.
    """

    @pytest.mark.parametrize(
        ("response", "words"),
        [
            (httpx.Response(200, json=[1, 2]), "not an object"),
            (httpx.Response(400, json={"data": None}), "HTTP 400"),
        ],
    )
    async def test_malformed(
        self, response: httpx.Response, words: str
    ) -> None:
        """A body that is no object, or an error status without errors, is
        a SyncError naming the status."""
        gql, _ = _gql(lambda _: response)

        with pytest.raises(SyncError, match=words):
            await gql.query("{ x }")

    async def test_errors_without_data(self) -> None:
        """Errors and no data: GraphQLFailure with Vendure's message and
        code."""
        gql, _ = _gql(
            lambda _: httpx.Response(
                200,
                json={
                    "data": None,
                    "errors": [
                        {"message": "bad", "extensions": {"code": "X"}}
                    ],
                },
            )
        )

        with pytest.raises(GraphQLFailure, match=r"bad \(X\)"):
            await gql.query("{ x }")


def _shop(
    *,
    forbidden: tuple[str, ...] = (),
    locations: tuple[str, ...] = ("Default Stock Location",),
) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        query = _query(request)
        field = query.split("{")[1].split("(")[0].strip()
        if field in forbidden or "*" in forbidden:
            return httpx.Response(
                200,
                json={
                    "data": None,
                    "errors": [{**_FORBIDDEN, "path": [field]}],
                },
            )
        if field == "activeChannel":
            return httpx.Response(
                200, json={"data": {"activeChannel": {"id": "1"}}}
            )
        if field == "stockLocations":
            items = [
                {"id": str(i), "name": n, "createdAt": "2026-01-01T00:00:00Z"}
                for i, n in enumerate(locations)
            ]
            return httpx.Response(
                200, json={"data": {"stockLocations": {"items": items}}}
            )
        return httpx.Response(200, json={"data": {field: {"totalItems": 0}}})

    return answer


class TestCheck:
    """
    `Vendure.check` names each problem once and writes nothing.
    """

    async def test_all_well(self) -> None:
        """A shop that grants every read and has the locations: no
        problem; Vendure is a SupportsCheck."""
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(_query(request))
            return _shop()(request)

        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            problems = await shop.check()

        assert isinstance(shop, SupportsCheck)
        assert [] == problems
        assert not any(q.lstrip().startswith("mutation") for q in seen)

    async def test_missing_permissions_each_named(self) -> None:
        """Each refused read names the permission the role lacks."""
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(
                _shop(forbidden=("orders", "stockLocations"))
            ),
        ) as shop:
            problems = await shop.check()

        assert 2 == len(problems)
        assert "ReadOrder" in problems[0]
        assert "ReadStockLocation" in problems[1]

    async def test_refused_key(self) -> None:
        """A key refused everywhere is one message, without the key."""
        async with Vendure(
            "http://shop.test",
            api_key="sekrit-key",
            transport=httpx.MockTransport(_shop(forbidden=("*",))),
        ) as shop:
            problems = await shop.check()

        assert 1 == len(problems)
        assert "API key" in problems[0]
        assert "sekrit" not in problems[0]

    async def test_unreachable(self) -> None:
        """An unreachable shop is one message with the reason."""

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(refuse),
        ) as shop:
            problems = await shop.check()

        assert 1 == len(problems)
        assert "unreachable" in problems[0]

    async def test_missing_stock_location(self) -> None:
        """A mapped stock location the shop lacks is named, with the
        ones it has."""
        async with Vendure(
            "http://shop.test",
            api_key="k",
            stock_locations={"WH1": "North", "WH2": "Default Stock Location"},
            transport=httpx.MockTransport(_shop()),
        ) as shop:
            problems = await shop.check()

        assert 1 == len(problems)
        assert "'North'" in problems[0]
        assert "'Default Stock Location'" in problems[0]


class TestStockValues:
    """
    Quantities Vendure must not be sent, and the location mapping.
    """

    @pytest.mark.parametrize(
        ("quantity", "words"),
        [
            (float("nan"), "whole number, got nan"),
            (float("inf"), "whole number, got inf"),
            (Decimal("sNaN"), "whole number"),
            (Decimal("1.5"), "whole number, got 1.5"),
            (True, "got bool"),
            ("3", "got str"),
            (2**31, "more than Vendure can store"),
        ],
    )
    def test_refused(self, quantity: Any, words: str) -> None:
        """Each bad quantity gets a reason."""
        problem = quantity_problem(quantity)

        assert problem is not None
        assert words in problem

    @pytest.mark.parametrize("quantity", [0, 7, 2.0, Decimal(4), -2])
    def test_accepted(self, quantity: Any) -> None:
        """Whole, finite quantities pass; a negative one is left to the
        shared backorders policy."""
        assert quantity_problem(quantity) is None

    def test_negative_within_range(self) -> None:
        """A negative quantity is still checked against Vendure's range."""
        assert "more than" in str(quantity_problem(-(2**31)))

    def test_locations(self) -> None:
        """The default is the oldest location (then the lowest id), as
        Vendure's own, unless named; the mapping resolves names to ids;
        missing names are listed together."""
        locations = [
            {"id": "10", "name": "Main", "createdAt": "2026-01-02T00:00:00Z"},
            {"id": "9", "name": "North", "createdAt": "2026-01-02T00:00:00Z"},
            {"id": "3", "name": "Late", "createdAt": "2026-03-01T00:00:00Z"},
        ]

        assert ("9", {}) == resolve_locations(
            locations, None, None, channel="c"
        )
        assert ("9", {"W": "10"}) == resolve_locations(
            locations, "North", {"W": "Main"}, channel="c"
        )
        with pytest.raises(ConfigurationError, match="'A', 'B'"):
            resolve_locations(locations, "A", {"W": "B"}, channel="c")
        with pytest.raises(
            ConfigurationError, match="channel 'c' has no stock location"
        ):
            resolve_locations([], None, None, channel="c")

    def test_a_name_several_locations_have(self) -> None:
        """A configured name that two locations have is refused, naming
        their ids; unconfigured, it is no problem."""
        locations = [
            {"id": "1", "name": "Main", "createdAt": "2026-01-01T00:00:00Z"},
            {"id": "2", "name": "North", "createdAt": "2026-01-02T00:00:00Z"},
            {"id": "3", "name": "North", "createdAt": "2026-01-03T00:00:00Z"},
        ]

        assert ("1", {}) == resolve_locations(
            locations, None, None, channel="c"
        )
        with pytest.raises(
            ConfigurationError, match=r"named 'North' \(ids 2, 3\)"
        ):
            resolve_locations(locations, None, {"W": "North"}, channel="c")


def _ref(*, gross: bool) -> Reference:
    return Reference(
        currency="EUR",
        prices_include_tax=gross,
        tax_categories={},
        default_location="1",
        locations={},
    )


class TestPrices:
    """
    Prices land exactly as the ERP's gross price, or not at all.
    """

    def test_gross_channel_takes_the_gross_price(self) -> None:
        """A channel whose prices include tax stores the cents as they
        are."""
        assert 999 == price_of(_ref(gross=True), Decimal("9.99"), Decimal(19))

    def test_net_channel_shows_the_gross_price(self) -> None:
        """In a net channel the net price is chosen so that Vendure's
        rounding shows exactly the ERP's gross price."""
        net = price_of(_ref(gross=False), Decimal("119.00"), Decimal(19))

        assert 10000 == net

    def test_net_channel_cannot_show_every_price(self) -> None:
        """9.99 at 19 % lies between two net prices: None, not 9.98."""
        assert (
            price_of(_ref(gross=False), Decimal("9.99"), Decimal(19)) is None
        )

    def test_a_price_finer_than_a_cent_fails(self) -> None:
        """5.555 (Tryton keeps four decimals) would land as 5.56: the
        article fails on the field instead; 5.550 is 5.55 and passes."""
        fine = Article(number="A-1", name="a", price=Decimal("5.550"))
        odd = Article(
            number="A-2",
            name="b",
            price=Decimal("5.55"),
            variants=(Variant(number="V-1", price=Decimal("5.555")),),
        )

        assert price_problem(fine, 2) is None
        problem = price_problem(odd, 2)
        assert problem is not None
        assert "variants.0.price" == problem[1]
        assert "5.555 has more than 2 decimals" in problem[0]
        assert "would show 5.56" in problem[0]

    @pytest.mark.parametrize("rate", [Decimal(19), Decimal(7), Decimal("5.5")])
    def test_every_reachable_gross_price_round_trips(
        self, rate: Decimal
    ) -> None:
        """Whatever gross price some net price gives, price_of finds a net
        price that gives it."""
        ref = _ref(gross=False)
        for net in range(5000):
            gross = gross_of(net, float(rate))
            found = price_of(ref, Decimal(gross) / 100, rate)

            assert found is not None
            assert gross == gross_of(found, float(rate))


def _media_shop(
    *, existing: str | None = None, refuse: bool = False
) -> tuple[Handler, list[str]]:
    """
    Answers the asset, product and collection reads and writes of
    `Vendure.upload_media` / `attach_media`; records what was sent.
    """
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["content-type"].startswith("multipart/"):
            sent.append("upload")
            result = (
                {
                    "__typename": "MimeTypeError",
                    "errorCode": "MIME",
                    "message": "bad type",
                }
                if refuse
                else {"__typename": "Asset", "id": "7", "name": "x"}
            )
            return httpx.Response(
                200, json={"data": {"createAssets": [result]}}
            )
        query = _query(request)
        if "assets(options" in query:
            sent.append("find")
            items = [{"id": existing}] if existing else []
            return httpx.Response(
                200, json={"data": {"assets": {"items": items}}}
            )
        if "products(options" in query:
            return httpx.Response(
                200, json={"data": {"products": {"items": []}}}
            )
        if "facets(options" in query:
            default = {"id": "1", "code": "__default_channel__"}
            return httpx.Response(
                200,
                json={
                    "data": {
                        "activeChannel": default,
                        "facets": {"items": [{"id": "1"}]},
                    }
                },
            )
        if "facetValues(options" in query:
            item = {"id": "10", "code": "C-1", "name": "C"}
            return httpx.Response(
                200,
                json={
                    "data": {"facetValues": {"totalItems": 1, "items": [item]}}
                },
            )
        if "collections(options" in query:
            node = {
                "id": "3",
                "parentId": "1",
                "name": "C",
                "description": "",
                "isPrivate": False,
                "featuredAsset": None,
                "assets": [],
                "filters": [
                    {
                        "code": "facet-value-filter",
                        "args": [{"name": "facetValueIds", "value": '["10"]'}],
                    }
                ],
            }
            return httpx.Response(
                200,
                json={
                    "data": {"collections": {"totalItems": 1, "items": [node]}}
                },
            )
        sent.append("attach")
        return httpx.Response(
            200,
            json={
                "data": None,
                "errors": [{"message": "nope", "path": ["a0"]}],
            },
        )

    return answer, sent


def _staged(tmp_path: Any) -> StagedMedia:
    path = tmp_path / "f"
    path.write_bytes(b"png")
    return StagedMedia(
        sha256="ab" * 32,
        path=path,
        size=3,
        filename="logo.PNG",
        mime_type="image/png",
    )


class TestMedia:
    """
    Assets are uploaded once per content and attached exactly.
    """

    async def test_upload_once(self, tmp_path: Any) -> None:
        """The first upload looks for the content's name, then uploads; a
        second upload of the same content sends nothing."""
        handler, sent = _media_shop()
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            first = await shop.upload_media(_staged(tmp_path))
            second = await shop.upload_media(_staged(tmp_path))

        assert ("7", "7") == (first, second)
        assert ["find", "upload"] == sent

    async def test_existing_content_is_linked(self, tmp_path: Any) -> None:
        """Content the shop already has is linked, not uploaded."""
        handler, sent = _media_shop(existing="5")
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            found = await shop.upload_media(_staged(tmp_path))

        assert "5" == found
        assert ["find"] == sent

    async def test_refused_upload(self, tmp_path: Any) -> None:
        """A refused upload is a SyncError naming the file and the
        reason."""
        handler, _ = _media_shop(refuse=True)
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            with pytest.raises(SyncError, match=r"logo\.PNG.*bad type"):
                await shop.upload_media(_staged(tmp_path))

    @pytest.mark.parametrize(
        ("data_type", "target", "words"),
        [
            ("ARTICLES", (None,), "no Vendure id"),
            ("ARTICLES", ("99",), "product 99 is gone"),
            ("CATEGORIES", ("77",), "has no collection"),
            ("CATEGORIES", ("10",), "cannot attach media to N: nope"),
            ("STOCK", ("1",), "media for articles and categories"),
        ],
    )
    async def test_attach_errors(
        self, data_type: str, target: tuple[str | None], words: str
    ) -> None:
        """What cannot be attached says why."""
        handler, _ = _media_shop()
        link = MediaLink(media_id="7", sha256="ab" * 32, position=0)
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            with pytest.raises(EcomsyncError, match=words):
                await shop.attach_media(
                    DataType[data_type],
                    Outcome(number="N", platform_id=target[0]),
                    [link],
                )
