"""
The one HTTP layer (`ecomsync._http`): error map, ``Retry-After``, retry
policy, deadline, URL check and the client that combines them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import anyio
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
    check_url,
    parse_retry_after,
    public_url,
    retry_after,
    status_error,
    transport_errors,
)
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
        A 502 to a write may have been applied; a 503 was not.
        """
        assert isinstance(
            status_error("POST /a", httpx.Response(502), write=True),
            MaybeApplied,
        )
        refused = status_error("POST /a", httpx.Response(503), write=True)
        assert type(refused) is RetryableError

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

        assert "AiohttpTransport" == chosen
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
