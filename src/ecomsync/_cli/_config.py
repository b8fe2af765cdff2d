"""
The config file: one TOML file naming the ERP, the platforms, the store,
the licences, the staging directory, the synchroniser's settings and the
schedules; `load` turns it into a `Synchronizer`.

Secrets never stand in the file: a secret key ``password`` is given as
``password_env = "VARIABLE"`` (read from the environment) or
``password_file = "path"`` (the file's text, stripped).  An inline secret
is a `ConfigurationError` naming the key.  Every table accepts only the
keys it documents: an unknown key is a `ConfigurationError` naming the key
and the table.  Reading the file and its tables is `_config_table`'s; the
ERP, platforms, store and licences are `_config_parts`'s; the schedules
`_config_schedules`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ecomsync import Synchronizer
from ecomsync._settings import Seconds
from ecomsync.exceptions import ConfigurationError
from ecomsync.media import MediaStaging

from ._config_parts import erp_of, licenses_of, platforms_of, store_of
from ._config_schedules import check_schedules, parse_schedules
from ._config_table import Table, load_config


__all__ = ["load"]


def _staging(table: Table) -> MediaStaging:
    options: dict[str, Any] = {}
    directory = table.path("directory", None)
    if directory is not None:
        options["directory"] = directory
    for key, minimum in (
        ("max_bytes", 1),
        ("memory_bytes", 0),
        ("memory_file_bytes", 0),
    ):
        value = table.whole(key, None, minimum=minimum)
        if value is not None:
            options[key] = value
    table.done()
    return MediaStaging(**options)


def _rule(setting: str) -> Seconds:
    # The synchroniser's own validator: one rule for the file and the
    # library (license_timeout = 0 and inf, progress_interval = 0).
    rule = attrs.fields_dict(Synchronizer)[setting].validator
    assert isinstance(rule, Seconds)
    return rule


def _sync_options(table: Table) -> dict[str, Any]:
    options = {
        "license_timeout": table.duration(
            "license_timeout", _rule("license_timeout"), None
        ),
        "batch_size": table.whole("batch_size", None),
        "media_concurrency": table.whole("media_concurrency", None),
        "write_concurrency": table.whole("write_concurrency", None),
        "order_page_size": table.whole("order_page_size", None),
        "progress_interval": table.duration(
            "progress_interval", _rule("progress_interval"), None
        ),
        "overlap": table.seconds("overlap", None),
    }
    table.done()
    return {k: v for k, v in options.items() if v is not None}


def load(path: Path) -> Synchronizer:
    """
    The synchroniser the config file at *path* describes.  Relative paths
    in the file are relative to the file's directory.
    """
    data = load_config(path)
    base = path.parent
    if "erp" not in data:
        raise ConfigurationError(f"{path}: an [erp] table is required")
    erp = erp_of(Table.of(data["erp"], "erp", base))
    platforms = platforms_of(data.get("platforms"), path, base)
    store = store_of(Table.of(data.get("store", {}), "store", base))
    licenses = licenses_of(
        Table.of(data.get("licenses", {}), "licenses", base), store
    )
    staging = _staging(Table.of(data.get("staging", {}), "staging", base))
    options = _sync_options(Table.of(data.get("sync", {}), "sync", base))
    sync = Synchronizer(
        erp=erp,
        platforms=platforms,
        store=store,
        licenses=licenses,
        staging=staging,
        **options,
    )
    check_schedules(sync, parse_schedules(data, base))
    return sync
