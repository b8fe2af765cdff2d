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
    demo = start("ecomsync", "demo", "--articles", "400", "--plain")
    try:
        demo.wait_for("started: all, 400 records")
        demo.process.send_signal(signal.SIGINT)
        assert 130 == demo.process.wait(timeout=60)
        assert demo.process.stderr is not None
        assert ["ecomsync demo: interrupted"] == (
            demo.process.stderr.read().splitlines()
        )
    finally:
        demo.stop()
