"""
``ecomsync demo`` as a person runs it: names, dates and Ctrl-C.
"""

from __future__ import annotations

import signal

from .conftest import start


def test_ctrl_c_ends_the_demo_in_one_line() -> None:
    """
    SIGINT during a run: exit 130 and one line on stderr, no traceback.
    """
    # Enough articles that the run is still going when the signal lands
    # (400 were done about 2 s after "started", less than a loaded CI
    # machine may take to read that line).
    demo = start("ecomsync", "demo", "--articles", "3000", "--plain")
    try:
        demo.wait_for("started: all, 3000 records")
        assert demo.process.poll() is None, "the demo ended before Ctrl-C"
        demo.process.send_signal(signal.SIGINT)
        assert 130 == demo.process.wait(timeout=60)
        assert demo.process.stderr is not None
        assert ["ecomsync demo: interrupted"] == (
            demo.process.stderr.read().splitlines()
        )
    finally:
        demo.stop()
