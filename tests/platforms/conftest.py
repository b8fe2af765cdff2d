"""
Fixtures of the live Vendure server, registered once so that every
Vendure test module shares one server per session.
"""

from .vendure_server import _fresh_vendure, _vendure_server


__all__ = ["_fresh_vendure", "_vendure_server"]
