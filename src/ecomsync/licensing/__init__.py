"""
ERP connection licences: every run holds one while it touches the ERP.

`LocalLicensePool` serves the runs of one process; `FileLicensePool`
(``locking`` extra) every process on one machine, the default for several
processes on one `SqliteStore`; `PostgresLicensePool` (``postgres``
extra) every process sharing a database.

.. versionadded:: 26.1.0
"""

from .._contracts import Lease
from ._file import FileLicensePool
from ._local import LocalLicensePool
from ._postgres import PostgresLicensePool


__all__ = [
    "FileLicensePool",
    "Lease",
    "LocalLicensePool",
    "PostgresLicensePool",
]
