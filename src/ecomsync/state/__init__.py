"""
Where *ecomsync* remembers things: `SqliteStore` (default, one machine)
and, with the ``postgres`` extra, `PostgresStore` (many processes and
machines).

.. versionadded:: 26.1.0
"""

from ._sqlite import SqliteStore


__all__ = ["SqliteStore"]
