"""
`python -m ecomsync.testing.shopware6`: the emulator's command line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from ecomsync.testing.shopware6.__main__ import READY, _parser, ready_line


_LINE = re.compile(
    rf"^{READY} base_url=(?P<url>http://\S+) client_id=(?P<id>\S+) "
    r"client_secret=(?P<secret>\S+)$"
)


@pytest.fixture(name="server")
def _server() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecomsync.testing.shopware6",
            "--port",
            "0",
            "--client-id",
            "SWIACLI",
            "--client-secret",
            "cli-secret",
            "--latency-ms",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


class TestCommandLine:
    def test_ready_line_then_serves(
        self, server: subprocess.Popen[str]
    ) -> None:
        """With --port 0 it picks a free port and prints one ready line
        with the base URL and credentials; a token request with them
        succeeds over real HTTP."""
        assert server.stdout is not None
        match = _LINE.match(server.stdout.readline().rstrip("\n"))
        assert match is not None
        assert ("SWIACLI", "cli-secret") == (match["id"], match["secret"])
        response = httpx.post(
            f"{match['url']}/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": match["id"],
                "client_secret": match["secret"],
            },
        )
        assert 200 == response.status_code
        assert "Bearer" == response.json()["token_type"]

    def test_help_shows_defaults(self) -> None:
        """--help names every option with its default."""
        text = _parser().format_help()
        for default in (
            "(default: 8000)",
            "(default: 127.0.0.1)",
            "(default: SWIAEMULATOR0000000000000)",
            "(default: emulator-secret)",
            "(default: 600)",
        ):
            assert default in text

    def test_ready_line_format(self) -> None:
        """The ready line is one line of key=value pairs after a fixed
        prefix."""
        assert (
            f"{READY} base_url=http://127.0.0.1:1 client_id=a client_secret=b"
        ) == ready_line("http://127.0.0.1:1", "a", "b")
