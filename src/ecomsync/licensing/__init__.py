"""
ERP connection licences: every run holds one while it touches the ERP.

`LocalLicensePool` serves the runs of one process; `PostgresLicensePool`
(``postgres`` extra) serves every process sharing a database.

.. versionadded:: 26.1.0
"""

from .._contracts import Lease
from ._local import LocalLicensePool
from ._postgres import PostgresLicensePool


__all__ = ["Lease", "LocalLicensePool", "PostgresLicensePool"]
