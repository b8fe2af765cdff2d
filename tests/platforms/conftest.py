"""
``no_waits`` for the Vendure tests without a server (the live server's
fixtures are registered in tests/conftest.py, shared with tests/faults).
"""

from ._vendure import _no_waits


__all__ = ["_no_waits"]
