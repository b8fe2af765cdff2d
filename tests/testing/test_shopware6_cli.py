"""
`python -m ecomsync.testing.shopware6`: the emulator's command line.
"""

from __future__ import annotations

import httpx
import pytest


pytestmark = pytest.mark.anyio


class TestCommandLine:
    def test_python_m_serves(self) -> None:
        """`python -m ecomsync.testing.shopware6 --port N` serves the
        emulator: a token request over real HTTP succeeds."""
        import socket
        import subprocess
        import sys
        import time

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecomsync.testing.shopware6",
                "--port",
                str(port),
                "--client-id",
                "SWIACLI",
                "--client-secret",
                "cli-secret",
                "--latency-ms",
                "1",
            ]
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/api/oauth/token",
                        json={
                            "grant_type": "client_credentials",
                            "client_id": "SWIACLI",
                            "client_secret": "cli-secret",
                        },
                    )
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "it never listened"
                    time.sleep(0.2)
            assert 200 == response.status_code
            assert "Bearer" == response.json()["token_type"]
        finally:
            server.terminate()
            server.wait(timeout=10)
