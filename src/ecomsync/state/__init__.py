"""
Where *ecomsync* remembers things: `SqliteStore` (default, one machine)
and `PostgresStore` (many processes and machines; extra ``postgres``).

.. versionadded:: 26.1.0
"""

from ._postgres import PostgresStore
from ._sqlite import SqliteStore


__all__ = ["PostgresStore", "SqliteStore"]
