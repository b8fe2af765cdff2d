"""
`python -m ecomsync.testing.shopware6`: the emulator's command line.
"""

from __future__ import annotations

import re

import httpx

from ecomsync.testing.shopware6.__main__ import READY, _parser, ready_line

from .._emulator_process import emulator_process


_LINE = re.compile(
    rf"^{READY} base_url=(?P<url>http://\S+) client_id=(?P<id>\S+) "
    r"client_secret=(?P<secret>\S+)$"
)


class TestCommandLine:
    def test_ready_line_then_serves(self) -> None:
        """With --port 0 it picks a free port and prints one ready line
        with the base URL and credentials; a token request with them
        succeeds over real HTTP."""
        with emulator_process(
            "shopware6",
            "--client-id",
            "SWIACLI",
            "--client-secret",
            "cli-secret",
            "--latency-ms",
            "1",
        ) as ready:
            match = _LINE.match(ready.line)
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
