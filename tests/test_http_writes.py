"""
Writes through the one HTTP layer (`ecomsync._http`): a request that is
not idempotent is sent again only where it cannot have landed, or after
its caller looked and did not find it (``RetryPolicy.call(confirm=...)``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from ecomsync._http import HttpClient, MaybeApplied, RetryPolicy
from ecomsync.exceptions import RetryableError, SyncError

from ._retries import fast_retries


pytestmark = pytest.mark.anyio

_fast_retries = fast_retries(4)

Handler = Callable[[httpx.Request], httpx.Response]


def _lost_once(
    sent: list[httpx.Request], fail: Callable[[httpx.Request], httpx.Response]
) -> Handler:
    """
    A shop that records every request it gets (*sent*) and answers the
    first one with *fail* (which may raise), the others with 201.
    """

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            return fail(request)
        return httpx.Response(201, json={"id": len(sent)})

    return handler


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("answer lost", request=request)


def _reset(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("server disconnected", request=request)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _pool_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.PoolTimeout("no connection free", request=request)


def _status(status: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, headers={"Retry-After": "0"})


def _bare(status: int) -> Callable[[httpx.Request], httpx.Response]:
    # no Retry-After: what a proxy answers when the origin was too slow
    return lambda request: httpx.Response(status)


async def _send(
    handler: Handler,
    method: str,
    *,
    json: object = None,
    idempotent: bool | None = None,
) -> int:
    async with HttpClient(
        "http://shop.test", transport=httpx.MockTransport(handler)
    ) as http:
        response = await http.request(
            method, "/notes", json=json, idempotent=idempotent
        )
    return response.status_code


class TestNotIdempotent:
    @pytest.mark.parametrize(
        "fail",
        [_read_timeout, _reset, _status(502), _status(504), _bare(503)],
        ids=["read-timeout", "reset", "502", "504", "bare-503"],
    )
    @pytest.mark.parametrize("method", ["POST", "PATCH"])
    async def test_a_write_that_may_have_landed_is_not_sent_again(
        self, method: str, fail: Callable[[httpx.Request], httpx.Response]
    ) -> None:
        """
        A POST or PATCH whose answer was lost (a timeout or reset after
        sending, a 502 or 504, or a 503 without Retry-After, a proxy gives
        after the shop got it) is sent once: MaybeApplied, for the caller
        to look, not a second note.
        """
        sent: list[httpx.Request] = []

        with pytest.raises(MaybeApplied):
            await _send(_lost_once(sent, fail), method, json={"note": "T-1"})

        assert 1 == len(sent)

    @pytest.mark.parametrize(
        "fail",
        [_refused, _pool_timeout, _status(429), _status(503)],
        ids=["refused", "pool-timeout", "429", "503-retry-after"],
    )
    async def test_a_write_that_never_reached_the_shop_is_sent_again(
        self, fail: Callable[[httpx.Request], httpx.Response]
    ) -> None:
        """
        A POST that failed before the shop processed it (no connection,
        429 or 503 with Retry-After: try again later) is sent again.
        """
        sent: list[httpx.Request] = []

        status = await _send(_lost_once(sent, fail), "POST", json={})

        assert 201 == status
        assert 2 == len(sent)

    @pytest.mark.parametrize(
        ("method", "idempotent"),
        [("GET", None), ("PUT", None), ("DELETE", None), ("POST", True)],
    )
    async def test_an_idempotent_request_is_sent_again(
        self, method: str, idempotent: bool | None
    ) -> None:
        """
        A request idempotent by its method, or a POST its caller declares
        idempotent (an upsert by id), is repeated after a lost answer.
        """
        sent: list[httpx.Request] = []

        status = await _send(
            _lost_once(sent, _read_timeout), method, idempotent=idempotent
        )

        assert 201 == status
        assert 2 == len(sent)

    async def test_a_get_declared_a_write_is_not_sent_again(self) -> None:
        """
        ``idempotent=False`` overrides the method.
        """
        sent: list[httpx.Request] = []

        with pytest.raises(MaybeApplied):
            await _send(_lost_once(sent, _reset), "GET", idempotent=False)

        assert 1 == len(sent)


class TestConfirm:
    async def test_a_write_found_landed_is_not_sent_again(self) -> None:
        """
        After a lost answer the caller's look finds the write: its answer
        is the result, and the write went out once.
        """
        sends = looks = 0

        async def send() -> str:
            nonlocal sends
            sends += 1
            raise MaybeApplied("POST /notes: timed out")

        async def found() -> str | None:
            nonlocal looks
            looks += 1
            return "note 7"

        assert "note 7" == await RetryPolicy().call(send, confirm=found)
        assert (1, 1) == (sends, looks)

    async def test_a_write_not_found_is_sent_again(self) -> None:
        """
        A look that finds nothing lets the write go out once more.
        """
        sends: list[str] = []

        async def send() -> str:
            sends.append("sent")
            if len(sends) == 1:
                raise MaybeApplied("POST /notes: HTTP 502")
            return "made"

        async def found() -> str | None:
            return None

        assert "made" == await RetryPolicy().call(send, confirm=found)
        assert 2 == len(sends)

    async def test_no_look_after_a_failure_before_the_shop(self) -> None:
        """
        A failure that proves the write never arrived (429) is retried
        without a look.
        """
        sends = looks = 0

        async def send() -> str:
            nonlocal sends
            sends += 1
            if sends == 1:
                raise RetryableError("POST /notes: HTTP 429")
            return "made"

        async def found() -> str | None:
            nonlocal looks
            looks += 1
            return None

        assert "made" == await RetryPolicy().call(send, confirm=found)
        assert (2, 0) == (sends, looks)

    async def test_a_failed_look_is_made_again_before_sending(self) -> None:
        """
        A look that fails itself (the shop busy) is repeated: the write
        is never sent again without a look that found nothing.
        """
        events: list[str] = []

        async def send() -> str:
            events.append("send")
            if len(events) == 1:
                raise MaybeApplied("POST /notes: timed out")
            return "made"

        async def found() -> str | None:
            events.append("look")
            if events.count("look") == 1:
                raise RetryableError("GET /notes: HTTP 503")
            return None

        assert "made" == await RetryPolicy().call(send, confirm=found)
        assert ["send", "look", "look", "send"] == events

    async def test_every_lost_answer_is_looked_for(self) -> None:
        """
        Two lost answers in a row: a look before each repeat; the second
        look finds the write.
        """
        events: list[str] = []

        async def send() -> str:
            events.append("send")
            raise MaybeApplied("POST /notes: timed out")

        async def found() -> str | None:
            events.append("look")
            return "note" if events.count("look") == 2 else None

        assert "note" == await RetryPolicy().call(send, confirm=found)
        assert ["send", "look", "send", "look"] == events

    async def test_attempts_end_with_the_unsure_failure(self) -> None:
        """
        A write never confirmed within the attempts raises MaybeApplied.
        """

        async def send() -> str:
            raise MaybeApplied("POST /notes: timed out")

        async def found() -> str | None:
            return None

        with pytest.raises(MaybeApplied):
            await RetryPolicy(attempts=3).call(send, confirm=found)

    async def test_other_errors_are_not_repeated(self) -> None:
        """
        A refusal (SyncError) is the caller's, with or without a look.
        """
        sends = 0

        async def send() -> str:
            nonlocal sends
            sends += 1
            raise SyncError("POST /notes: HTTP 400")

        async def found() -> str | None:
            raise AssertionError("no look after a refusal")

        with pytest.raises(SyncError):
            await RetryPolicy().call(send, confirm=found)
        assert 1 == sends

    async def test_through_the_client(self) -> None:
        """
        `HttpClient.request` without retries inside ``policy.call`` with
        a look: a POST whose answer was lost and that landed is sent once.
        """
        sent: list[httpx.Request] = []
        handler = _lost_once(sent, _read_timeout)
        async with HttpClient(
            "http://shop.test", transport=httpx.MockTransport(handler)
        ) as http:

            async def send() -> int:
                response = await http.request(
                    "POST", "/notes", json={}, retry=False
                )
                return response.status_code

            async def found() -> int | None:
                return 200 if sent else None

            assert 200 == await http.policy.call(send, confirm=found)

        assert 1 == len(sent)


class _Committing:
    """
    A loopback HTTP server that reads each request whole, counts it as
    applied, then (after *wait_s*) closes the connection unanswered.
    """

    def __init__(self, wait_s: float = 0.0) -> None:
        self.wait_s = wait_s
        self.applied = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                size = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        size = int(value)
                while len(body) < size:
                    body += conn.recv(65536)
                self.applied += 1
                time.sleep(self.wait_s)


@pytest.fixture(name="committing")
def _committing() -> Iterator[_Committing]:
    server = _Committing()
    yield server
    server.sock.close()


class TestPools:
    @pytest.mark.parametrize("pool", ["httpx", "aiohttp"])
    async def test_a_dropped_answer_is_not_taken_for_a_refusal(
        self, pool: str, committing: _Committing
    ) -> None:
        """
        A server that applied a POST and closed the connection without
        answering: MaybeApplied on either pool, sent once (aiohttp's
        "server disconnected" was mapped to a connect timeout, "cannot
        connect", and the note sent five times).
        """
        async with HttpClient(committing.url, pool=pool) as http:
            with pytest.raises(MaybeApplied):
                await http.request("POST", "/notes", json={"note": "T-1"})

        assert 1 == committing.applied

    @pytest.mark.parametrize("pool", ["httpx", "aiohttp"])
    async def test_a_silent_server_is_not_taken_for_a_refusal(
        self, pool: str
    ) -> None:
        """
        A server that applied a POST and never answered within the read
        timeout: MaybeApplied on either pool, sent once.
        """
        server = _Committing(wait_s=1.0)
        try:
            async with HttpClient(
                server.url, pool=pool, timeout=httpx.Timeout(0.2)
            ) as http:
                with pytest.raises(MaybeApplied):
                    await http.request("POST", "/notes", json={})
        finally:
            server.sock.close()

        assert 1 == server.applied

    @pytest.mark.parametrize("pool", ["httpx", "aiohttp"])
    async def test_a_dropped_read_is_sent_again(
        self, pool: str, committing: _Committing
    ) -> None:
        """
        A GET whose answer was dropped is retried as before.
        """
        async with HttpClient(committing.url, pool=pool) as http:
            with pytest.raises(RetryableError) as info:
                await http.request("GET", "/notes")

        assert not isinstance(info.value, MaybeApplied)
        assert committing.applied > 1
