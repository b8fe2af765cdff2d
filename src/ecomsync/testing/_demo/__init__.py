"""
The demo behind ``ecomsync demo``: a seeded ERP synchronised with a shop
(the Shopware 6 emulator, or the in-memory platform) in a few seconds.

Private: the command line finds it as a plugin, `DEMO` in ``_command.py``,
through the entry point ``ecomsync.cli`` named ``demo``; no product module
imports the test kit.
"""

from ._run import SHOPS, open_shop, run_demo
from ._view import DemoResult


__all__ = ["SHOPS", "DemoResult", "open_shop", "run_demo"]
