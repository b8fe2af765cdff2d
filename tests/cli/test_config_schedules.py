"""
The config file's ``[[schedules]]``: installed by ``serve`` on start and
by ``schedules apply``, idempotently, beside ``schedules add/remove``.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from ecomsync._cli._config import load
from ecomsync.exceptions import ConfigurationError

from .conftest import Cli, write_config


NIGHTLY = """
[[schedules]]
name = "nightly"
types = ["stock"]
cron = "0 2 * * *"
zone = "Europe/Berlin"
"""

HOURLY = """
[[schedules]]
name = "hourly"
platform = "shop"
types = ["categories", "articles"]
every = "1h"
"""


def _with(cli: Cli, *tables: str) -> Cli:
    text = cli.config.read_text().split("\n[[schedules]]")[0]
    cli.config.write_text(text + "".join(tables))
    return cli


def _listed(cli: Cli) -> dict[str, dict[str, object]]:
    done = cli("schedules", "--json")
    assert 0 == done.returncode, done.stderr
    return {s["id"]: s for s in json.loads(done.stdout)}


def test_apply_is_idempotent_and_removes_what_the_file_dropped(
    cli: Cli,
) -> None:
    """
    Applying one file twice adds once, then leaves the schedules (and
    their next due times) alone; a changed entry is saved again, a
    dropped one removed; a schedule added by hand is never touched.
    """
    _with(cli, NIGHTLY, HOURLY)
    manual = cli("schedules", "add", "stock", "--every", "5m", "--id", "mine")
    assert 0 == manual.returncode, manual.stderr

    first = cli("schedules", "apply", "--json")
    before = _listed(cli)
    second = cli("schedules", "apply")

    assert 0 == first.returncode, first.stderr
    assert {"config:hourly", "config:nightly"} == set(
        json.loads(first.stdout)["added"]
    )
    assert [
        "schedule config:nightly unchanged",
        "schedule config:hourly unchanged",
    ] == second.stdout.splitlines()
    assert before == _listed(cli)
    assert {"config:hourly", "config:nightly", "mine"} == set(before)
    nightly = before["config:nightly"]
    assert ("0 2 * * *", "Europe/Berlin", ["stock"]) == (
        nightly["cron"],
        nightly["zone"],
        nightly["types"],
    )
    assert 3600.0 == before["config:hourly"]["interval_s"]

    _with(cli, HOURLY.replace('"1h"', '"30m"'))
    third = cli("schedules", "apply", "--json")

    assert 0 == third.returncode, third.stderr
    assert {
        "added": [],
        "changed": ["config:hourly"],
        "unchanged": [],
        "removed": ["config:nightly"],
    } == json.loads(third.stdout)
    after = _listed(cli)
    assert {"config:hourly", "mine"} == set(after)
    assert 1800.0 == after["config:hourly"]["interval_s"]

    _with(cli)
    emptied = cli("schedules", "apply")

    assert ["schedule config:hourly removed"] == emptied.stdout.splitlines()
    assert ["the config file names no schedules"] == (
        cli("schedules", "apply").stdout.splitlines()
    )
    assert ["mine"] == list(_listed(cli))


def test_serve_installs_the_schedules_once(cli: Cli) -> None:
    """
    ``serve`` installs the file's schedule and runs it; served again it
    finds it unchanged: one schedule, one scheduled run.
    """
    _with(cli, HOURLY.replace('["categories", "articles"]', '["categories"]'))

    serving = cli.start("serve", "--poll", "0.2")
    try:
        assert "added" in serving.wait_for("schedule config:hourly")
        run_id = serving.wait_for("run ").split()[1]
        assert f"run {run_id} succeeded" == serving.wait_for("succeeded")
        serving.process.send_signal(signal.SIGTERM)
        assert 0 == serving.process.wait(timeout=30)
    finally:
        serving.stop()
    again = cli.start("serve", "--poll", "0.2")
    try:
        assert "unchanged" in again.wait_for("schedule config:hourly")
        again.wait_for("serving schedules")
        again.process.send_signal(signal.SIGTERM)
        assert 0 == again.process.wait(timeout=30)
    finally:
        again.stop()

    assert ["config:hourly"] == list(_listed(cli))
    runs = json.loads(cli("runs", "--json").stdout)
    assert [(run_id, "scheduled", "config:hourly")] == [
        (r["id"], r["trigger"], r["schedule_id"]) for r in runs
    ]


def test_schedules_add_refuses_a_selection_and_the_config_prefix(
    cli: Cli,
) -> None:
    """
    ``schedules add`` takes no selection (a scheduled run reads by
    watermark), and ``config:`` ids are the file's: both are usage errors.
    """
    ranged = cli("schedules", "add", "articles", "--every", "1h", "--range",
                 "A-1..A-9")  # fmt: skip
    prefixed = cli(
        "schedules", "add", "stock", "--every", "1h", "--id", "config:x"
    )

    assert (2, 2) == (ranged.returncode, prefixed.returncode)
    assert "unrecognized arguments: --range" in ranged.stderr
    assert "belong to the config file" in prefixed.stderr


def test_removing_a_config_schedule_by_hand_warns_it_comes_back(
    cli: Cli,
) -> None:
    """
    ``schedules remove`` of a ``config:`` schedule says serve brings it
    back while the file names it.
    """
    _with(cli, NIGHTLY)
    assert 0 == cli("schedules", "apply").returncode

    done = cli("schedules", "remove", "--id", "config:nightly")

    assert 0 == done.returncode, done.stderr
    assert "comes back when 'serve' starts" in done.stdout


def test_a_bad_cron_zone_is_a_config_error_naming_the_schedule(
    cli: Cli,
) -> None:
    """
    A zone the rule cannot be read in: exit 2 naming the schedule.
    """
    _with(cli, NIGHTLY.replace("Europe/Berlin", "Mars/Olympus"))

    done = cli("schedules", "apply")

    assert 2 == done.returncode
    assert "schedule 'nightly': unknown time zone 'Mars/Olympus'" in (
        done.stderr
    )


def test_check_reads_the_schedules_rules_as_serve_would(cli: Cli) -> None:
    """
    ``check`` reads each ``[[schedules]]`` cron rule and zone with the
    code ``serve`` installs them with: a bad one is a problem on the
    schedules line naming the entry (exit 1), and nothing is stored.
    """
    _with(cli, NIGHTLY, HOURLY)
    good = cli("check")
    _with(cli, NIGHTLY.replace("0 2 * * *", "0 25 * * *"), HOURLY)
    bad_rule = cli("check", "--json")
    _with(cli, NIGHTLY.replace("Europe/Berlin", "Mars/Olympus"))
    bad_zone = cli("check")

    assert 0 == good.returncode, good.stderr
    assert "schedules: ok" in good.stdout.splitlines()
    assert 1 == bad_rule.returncode, bad_rule.stderr
    parts = {p["part"]: p for p in json.loads(bad_rule.stdout)["parts"]}
    problems = parts["schedules"]["problems"]
    assert ["schedule 'nightly': cron rule '0 25 * * *': Bad hour"] == problems
    assert parts["shop"]["ok"] is True
    assert 1 == bad_zone.returncode
    assert (
        "schedules: schedule 'nightly': unknown time zone 'Mars/Olympus'; "
        "use an IANA name such as 'Europe/Berlin'"
    ) in bad_zone.stdout.splitlines()
    assert {} == _listed(cli)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (HOURLY + 'range = "A-1..A-9"\n', "schedules[0].range: a schedule "),
        (HOURLY + 'cron = "0 2 * * *"\n', "give every"),
        (HOURLY.replace('every = "1h"', ""), "give every"),
        (HOURLY + 'zone = "UTC"\n', "zone: a time zone applies to cron"),
        (HOURLY + HOURLY, "schedules[1].name: 'hourly' is used twice"),
        (HOURLY.replace('"hourly"', '"a b"'), "schedules[0].name: 'a b'"),
        (HOURLY.replace('"articles"', '"widgets"'), "'widgets'"),
        (HOURLY.replace('"shop"', '"nope"'), "platform: 'nope' is not one"),
        (HOURLY.replace('"1h"', '"soon"'), "every: a duration"),
        (HOURLY + "retries = 3\n", "schedules[0].retries: unknown key"),
        ("\nschedules = 3\n", "an array of tables"),
    ],
)
def test_schedule_mistakes_name_the_entry(
    tmp_path: Path, shop: dict[str, str], table: str, expected: str
) -> None:
    """
    A bad ``[[schedules]]`` entry fails loading (so ``check`` shows it),
    naming the entry and the key.
    """
    config = write_config(tmp_path, shop)
    config.write_text(
        table + config.read_text()
        if table.startswith("\nschedules")
        else config.read_text() + table
    )

    with pytest.MonkeyPatch.context() as env:
        env.setenv("TEST_SHOP_SECRET", "x")
        with pytest.raises(ConfigurationError) as caught:
            load(config)

    assert expected in str(caught.value)
