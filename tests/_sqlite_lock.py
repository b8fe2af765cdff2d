"""
A SQLite file's write lock held by another connection, for tests of
waits on a locked store.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """
    Another connection holds the file's write lock for the block (a
    backup, another host writing).
    """
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()
