"""
An emulator's command line in a child process, for the tests that drive
it over a real socket (the conformance suites with the platforms' own
clients, the command-line tests).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

import attrs


@attrs.frozen
class Ready:
    """
    The ready line an emulator printed, and its ``key=value`` fields.
    """

    line: str
    fields: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.fields["base_url"]


@contextlib.contextmanager
def emulator_process(platform: str, *args: str) -> Iterator[Ready]:
    """
    Run ``python -m ecomsync.testing.<platform> --port 0 *args`` until
    the block ends; yields its ready line, which must be the one line of
    ``ecomsync-<platform>-emulator ready`` and ``key=value`` fields it
    prints first.
    """
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            f"ecomsync.testing.{platform}",
            "--port",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        prefix = f"ecomsync-{platform}-emulator ready "
        assert line.startswith(prefix), f"no ready line: {line!r}"
        pairs = [pair.split("=", 1) for pair in line[len(prefix) :].split()]
        assert all(len(pair) == 2 for pair in pairs), line
        yield Ready(line, dict(pairs))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
