"""
The Vendure adapter's GraphQL transport without a server: Vendure's
answers become the library's errors, retries follow the shared policy,
and a username and password log in and renew a bearer session.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync._http import MaybeApplied
from ecomsync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    RetryableError,
    SyncError,
)
from ecomsync.platforms.vendure._client import GraphQL, GraphQLFailure

from ._vendure import FORBIDDEN, Handler, query_of


pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_waits")]


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
            query = query_of(request)
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
                    json={"data": None, "errors": [{**FORBIDDEN}]},
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
            if busy and "login(" in query_of(request):
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

    async def test_a_list_above_the_servers_limit_names_the_setting(
        self,
    ) -> None:
        """A page refused for its size (a server whose adminListQueryLimit
        is below 1,000) fails naming the setting and the size to set."""
        gql, _ = _gql(
            lambda _: httpx.Response(
                200,
                json={
                    "data": None,
                    "errors": [
                        {
                            # ListQueryBuilder.parseTakeSkipParams, en.json
                            "message": "Cannot take more than 500 results "
                            "from a list query",
                            "extensions": {"code": "USER_INPUT_ERROR"},
                            "path": ["orders"],
                        }
                    ],
                },
            )
        )

        with pytest.raises(GraphQLFailure) as failed:
            await gql.query(
                "{ orders(options: { take: 1000 }) { totalItems } }"
            )

        assert "adminListQueryLimit" in str(failed.value)
        assert "1000 or more" in str(failed.value)
