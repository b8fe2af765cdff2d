"""
The command line under test: the Shopware 6 emulator served on loopback
by its own command, a config file naming it, and `ecomsync` run in a
subprocess (``python -m ecomsync``) as a user would.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest


SRC = str(Path(__file__).parents[2] / "src")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [SRC, *filter(None, [env.get("PYTHONPATH")])]
    )
    env.update(extra)
    return env


@attrs.define
class Lines:
    """
    A process whose standard output is read line by line in a thread.
    """

    process: subprocess.Popen[str]
    _lines: queue.Queue[str | None] = attrs.Factory(queue.Queue)
    seen: list[str] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """
        The first line (from now) containing *text*.
        """
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no line with {text!r} in {timeout} s; saw {self.seen}"
                ) from None
            if line is None:
                raise AssertionError(
                    f"the process ended without {text!r}; saw {self.seen}"
                )
            self.seen.append(line)
            if text in line:
                return line

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


#: What ``ecomsync check`` prints when every part of the config answers.
ALL_OK = ["store: ok", "licenses: ok", "schedules: ok", "ERP: ok", "shop: ok"]


def start(*args: str, env: dict[str, str] | None = None) -> Lines:
    """
    ``python -m`` *args* with standard output read by line.
    """
    return Lines(
        subprocess.Popen(
            [sys.executable, "-u", "-m", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or _env(),
        )
    )


@pytest.fixture(name="shop", scope="session")
def _shop() -> Iterator[dict[str, str]]:
    """
    The emulator on a free loopback port: its ready line's fields.
    """
    served = start("ecomsync.testing.shopware6", "--port", "0")
    try:
        line = served.wait_for("ready", timeout=30)
        yield _ready_fields(line)
    finally:
        served.stop()


@pytest.fixture(name="slow_shop", scope="session")
def _slow_shop() -> Iterator[dict[str, str]]:
    """
    The emulator answering each request 20 ms late, for tests that must
    reach a run while it is still going (a cancel from another process):
    on the quick emulator a sync can end before a second process starts.
    """
    served = start(
        "ecomsync.testing.shopware6", "--port", "0", "--latency-ms", "20"
    )
    try:
        line = served.wait_for("ready", timeout=30)
        yield _ready_fields(line)
    finally:
        served.stop()


def _ready_fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


@pytest.fixture(name="woo", scope="session")
def _woo() -> Iterator[dict[str, str]]:
    """
    The WooCommerce emulator on a free loopback port: its ready line's
    fields and the secrets it was started with.
    """
    served = start(
        "ecomsync.testing.woocommerce",
        "--port", "0",
        "--consumer-key", "ck_cli",
        "--consumer-secret", "cs_cli-secret",
    )  # fmt: skip
    try:
        line = served.wait_for("ready", timeout=30)
        yield {**_ready_fields(line), "consumer_secret": "cs_cli-secret"}
    finally:
        served.stop()


@pytest.fixture(name="shopify", scope="session")
def _shopify() -> Iterator[dict[str, str]]:
    """
    The Shopify emulator on a free loopback port: its ready line's fields
    and the access token it was started with.
    """
    served = start(
        "ecomsync.testing.shopify",
        "--port", "0",
        "--access-token", "shpat_cli-token",
    )  # fmt: skip
    try:
        line = served.wait_for("ready", timeout=30)
        yield {**_ready_fields(line), "access_token": "shpat_cli-token"}
    finally:
        served.stop()


@attrs.frozen
class Cli:
    """
    Runs ``python -m ecomsync`` against one config file.
    """

    config: Path
    env: dict[str, str]

    @staticmethod
    def env_of() -> dict[str, str]:
        """
        The environment a child needs to import this checkout.
        """
        return _env()

    def __call__(
        self, *args: str, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ecomsync", *args, "-c", str(self.config)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> Lines:
        return start("ecomsync", *args, "-c", str(self.config), env=self.env)


def write_config(
    directory: Path, shop: dict[str, str], *, articles: int = 40
) -> Path:
    config = directory / "ecomsync.toml"
    config.write_text(
        f"""
[erp]
type = "demo"
articles = {articles}
categories = 5

[platforms.shop]
type = "shopware6"
url = "{shop["base_url"]}"
client_id = "{shop["client_id"]}"
client_secret_env = "TEST_SHOP_SECRET"

[store]
path = "state.db"

[staging]
directory = "staging"

[sync]
progress_interval = 0.05
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture(name="cli")
def _cli(tmp_path: Path, shop: dict[str, str]) -> Cli:
    """
    A fresh state store and config over the session's emulator.
    """
    return Cli(
        write_config(tmp_path, shop),
        _env(TEST_SHOP_SECRET=shop["client_secret"]),
    )
