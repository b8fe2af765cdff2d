"""
The one HTTP layer (`ecomsync._http`): error map, ``Retry-After``, retry
policy, deadline, URL check and the client that combines them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import attrs
import httpx
import pytest
import stamina

from ecomsync._http import (
    HttpClient,
    MaybeApplied,
    RetryPolicy,
    _cookie_jar,
    aiohttp_pool,
    build_request,
    parse_retry_after,
    retry_after,
    status_error,
    transport_errors,
)
from ecomsync._http_aiohttp import _Body, bytes_headers
from ecomsync._urls import check_url, public_url
from ecomsync.exceptions import ConfigurationError, RetryableError, SyncError

from ._retries import fast_retries


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("header", "seconds"),
        [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), (None, None), ("soon", None)],
    )
    def test_parses_seconds(
        self, header: str | None, seconds: float | None
    ) -> None:
        """
        Delta-seconds are read, negatives clamp to zero, garbage is None.
        """
        wait = parse_retry_after(header)

        assert seconds == (None if wait is None else wait.total_seconds())

    def test_parses_http_date(self) -> None:
        """
        An HTTP date is turned into the wait from now.
        """
        now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

        wait = parse_retry_after("Sun, 01 Nov 2026 12:00:30 GMT", now=now)

        assert timedelta(seconds=30) == wait


class TestHttpClient:
    async def test_retries_429_then_succeeds(self) -> None:
        """
        A 429 is retried; the eventual answer is returned.
        """
        calls = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            if len(calls) < 3:
                return httpx.Response(429, headers={"Retry-After": "9999"})
            return httpx.Response(200, json={"ok": True})

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        response = await http.request("GET", "/a")

        assert response.status_code == 200
        assert len(calls) == 3
        await http.aclose()

    async def test_gives_up_with_retryable_error(self) -> None:
        """
        A 503 that never ends becomes RetryableError after the attempts.
        """
        http = HttpClient(
            "http://x",
            transport=httpx.MockTransport(lambda r: httpx.Response(503)),
        )

        with pytest.raises(RetryableError, match="HTTP 503"):
            await http.request("GET", "/a")
        await http.aclose()

    async def test_post_answered_bare_503_is_sent_once(self) -> None:
        """
        A POST a proxy answered 503 without Retry-After is not sent again
        unlooked: the origin may have got it.
        """
        calls = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            return httpx.Response(503)

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))

        with pytest.raises(MaybeApplied, match="HTTP 503"):
            await http.request("POST", "/notes", json={"note": "x"})
        assert len(calls) == 1
        await http.aclose()

    async def test_connection_errors_translate(self) -> None:
        """
        A reset becomes RetryableError, chained to httpx's exception.
        """

        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadError("reset", request=request)

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))

        with pytest.raises(RetryableError) as info:
            await http.request("GET", "/a")
        assert isinstance(info.value.__cause__, httpx.ReadError)
        await http.aclose()

    async def test_deadline_bounds_a_slow_answer(self) -> None:
        """
        An answer slower than the deadline is a retryable timeout.
        """

        async def handler(request: httpx.Request) -> httpx.Response:
            await anyio.sleep(5)
            return httpx.Response(200)

        http = HttpClient(
            "http://x", transport=httpx.MockTransport(handler), deadline=0.05
        )

        with (
            anyio.fail_after(3),
            pytest.raises(RetryableError, match=r"0\.05"),
        ):
            await http.request("GET", "/a")
        await http.aclose()

    async def test_concurrency_is_capped(self) -> None:
        """
        No more requests are in flight than the cap allows.
        """
        active = peak = 0

        async def handler(request: httpx.Request) -> httpx.Response:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await anyio.sleep(0.01)
            active -= 1
            return httpx.Response(200)

        http = HttpClient(
            "http://x", transport=httpx.MockTransport(handler), concurrency=3
        )
        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(http.request, "GET", "/a")

        assert peak == 3
        await http.aclose()

    async def test_cookies_are_kept_and_sent_back(self) -> None:
        """
        A cookie the server sets is sent with the next requests; answers
        without one leave the jar as it is, as httpx's own jar does.
        """
        sent: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers.get("cookie"))
            if request.url.path == "/login":
                return httpx.Response(200, headers={"Set-Cookie": "s=1"})
            return httpx.Response(200)

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        await http.request("GET", "/a")
        await http.request("GET", "/login")
        await http.request("GET", "/b")
        await http.request("GET", "/c")
        jar = dict(http.client.cookies)
        await http.aclose()

        assert [None, None, "s=1", "s=1"] == sent
        assert {"s": "1"} == jar

    async def test_cookies_a_host_assigns_are_used(self) -> None:
        """
        Cookies assigned to the httpx client are sent, and a cookie the
        server sets then still lands in the jar.
        """
        sent: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers.get("cookie"))
            return httpx.Response(200, headers={"Set-Cookie": "t=2"})

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        http.client.cookies = {"h": "0"}
        await http.request("GET", "/a")
        jar = dict(http.client.cookies)
        await http.aclose()

        assert ["h=0"] == sent
        assert {"h": "0", "t": "2"} == jar

    async def test_cookie_jar_is_swapped_once(self) -> None:
        """
        The jar and its cookies are kept when the client's jar is already
        the cookie-skipping one.
        """
        http = HttpClient("http://x", transport=httpx.MockTransport(ok))
        http.client.cookies.set("k", "v")
        jar = http.client.cookies

        _cookie_jar(http.client)

        assert jar is http.client.cookies
        assert {"k": "v"} == dict(http.client.cookies)
        await http.aclose()

    def test_cookie_jar_without_httpx_internals(self) -> None:
        """
        A client without httpx's private jar attribute (another httpx
        version) is left as it is.
        """

        class Client:
            pass

        client = Client()
        _cookie_jar(client)  # type: ignore[arg-type]

        assert not hasattr(client, "_cookies")


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


class TestBuildRequest:
    """
    build_request: the request httpx's client would build, without
    parsing plain URLs.
    """

    @pytest.mark.parametrize(
        ("base", "url", "params"),
        [
            ("http://shop.test", "/api/_action/sync", None),
            ("http://shop.test", "api/search/product", {}),
            (
                "http://shop.test:8000/shop/",
                "/api/_action/media/ab12/upload",
                {"extension": "jpg", "fileName": "a" * 64},
            ),
            ("https://shop.test/x", "/v1.2/products", {"page": "2"}),
            # Not plain: httpx builds them.
            ("http://shop.test", "/api/../admin", None),
            ("http://shop.test", "/api/search?limit=1", None),
            ("http://shop.test", "/a b/ü", {"q": "a&b=c"}),
            ("http://shop.test", "https://other.test/api", None),
            ("http://shop.test", "//other.test/api", None),
            ("http://shop.test/?tenant=1", "/api", {"a": "b"}),
        ],
    )
    def test_same_as_httpx(
        self, base: str, url: str, params: dict[str, str] | None
    ) -> None:
        """The URL, headers, body and timeout are exactly httpx's."""
        client = httpx.AsyncClient(
            base_url=base,
            headers={"Accept": "application/json"},
            timeout=httpx.Timeout(30.0, connect=10.0),
        )
        kwargs = {
            "json": {"a": [1, 2]},
            "params": params,
            "headers": {"Authorization": "Bearer t", "Accept": "x/y"},
        }

        ours = build_request(client, "POST", url, **kwargs)  # type: ignore[arg-type]
        theirs = client.build_request("POST", url, **kwargs)  # type: ignore[arg-type]

        assert str(theirs.url) == str(ours.url)
        assert theirs.headers.multi_items() == ours.headers.multi_items()
        assert theirs.content == ours.content
        assert theirs.extensions == ours.extensions

    @pytest.mark.parametrize("method", ["get", "POST", "put", "DELETE"])
    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"json": {"a": "ü", "b": [1.5, None]}},
            {"json": []},
            {"content": b"\x00" * 300},
            {"content": b""},
            {"content": b"raw", "json": {"ignored": 1}},
        ],
    )
    @pytest.mark.parametrize(
        "headers",
        [
            None,
            {},
            {"Authorization": "Bearer t"},
            {"accept": "x/y", "CONTENT-TYPE": "image/png"},
            {"Content-Length": "3", "Host": "other.test"},
            {"X-Name": "Zoë"},
        ],
    )
    def test_bodies_and_headers_same_as_httpx(
        self,
        method: str,
        body: dict[str, Any],
        headers: dict[str, str] | None,
    ) -> None:
        """
        Every header (names as written, in httpx's order) and the body
        are httpx's, for each kind of body and of caller's header.
        """
        client = httpx.AsyncClient(
            base_url="http://shop.test:8080/base",
            headers={"Accept": "application/json", "X-Tenant": "t1"},
        )

        try:
            theirs = client.build_request(
                method, "/api/x", headers=headers, **body
            )
        except UnicodeEncodeError:
            with pytest.raises(UnicodeEncodeError):
                build_request(
                    client, method, "/api/x", headers=headers, **body
                )
            return
        ours = build_request(client, method, "/api/x", headers=headers, **body)

        assert theirs.method == ours.method
        assert theirs.headers.raw == ours.headers.raw
        assert theirs.content == ours.content
        assert str(theirs.url) == str(ours.url)

    @pytest.mark.parametrize(
        "body", [{}, {"json": {"a": 1}}, {"content": b"\x00" * 30}]
    )
    def test_same_request_state_as_httpx(self, body: dict[str, Any]) -> None:
        """
        The request is in the state httpx's constructor leaves (read, its
        stream replayable, headers usable and changeable), attribute by
        attribute.
        """
        client = httpx.AsyncClient(
            base_url="http://shop.test", headers={"Accept": "*/*"}
        )

        ours = build_request(client, "post", "/api/x", **body)
        theirs = client.build_request("post", "/api/x", **body)

        assert set(vars(theirs)) == set(vars(ours))
        assert type(theirs.stream) is type(ours.stream)
        assert list(theirs.stream) == list(ours.stream)
        assert theirs.read() == ours.read()
        assert theirs.method == ours.method
        assert theirs.extensions == ours.extensions
        ours.headers["X-Later"] = "1"
        theirs.headers["X-Later"] = "1"
        assert theirs.headers.raw == ours.headers.raw
        assert theirs.headers.encoding == ours.headers.encoding
        assert "Request('POST', 'http://shop.test/api/x')" in repr(ours)

    def test_a_header_twice_goes_through_httpx(self) -> None:
        """
        A client holding a header twice has both replaced, as by httpx.
        """
        client = httpx.AsyncClient(
            base_url="http://shop.test",
            headers=[("X-A", "1"), ("X-A", "2")],
        )

        ours = build_request(client, "GET", "/x", headers={"x-a": "3"})
        theirs = client.build_request("GET", "/x", headers={"x-a": "3"})

        assert theirs.headers.raw == ours.headers.raw

    def test_without_httpx_url_internals(self) -> None:
        """
        A client whose base URL lacks httpx's parsed reference (another
        httpx version) has its requests built by httpx.
        """
        built = []

        class Client:
            base_url = object()
            cookies = None

            def build_request(self, *args: object, **kwargs: object) -> str:
                built.append(args)
                return "built by httpx"

        request = build_request(Client(), "GET", "/x")  # type: ignore[arg-type]

        assert "built by httpx" == request
        assert [("GET", "/x")] == built

    def test_cookies_go_through_httpx(self) -> None:
        """A client holding cookies sends them, as httpx does."""
        client = httpx.AsyncClient(
            base_url="http://shop.test", cookies={"session": "s1"}
        )

        request = build_request(client, "GET", "/api/x")

        assert "session=s1" == request.headers["cookie"]


class TestRetryAfterHeader:
    def test_reads_the_response_header(self) -> None:
        """
        The header of a response is read in either form.
        """
        now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        dated = httpx.Response(
            429, headers={"Retry-After": "Sun, 01 Nov 2026 12:01:00 GMT"}
        )

        assert timedelta(seconds=60) == retry_after(dated, now=now)
        assert retry_after(httpx.Response(429)) is None

    def test_past_date_and_nonsense(self) -> None:
        """
        A date in the past waits zero; infinities and NaN are ignored.
        """
        now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

        assert timedelta(0) == parse_retry_after(
            "Sun, 01 Nov 2026 11:00:00 GMT", now=now
        )
        assert parse_retry_after("inf") is None
        assert parse_retry_after("nan") is None


class TestStatusError:
    @pytest.mark.parametrize("status", [200, 400, 401, 404, 500])
    def test_other_statuses_are_the_callers(self, status: int) -> None:
        """
        Only the transient statuses become errors.
        """
        assert status_error("GET /a", httpx.Response(status)) is None

    def test_carries_the_wait(self) -> None:
        """
        A 429 carries Retry-After, or the hint when the header is missing.
        """
        with_header = status_error(
            "GET /a", httpx.Response(429, headers={"Retry-After": "3"})
        )
        hinted = status_error(
            "GET /a",
            httpx.Response(429),
            hint=lambda r: timedelta(seconds=7),
        )

        assert with_header is not None
        assert timedelta(seconds=3) == with_header.retry_after
        assert hinted is not None
        assert timedelta(seconds=7) == hinted.retry_after
        assert "GET /a: HTTP 429" == str(hinted)

    def test_ambiguous_write(self) -> None:
        """
        A 502 to a write may have been applied; a 503 with Retry-After was
        not.
        """
        assert isinstance(
            status_error("POST /a", httpx.Response(502), write=True),
            MaybeApplied,
        )
        refused = status_error(
            "POST /a",
            httpx.Response(503, headers={"Retry-After": "2"}),
            write=True,
        )
        assert type(refused) is RetryableError
        assert timedelta(seconds=2) == refused.retry_after

    def test_bare_503_to_a_write_may_have_landed(self) -> None:
        """
        A 503 without Retry-After to a write is looked for before a repeat:
        proxies answer it after the origin got the request.
        """
        error = status_error("POST /a", httpx.Response(503), write=True)

        assert isinstance(error, MaybeApplied)
        assert "POST /a: HTTP 503" == str(error)
        read = status_error("GET /a", httpx.Response(503))
        assert type(read) is RetryableError

    def test_own_statuses(self) -> None:
        """
        A server may declare its own transient statuses.
        """
        error = status_error(
            "x", httpx.Response(500), statuses=frozenset({500})
        )

        assert isinstance(error, RetryableError)


class TestTransportErrors:
    @pytest.mark.parametrize(
        ("exc", "error"),
        [
            (httpx.ConnectError("refused"), RetryableError),
            (httpx.ConnectTimeout("slow"), RetryableError),
            (httpx.ReadTimeout("slow"), RetryableError),
            (httpx.ReadError("reset"), RetryableError),
            (httpx.RemoteProtocolError("closed"), RetryableError),
            (httpx.UnsupportedProtocol("ftp"), SyncError),
            (httpx.TooManyRedirects("loop"), SyncError),
        ],
    )
    def test_maps_httpx_errors(
        self, exc: httpx.HTTPError, error: type[Exception]
    ) -> None:
        """
        Each httpx failure becomes the error the caller can act on,
        chained to the original.
        """
        with pytest.raises(error) as info, transport_errors("GET /a"):
            raise exc

        assert type(info.value) is error
        assert info.value.__cause__ is exc
        assert str(info.value).startswith("GET /a: ")

    @pytest.mark.parametrize(
        "exc",
        [httpx.ReadTimeout("slow"), httpx.ReadError("reset"), TimeoutError()],
    )
    async def test_unsure_write(self, exc: Exception) -> None:
        """
        A write that broke after sending may have landed.
        """
        with (
            pytest.raises(MaybeApplied),
            transport_errors("POST /a", deadline=1, write=True),
        ):
            raise exc

    def test_refused_write_is_plainly_retryable(self) -> None:
        """
        A write that never reached the server is safe to repeat.
        """
        with (
            pytest.raises(RetryableError) as info,
            transport_errors("POST /a", write=True),
        ):
            raise httpx.ConnectError("refused")

        assert not isinstance(info.value, MaybeApplied)

    async def test_deadline(self) -> None:
        """
        The block is bounded by the deadline, named in the message.
        """
        with (
            pytest.raises(RetryableError, match=r"within 0\.01 s"),
            transport_errors("GET /a", deadline=0.01),
        ):
            await anyio.sleep(5)

    async def test_timeout_without_a_deadline(self) -> None:
        """
        A timeout raised inside a block without a deadline is retryable,
        not a formatting error about the missing deadline.
        """
        with (
            pytest.raises(RetryableError, match=r"timed out") as info,
            transport_errors("GET /a"),
        ):
            with anyio.fail_after(0.01):
                await anyio.sleep(5)

        assert isinstance(info.value.__cause__, TimeoutError)

    def test_names_a_request_without_its_query(self) -> None:
        """
        A request given instead of a name is named by method and path,
        never by its query.
        """
        request = httpx.Request("POST", "http://x/a/b?token=canary")

        with (
            pytest.raises(RetryableError) as info,
            transport_errors(request),
        ):
            raise httpx.ReadError("reset")

        assert str(info.value).startswith("POST /a/b: connection failed")
        assert "canary" not in str(info.value)

    async def test_outer_cancellation_passes(self) -> None:
        """
        A cancellation from outside the block is neither a timeout nor
        translated: the outer scope catches it.
        """
        with anyio.CancelScope() as outer:
            with transport_errors("GET /x", deadline=30):
                outer.cancel()
                await anyio.sleep(5)

        assert outer.cancelled_caught

    async def test_other_errors_pass_unchanged(self) -> None:
        """
        What is not a transport failure leaves the block as it is, with or
        without a deadline.
        """
        for deadline in (None, 30.0):
            with (
                pytest.raises(KeyError, match="k"),
                transport_errors("GET /x", deadline=deadline),
            ):
                raise KeyError("k")

    async def test_deadline_chains_a_timeout(self) -> None:
        """
        An expired deadline is chained to a TimeoutError, as
        ``anyio.fail_after`` raises it; a write's is MaybeApplied.
        """
        with (
            pytest.raises(MaybeApplied, match=r"within 0\.01 s") as info,
            transport_errors("POST /x", deadline=0.01, write=True),
        ):
            await anyio.sleep(5)

        assert isinstance(info.value.__cause__, TimeoutError)

    async def test_connect_reason_names_the_os_error(self) -> None:
        """
        A refused connection says why, in the operating system's words.
        """
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        async with httpx.AsyncClient() as client:
            with (
                pytest.raises(RetryableError) as info,
                transport_errors("GET /"),
            ):
                await client.get(f"http://127.0.0.1:{port}/")

        assert "cannot connect" in str(info.value)
        assert "refused" in str(info.value).lower()


class TestRetryPolicy:
    def test_backoff(self) -> None:
        """
        Retryable errors are retried, a server's wait is clamped, a
        possibly applied write and other errors are not retried.
        """
        policy = RetryPolicy(max_retry_after=60.0)

        assert policy.backoff(RetryableError("x")) is True
        assert 60.0 == policy.backoff(
            RetryableError("x", retry_after=timedelta(hours=5))
        )
        assert 2.0 == policy.backoff(
            RetryableError("x", retry_after=timedelta(seconds=2))
        )
        assert policy.backoff(MaybeApplied("x")) is False
        assert policy.backoff(SyncError("x")) is False

    async def test_call_retries_until_success(self) -> None:
        """
        ``call`` repeats a transient failure and returns the result.
        """
        calls = 0

        async def flaky() -> str:
            nonlocal calls
            calls += 1
            if calls < 3:
                raise RetryableError("busy")
            return "ok"

        assert "ok" == await RetryPolicy().call(flaky)
        assert 3 == calls

    async def test_maybe_applied_is_not_repeated(self) -> None:
        """
        A possibly applied write goes back to the caller at once.
        """
        calls = 0

        async def write() -> None:
            nonlocal calls
            calls += 1
            raise MaybeApplied("unsure")

        with pytest.raises(MaybeApplied):
            await RetryPolicy().call(write)
        assert 1 == calls

    async def test_first_failure_is_the_loops_first_attempt(self) -> None:
        """
        The first attempt runs before the retry loop, yet counts as one of
        its attempts and is followed by the server's wait, as stamina
        reports it to its retry hooks.
        """
        calls = 0
        retries: list[tuple[int, float]] = []

        async def busy() -> None:
            nonlocal calls
            calls += 1
            raise RetryableError("busy", retry_after=timedelta(seconds=0.01))

        stamina.instrumentation.set_on_retry_hooks(
            [lambda d: retries.append((d.retry_num, d.wait_for))]
        )
        try:
            with stamina.set_testing(False), pytest.raises(RetryableError):
                await RetryPolicy(attempts=3).call(busy)
        finally:
            stamina.instrumentation.set_on_retry_hooks(None)

        assert 3 == calls
        assert [(1, 0.01), (2, 0.01)] == retries

    async def test_first_attempt_counts_against_the_timeout(self) -> None:
        """
        A first attempt that used up the policy's timeout is not repeated.
        """
        calls = 0

        async def slow() -> None:
            nonlocal calls
            calls += 1
            await anyio.sleep(0.1)
            raise RetryableError("busy", retry_after=timedelta(0))

        with stamina.set_testing(False), pytest.raises(RetryableError):
            await RetryPolicy(timeout=0.05).call(slow)

        assert 1 == calls

    async def test_retries_without_a_timeout(self) -> None:
        """
        A policy without a timeout retries a first failure too.
        """
        calls = 0

        async def flaky() -> str:
            nonlocal calls
            calls += 1
            if calls < 2:
                raise RetryableError("busy")
            return "ok"

        assert "ok" == await RetryPolicy(timeout=None).call(flaky)
        assert 2 == calls

    async def test_other_errors_are_not_repeated(self) -> None:
        """
        A first failure the policy does not retry is raised as it is.
        """
        calls = 0

        async def broken() -> None:
            nonlocal calls
            calls += 1
            raise SyncError("bad")

        with pytest.raises(SyncError, match="bad"):
            await RetryPolicy().call(broken)
        assert 1 == calls


class TestCheckUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "http://user:canary-pw@shop.test",
            "https://canary-pw@shop.test/api",
            "https://user:canary-pw@shop.test:8443/",
        ],
    )
    def test_refuses_user_info_without_echoing_it(self, url: str) -> None:
        """
        Credentials in a URL are refused and never repeated.
        """
        with pytest.raises(ConfigurationError) as info:
            check_url(url, what="Shopware6 url")

        assert "canary-pw" not in str(info.value)
        assert "canary-pw" not in repr(info.value)
        assert info.value.__cause__ is None
        assert "user info" in str(info.value)

    @pytest.mark.parametrize(
        "url", ["shop.test", "ftp://shop.test", "http://"]
    )
    def test_refuses_non_http(self, url: str) -> None:
        """
        Only absolute http(s) URLs are accepted.
        """
        with pytest.raises(ConfigurationError):
            check_url(url, what="url")

    def test_accepts_plain(self) -> None:
        """
        A plain URL is returned unchanged.
        """
        assert "https://shop.test/x" == check_url(
            "https://shop.test/x", what="url"
        )


class TestPublicUrl:
    def test_strips_credentials_and_query(self) -> None:
        """
        User info, query and fragment never reach a message.
        """
        url = "https://u:canary@shop.test:8443/api?key=canary#canary"

        assert "https://shop.test:8443/api" == public_url(url)

    def test_invalid(self) -> None:
        """
        An unparsable URL is not repeated either.
        """
        assert "<invalid URL>" == public_url("http://[::1")


class TestPools:
    @pytest.fixture(name="url")
    def _url(self) -> Iterator[str]:
        from ecomsync.testing.shopware6 import ShopwareEmulator, serve

        emu = ShopwareEmulator(client_id="SWIAPOOL", client_secret="pool")
        with serve(emu) as url:
            yield url

    @pytest.mark.parametrize("pool", ["httpx", "aiohttp", "auto"])
    async def test_each_pool_talks_to_a_real_socket(
        self, url: str, pool: str
    ) -> None:
        """
        Every pool sends and reads requests over loopback, bodies included.
        """
        http = HttpClient(url, pool=pool)

        token = await http.request(
            "POST",
            "/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": "SWIAPOOL",
                "client_secret": "pool",
            },
        )
        refused = await http.request("GET", "/api/_info/version")
        await http.aclose()

        assert 200 == token.status_code
        assert token.json()["access_token"]
        assert 401 == refused.status_code

    async def test_auto_is_aiohttp_on_asyncio(self) -> None:
        """
        On asyncio, with the extra installed, "auto" takes aiohttp's pool.
        """
        http = HttpClient("http://127.0.0.1:9", pool="auto")
        forced = HttpClient("http://127.0.0.1:9", pool="httpx")

        chosen = type(http.client._transport).__name__
        kept = type(forced.client._transport).__name__
        await http.aclose()
        await forced.aclose()

        assert "AiohttpPool" == chosen
        assert "AsyncHTTPTransport" == kept

    @pytest.mark.parametrize("anyio_backend", ["trio"])
    async def test_trio_keeps_httpx(self, url: str) -> None:
        """
        aiohttp is asyncio-only: on trio "auto" is httpx's pool, and it
        works.
        """
        http = HttpClient(url, pool="auto")

        response = await http.request("GET", "/api/_info/version")
        name = type(http.client._transport).__name__
        await http.aclose()

        assert 401 == response.status_code
        assert "AsyncHTTPTransport" == name

    @pytest.mark.parametrize("pool", ["httpx", "aiohttp"])
    async def test_refused_connection_names_the_reason(
        self, pool: str
    ) -> None:
        """
        Both pools report a refused connection as retryable, with the
        operating system's reason.
        """
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        http = HttpClient(f"http://127.0.0.1:{port}", pool=pool)

        with pytest.raises(RetryableError) as info:
            await http.request("GET", "/", retry=False)
        await http.aclose()

        assert "cannot connect" in str(info.value)
        assert "ConnectionRefusedError" in str(info.value)

    def test_unknown_pool(self) -> None:
        """
        A pool name that does not exist is refused.
        """
        with pytest.raises(ValueError, match="pool must be one of"):
            HttpClient("http://x", pool="curl")

    def test_no_aiohttp_without_a_loop(self) -> None:
        """
        Outside an event loop there is no aiohttp pool to make.
        """
        assert aiohttp_pool(verify=True, limits=httpx.Limits()) is None


class TestDirectSend:
    """
    HttpClient calls its transport directly where httpx's client would add
    nothing, and through ``client.send`` where a host added something.
    """

    async def test_answer_is_what_send_gives(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """
        The answer carries its request, body, elapsed time and cookies,
        and httpx's log record is written, as through ``client.send``.
        """
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(
                200, json={"ok": 1}, headers={"Set-Cookie": "s=1"}
            )

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        with caplog.at_level("INFO", logger="httpx"):
            response = await http.request("POST", "/a", json={"q": 1})
        jar = dict(http.client.cookies)
        await http.aclose()

        assert seen == [response.request]
        assert {"ok": 1} == response.json()
        assert response.elapsed.total_seconds() >= 0
        assert {"s": "1"} == jar
        assert [
            'HTTP Request: POST http://x/a "HTTP/1.1 200 OK"'
        ] == caplog.messages

    async def test_request_errors_carry_the_request(self) -> None:
        """
        A transport error raised on the direct path names its request.
        """

        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadError("reset")

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        with pytest.raises(RetryableError) as info:
            await http.request("GET", "/a", retry=False)
        await http.aclose()

        cause = info.value.__cause__
        assert isinstance(cause, httpx.ReadError)
        assert "/a" == cause.request.url.path

    async def test_a_failed_read_closes_the_answer(self) -> None:
        """
        A body that breaks while read closes the response and is a
        retryable error.
        """
        closed = []

        class Broken(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                yield b"x"
                raise httpx.ReadError("reset")

            async def aclose(self) -> None:
                closed.append(True)

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=Broken())

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        with pytest.raises(RetryableError, match="connection failed"):
            await http.request("GET", "/a", retry=False)
        await http.aclose()

        assert [True] == closed

    async def test_hooks_of_the_host_run(self) -> None:
        """
        Event hooks a host adds to the httpx client see every request and
        answer.
        """
        seen: list[str] = []

        async def on_request(request: httpx.Request) -> None:
            seen.append(f"> {request.url.path}")

        async def on_response(response: httpx.Response) -> None:
            seen.append(f"< {response.status_code}")

        http = HttpClient("http://x", transport=httpx.MockTransport(ok))
        http.client.event_hooks = {
            "request": [on_request],
            "response": [on_response],
        }
        await http.request("GET", "/a")
        await http.aclose()

        assert ["> /a", "< 200"] == seen

    async def test_auth_of_the_host_is_applied(self) -> None:
        """
        An auth a host sets on the httpx client signs the request.
        """
        sent: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers.get("authorization"))
            return httpx.Response(200)

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        http.client.auth = ("u", "p")
        await http.request("GET", "/a")
        await http.aclose()

        assert [httpx.BasicAuth("u", "p")._auth_header] == sent

    async def test_user_info_in_an_absolute_url_is_applied(self) -> None:
        """
        User info in an absolute request URL becomes basic auth, as httpx
        makes it.
        """
        sent: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers.get("authorization"))
            return httpx.Response(200)

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        await http.request("GET", "http://u:p@x/a")
        await http.aclose()

        assert [httpx.BasicAuth("u", "p")._auth_header] == sent

    async def test_redirects_followed_when_the_host_asks(self) -> None:
        """
        A host that turns on ``follow_redirects`` gets them followed.
        """

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/old":
                return httpx.Response(302, headers={"Location": "/new"})
            return httpx.Response(200, text=request.url.path)

        http = HttpClient("http://x", transport=httpx.MockTransport(handler))
        kept = await http.request("GET", "/old")
        http.client.follow_redirects = True
        followed = await http.request("GET", "/old")
        await http.aclose()

        assert 302 == kept.status_code
        assert "/new" == followed.text

    async def test_closed_httpx_client_is_refused(self) -> None:
        """
        An httpx client a host closed refuses requests, as httpx does.
        """
        http = HttpClient("http://x", transport=httpx.MockTransport(ok))
        await http.client.aclose()

        with pytest.raises(RuntimeError, match="closed"):
            await http.request("GET", "/a")
        await http.aclose()


@attrs.define
class _Echo:
    """
    A loopback ASGI app: sets a cookie on ``/cookie``, answers gzip on
    ``/gzip``, redirects on ``/redirect``, answers after 2 s on ``/slow``,
    breaks off the body on ``/short``, drips its body a byte every 0.1 s
    for 2 s on ``/drip`` (every 0.5 s for 10 s on ``/drip-long``), else
    echoes what it got.
    """

    abort_mode: object = None

    @property
    def app(self) -> object:
        return _echo


async def _drip(send: Any, every: float) -> None:
    # Headers at once, then a byte every *every* seconds: no inactivity
    # timeout trips, only a deadline.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"20")],
        }
    )
    with contextlib.suppress(Exception):  # the client went away
        for n in range(20):
            await anyio.sleep(every)
            await send(
                {
                    "type": "http.response.body",
                    "body": b"x",
                    "more_body": n < 19,
                }
            )


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/slow":
        await anyio.sleep(2)
    if path in ("/drip", "/drip-long"):
        await _drip(send, 0.1 if path == "/drip" else 0.5)
        return
    headers: list[tuple[bytes, bytes]] = []
    if path == "/cookie":
        headers.append((b"set-cookie", b"s=1; Path=/"))
    if path == "/short":
        # Declares more than it sends: the server drops the connection.
        headers.append((b"content-length", b"1000"))
        await send(
            {"type": "http.response.start", "status": 200, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b"x" * 10})
        return
    if path == "/redirect":
        status, answer = 302, b""
        headers.append((b"location", b"/elsewhere"))
    elif path == "/gzip":
        status, answer = 200, gzip.compress(b"unpacked" * 100)
        headers.append((b"content-encoding", b"gzip"))
    else:
        status = 200
        answer = json.dumps(
            {
                "method": scope["method"],
                "path": path,
                "query": scope["query_string"].decode(),
                "headers": [
                    [k.decode(), v.decode()] for k, v in scope["headers"]
                ],
                "body": len(body),
            }
        ).encode()
    headers.append((b"content-length", str(len(answer)).encode()))
    await send(
        {"type": "http.response.start", "status": status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": answer})


class TestAiohttpPool:
    """
    The aiohttp pool under httpx's API: the wire behaviour httpx's own
    pool has.
    """

    @pytest.fixture(name="url")
    def _url(self) -> Iterator[str]:
        from ecomsync.testing._serve import serve_app

        with serve_app(
            _Echo(),
            "echo",
            host="127.0.0.1",
            port=0,
            log_level="warning",
            startup_timeout=10,
        ) as url:
            yield url

    @pytest.fixture(name="http")
    async def _http(self, url: str) -> AsyncIterator[HttpClient]:
        http = HttpClient(url, pool="aiohttp", headers={"X-Tenant": "t1"})
        assert "AiohttpPool" == type(http.client._transport).__name__
        yield http
        await http.aclose()

    async def test_sends_method_url_headers_and_body(
        self, http: HttpClient
    ) -> None:
        """
        Method, encoded path and query, every header once (the client's
        and the request's) and the body arrive as httpx would send them.
        """
        response = await http.request(
            "PUT",
            "/a b/ü",
            content=b"x" * 70_000,
            params={"q": "a&b"},
            headers={"X-Trace": "t"},
        )
        got = response.json()
        names = [k for k, _ in got["headers"]]

        assert "PUT" == got["method"]
        assert "/a b/ü" == got["path"]
        assert "q=a%26b" == got["query"]
        assert 70_000 == got["body"]
        assert ["x-tenant", "t1"] in got["headers"]
        assert ["x-trace", "t"] in got["headers"]
        assert len(names) == len(set(names))
        assert 200 == response.status_code
        assert "OK" == response.reason_phrase

    async def test_streamed_body(self, http: HttpClient) -> None:
        """
        A request body httpx streams is sent whole, without httpx's
        ``Transfer-Encoding`` header twice.
        """

        async def parts() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"y" * 1000

        response = await http.client.post("/stream", content=parts())
        got = response.json()

        assert 3000 == got["body"]
        assert ["transfer-encoding", "chunked"] in got["headers"]

    async def test_gzip_is_decoded_by_httpx(self, http: HttpClient) -> None:
        """
        A compressed answer is unpacked once, by httpx.
        """
        response = await http.request("GET", "/gzip")

        assert b"unpacked" * 100 == response.content

    async def test_plain_answer_read_as_aread_reads_it(
        self, http: HttpClient
    ) -> None:
        """
        An answer without a content encoding is read in one piece, not
        through httpx's stream iterators, and left as ``aread`` leaves
        one: content, consumed, closed, bytes counted, connection free.
        """
        direct = await http.request("GET", "/echo", params={"q": "1"})
        client = http.client
        by_httpx = await client.send(
            client.build_request("GET", "/echo", params={"q": "1"})
        )

        def state(r: httpx.Response) -> tuple[object, ...]:
            return (
                r.content,
                r.json(),
                r.is_stream_consumed,
                r.is_closed,
                r.num_bytes_downloaded,
                r.request.url,
            )

        assert state(by_httpx) == state(direct)
        with pytest.raises(httpx.StreamConsumed):
            async for _ in direct.aiter_raw():
                pass  # pragma: no cover
        saved = httpx.Response.aiter_raw
        try:
            # The one-piece read does not go through httpx's iterators.
            httpx.Response.aiter_raw = None  # type: ignore[assignment]
            again = await http.request("GET", "/echo")
        finally:
            httpx.Response.aiter_raw = saved  # type: ignore[method-assign]
        assert 200 == again.status_code
        assert "/echo" == again.json()["path"]

    async def test_broken_plain_answer_names_the_request(
        self, http: HttpClient
    ) -> None:
        """
        A body broken off while read in one piece is httpx's error with
        the request, as ``aread`` raises it.
        """
        client = http.client
        request = client.build_request("GET", "/short")
        transport = http._transport
        assert transport is not None
        response = await transport.handle_async_request(request)
        response.request = request
        stream = response.stream
        assert isinstance(stream, _Body)
        assert stream.plain

        with pytest.raises(httpx.TransportError) as caught:
            await stream.read_into(response)

        assert caught.value.request is request
        await response.aclose()

    async def test_wrapper_answer_keeps_its_own_headers(
        self, url: str
    ) -> None:
        """
        A host's transport around the pool may answer with headers of its
        own: a cookie it adds is kept, a content encoding it declares is
        decoded (the pool's notes on its own answer do not apply).
        """
        from ecomsync._http_aiohttp import AiohttpPool

        class Wrapper(httpx.AsyncBaseTransport):
            def __init__(self) -> None:
                self.inner = AiohttpPool(verify=True, limits=httpx.Limits())

            async def handle_async_request(
                self, request: httpx.Request
            ) -> httpx.Response:
                inner = await self.inner.handle_async_request(request)
                headers = [
                    (k, v)
                    for k, v in inner.headers.raw
                    if k.lower() != b"content-length"
                ]
                headers.append((b"Set-Cookie", b"w=2; Path=/"))
                if request.url.path == "/packed":
                    headers.append((b"Content-Encoding", b"gzip"))
                return httpx.Response(
                    inner.status_code, headers=headers, stream=inner.stream
                )

            async def aclose(self) -> None:
                await self.inner.aclose()

        http = HttpClient(
            url.replace("127.0.0.1", "localhost"), transport=Wrapper()
        )
        try:
            await http.request("GET", "/echo")
            kept = dict(http.client.cookies)
            with pytest.raises(SyncError):
                # Not gzip at all: httpx's decoder says so.
                await http.request("GET", "/packed", retry=False)
        finally:
            await http.aclose()

        assert {"w": "2"} == kept

    async def test_header_not_ascii_sent_as_utf8(
        self, http: HttpClient
    ) -> None:
        """
        A header httpx holds as UTF-8 bytes reaches the server as such.
        """
        client = http.client
        request = client.build_request(
            "GET", "/echo", headers={"X-Name": "café".encode()}
        )
        response = await client.send(request)

        assert ["x-name", "café"] in response.json()["headers"]

    async def test_redirects_are_left_to_httpx(self, http: HttpClient) -> None:
        """
        aiohttp follows no redirect: the 302 comes back as it is.
        """
        response = await http.request("GET", "/redirect")

        assert 302 == response.status_code
        assert "/elsewhere" == response.headers["location"]

    async def test_cookies_live_in_httpx_only(self, url: str) -> None:
        """
        A server's cookie is kept by httpx's jar, and gone once the host
        clears that jar (aiohttp keeps no second jar; its own keeps no
        cookie of an IP address, hence a host name).
        """
        http = HttpClient(
            url.replace("127.0.0.1", "localhost"), pool="aiohttp"
        )
        await http.request("GET", "/cookie")
        kept = dict(http.client.cookies)
        sent = (await http.request("GET", "/echo")).json()["headers"]
        http.client.cookies.clear()
        cleared = (await http.request("GET", "/echo")).json()["headers"]
        await http.aclose()

        assert {"s": "1"} == kept
        assert ["cookie", "s=1"] in sent
        assert not [h for h in cleared if h[0] == "cookie"]

    async def test_streamed_answer(self, http: HttpClient) -> None:
        """
        A host streaming through the httpx client reads the body.
        """
        async with http.client.stream("GET", "/gzip") as response:
            body = b"".join([part async for part in response.aiter_bytes()])

        assert b"unpacked" * 100 == body

    async def test_body_broken_off(self, http: HttpClient) -> None:
        """
        A body the server breaks off is a retryable connection failure.
        """
        with pytest.raises(RetryableError, match="connection failed"):
            await http.request("GET", "/short", retry=False)

    async def test_connection_limit_follows_httpx_limits(self) -> None:
        """
        aiohttp's connector is bounded by httpx's ``max_connections``, and
        unbounded where httpx's is.
        """
        from ecomsync._http_aiohttp import AiohttpPool

        limits = [httpx.Limits(max_connections=n) for n in (7, None)]
        pools = [AiohttpPool(verify=True, limits=lim) for lim in limits]
        sessions = [pool._new_session() for pool in pools]
        found = [session.connector.limit for session in sessions]
        for session in sessions:
            await session.close()

        assert [7, 0] == found

    async def test_failed_release_is_httpx_error(self) -> None:
        """
        An aiohttp error while the answer is released becomes httpx's.
        """
        import aiohttp
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        from ecomsync._http_aiohttp import _Body

        class Answer:
            async def __aexit__(self, *exc: object) -> None:
                raise aiohttp.ClientPayloadError("broken")

        with pytest.raises(httpx.ReadError, match="broken"):
            await _Body(Answer(), map_aiohttp_exceptions).aclose()

    async def test_deadline_bounds_a_dripping_body(self, url: str) -> None:
        """
        The deadline bounds an exchange over aiohttp's pool, its body
        included: an answer whose body drips in slower than the deadline
        is a retryable timeout naming the deadline, after about that long.
        """
        http = HttpClient(url, pool="aiohttp", deadline=0.5)
        try:
            started = anyio.current_time()
            with pytest.raises(
                RetryableError, match=r"no complete answer within 0\.5 s"
            ) as info:
                await http.request("GET", "/drip", retry=False)
            assert anyio.current_time() - started < 1.5
            assert not isinstance(info.value, MaybeApplied)
            # the pool goes on serving
            answer = await http.request("GET", "/a", retry=False)
            assert 200 == answer.status_code
        finally:
            await http.aclose()

    async def test_a_long_deadline_is_kept_to_the_moment(
        self, url: str
    ) -> None:
        """
        A deadline of 5 s or more over aiohttp's pool ends the exchange
        when it runs out, not at the loop's next whole second (aiohttp
        rounds such timeouts up by default).
        """
        # Ends 0.05 s after a whole second of the loop's clock: rounded
        # up, it would fire ~0.95 s late.
        now = asyncio.get_running_loop().time()
        deadline = 5 + (1.05 - now % 1) % 1
        http = HttpClient(url, pool="aiohttp", deadline=deadline)
        try:
            started = anyio.current_time()
            with pytest.raises(RetryableError, match="no complete answer"):
                await http.request("GET", "/drip-long", retry=False)
            assert anyio.current_time() - started < deadline + 0.5
        finally:
            await http.aclose()

    async def test_deadline_of_a_write(self, url: str) -> None:
        """
        A write over aiohttp's pool whose answer outlives its deadline
        may have landed: `MaybeApplied`, naming the call's own deadline.
        """
        http = HttpClient(url, pool="aiohttp")
        try:
            with pytest.raises(MaybeApplied, match=r"within 0\.3 s"):
                await http.request(
                    "POST", "/slow", json={}, deadline=0.3, retry=False
                )
        finally:
            await http.aclose()

    async def test_read_timeout(self, url: str) -> None:
        """
        httpx's timeouts reach aiohttp: an answer slower than the read
        timeout is a retryable timeout.
        """
        http = HttpClient(
            url, pool="aiohttp", timeout=httpx.Timeout(5.0, read=0.2)
        )
        try:
            with pytest.raises(RetryableError, match="timed out"):
                await http.request("GET", "/slow", retry=False)
        finally:
            await http.aclose()


class TestBytesHeaders:
    """bytes_headers: httpx's Headers for pairs that are bytes already."""

    @pytest.mark.parametrize(
        "rows",
        [
            [],
            [(b"Host", b"shop.test"), (b"Accept", b"*/*")],
            [(b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2")],
            [(b"X-Name", "Zoë".encode())],
            [(b"X-Name", "Zoë".encode("latin-1"))],
        ],
    )
    def test_same_as_httpx(self, rows: list[tuple[bytes, bytes]]) -> None:
        """Every view of the headers (raw, decoded, looked up without
        case, encoding, equality) is what httpx's constructor gives."""
        ours = bytes_headers(rows)
        theirs = httpx.Headers(rows)

        assert theirs.raw == ours.raw
        assert theirs.multi_items() == ours.multi_items()
        assert theirs.encoding == ours.encoding
        assert theirs == ours
        for key, _ in rows:
            assert theirs.get_list(key.decode().upper()) == ours.get_list(
                key.decode().upper()
            )

    def test_request_copies_them(self) -> None:
        """A request made with them holds its own copy: changing it does
        not change the headers it was made with, nor the other way."""
        headers = bytes_headers([(b"Accept", b"*/*")])
        request = httpx.Request(
            "GET",
            "http://shop.test/",
            headers=headers,
            stream=httpx.ByteStream(b""),
        )
        request.headers["X-Trace"] = "t"
        headers["Accept"] = "x/y"

        assert [(b"Accept", b"*/*"), (b"X-Trace", b"t")] == request.headers.raw
        assert [(b"Accept", b"x/y")] == headers.raw
