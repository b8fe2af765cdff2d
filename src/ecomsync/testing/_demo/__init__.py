"""
The demo behind ``ecomsync demo``: a seeded ERP synchronised with a shop
(the Shopware 6 emulator, or the in-memory platform) in a few seconds.

Private: the command line starts it through its launcher,
``ecomsync/_cli/_demo.py``, the one product module that reaches the test
kit.
"""

from ._run import SHOPS, open_shop, run_demo
from ._view import DemoResult


__all__ = ["SHOPS", "DemoResult", "open_shop", "run_demo"]
