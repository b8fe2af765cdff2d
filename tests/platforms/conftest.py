"""
Fixtures of the live Vendure server, registered once so that every
Vendure test module shares one server per session, and ``no_waits`` for
the Vendure tests without a server.
"""

from ._vendure import _no_waits
from .vendure_server import _fresh_vendure, _vendure_server


__all__ = ["_fresh_vendure", "_no_waits", "_vendure_server"]
