"""
The ``[sync]`` settings: the config file takes exactly the values the
`Synchronizer` takes, and refuses the others naming the setting and the
value.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ecomsync import Synchronizer
from ecomsync._cli._config import load
from ecomsync.erp.memory import MemoryErp
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.memory import MemoryPlatform


CONFIG = """
[erp]
type = "demo"
articles = 1
categories = 1

[platforms.shop]
type = "shopware6"
url = "http://127.0.0.1:9"
client_id = "SWIA"
client_secret_env = "CFG_SECRET"

[sync]
{setting} = {value}
"""

#: (setting, value, taken): 0 and inf licence waits are a host's choice
#: (fail at once; wait until a licence is free or the run is
#: cancelled); a Progress event every 0 s is one per batch, every inf s
#: none but the last: nonsense.
CASES = [
    ("license_timeout", 0, True),
    ("license_timeout", 2.5, True),
    ("license_timeout", math.inf, True),
    ("license_timeout", -1, False),
    ("license_timeout", math.nan, False),
    ("license_timeout", -math.inf, False),
    ("progress_interval", 0, True),
    ("progress_interval", 0.25, True),
    ("progress_interval", math.inf, False),
    ("progress_interval", math.nan, False),
    ("progress_interval", -0.5, False),
    ("batch_size", 1, True),
    ("batch_size", 0, False),
]


def _toml(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _library(setting: str, value: float) -> float:
    sync = Synchronizer(
        erp=MemoryErp(),
        platforms={"shop": MemoryPlatform()},
        **{setting: value},  # type: ignore[arg-type]
    )
    return float(getattr(sync, setting))


def _config(tmp_path: Path, setting: str, value: float) -> float:
    config = tmp_path / "ecomsync.toml"
    config.write_text(
        CONFIG.format(setting=setting, value=_toml(value)), encoding="utf-8"
    )
    return float(getattr(load(config), setting))


@pytest.mark.parametrize("where", ["library", "config"])
@pytest.mark.parametrize(("setting", "value", "taken"), CASES)
def test_library_and_config_agree(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    setting: str,
    value: float,
    taken: bool,
) -> None:
    """The library and the config file take and refuse the same values,
    and a refusal names the setting and the value (license_timeout = 0
    was refused by the file only, progress_interval = inf taken by the
    library only)."""
    monkeypatch.setenv("CFG_SECRET", "s3cret-value")

    def read() -> float:
        if where == "library":
            return _library(setting, value)
        return _config(tmp_path, setting, value)

    if taken:
        assert value == read()
        return
    with pytest.raises(ConfigurationError) as caught:
        read()
    assert setting in str(caught.value)
    assert _toml(value) in str(caught.value)
