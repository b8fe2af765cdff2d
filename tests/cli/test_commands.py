"""
The ``ecomsync`` command line, driven in a subprocess over a config file
against the Shopware 6 emulator on loopback.
"""

from __future__ import annotations

import getpass
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ecomsync import ChangedSince, NumberRange, Only
from ecomsync.__main__ import _parser
from ecomsync._cli._running import UsageError, _selection, worst_exit
from ecomsync._run import BY_HOST

from .conftest import ALL_OK, Cli, write_config


def test_check_reports_each_part_on_one_line(cli: Cli) -> None:
    """
    ``check`` prints one line per part and exits 0 when all can be used.
    """
    done = cli("check")

    assert 0 == done.returncode, done.stderr
    assert ALL_OK == done.stdout.splitlines()


def test_check_while_runs_hold_every_licence(
    tmp_path: Path, slow_shop: dict[str, str]
) -> None:
    """
    A licence pool whose every licence a run holds is busy, not broken:
    ``check`` says who holds them, does not wait a second time to check
    the ERP, and exits 0, so a gate (``ExecStartPre=ecomsync check``)
    does not keep ``serve`` from starting while a manual sync runs.
    """
    config = write_config(tmp_path, slow_shop, articles=3000)
    config.write_text(
        config.read_text().replace(
            "[sync]\n",
            '[licenses]\ntype = "file"\ndirectory = "licences"\n\n'
            "[sync]\nlicense_timeout = 0.5\n",
        )
    )
    cli = Cli(
        config,
        {**Cli.env_of(), "TEST_SHOP_SECRET": slow_shop["client_secret"]},
    )
    running = cli.start("sync", "--plain")
    try:
        run_id = running.wait_for("started").split()[1]
        running.wait_for("articles: ")

        checked = cli("check", "--json")

        assert 0 == cli("cancel", run_id).returncode
        running.process.wait(timeout=60)
    finally:
        running.stop()
    assert 0 == checked.returncode, checked.stdout + checked.stderr
    parts = {p["part"]: p for p in json.loads(checked.stdout)["parts"]}
    assert (True, []) == (
        parts["licenses"]["ok"],
        parts["licenses"]["problems"],
    )
    assert parts["licenses"]["note"].startswith("in use: no free ERP licence")
    assert parts["licenses"]["note"].endswith(f"held by {run_id}")
    assert "not checked: no licence is free" == parts["ERP"]["note"]
    assert (True, None) == (parts["shop"]["ok"], parts["shop"]["note"])


def test_check_json_and_refused_credentials(
    tmp_path: Path, shop: dict[str, str]
) -> None:
    """
    A refused secret is a problem on the platform's line, exit 1.
    """
    cli = Cli(
        write_config(tmp_path, shop),
        {**Cli.env_of(), "TEST_SHOP_SECRET": "wrong"},
    )

    done = cli("check", "--json")

    assert 1 == done.returncode, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    parts = {p["part"]: p for p in report["parts"]}
    assert parts["ERP"]["ok"] is True
    assert parts["shop"]["ok"] is False
    (problem,) = parts["shop"]["problems"]
    assert problem.startswith(f"Shopware at {shop['base_url']} refused ")
    assert "wrong" not in done.stdout


def test_a_run_that_fails_still_ends_its_output(
    tmp_path: Path, shop: dict[str, str]
) -> None:
    """
    Refused credentials fail the run (exit 1, one line on standard
    error); standard output still ends with the run's summary: ``run ID
    failed: ...``, or with ``--json`` the run's record (status
    ``failed``, the error), the one JSON document a script parses. The
    secret is in neither.
    """
    cli = Cli(
        write_config(tmp_path, shop),
        {**Cli.env_of(), "TEST_SHOP_SECRET": "wrong-secret"},
    )

    plain = cli("sync", "categories", "--plain")
    as_json = cli("sync", "categories", "--json")

    assert 1 == plain.returncode
    last = plain.stdout.splitlines()[-1]
    assert last.startswith("run ")
    assert " failed: AuthenticationError: Shopware at " in last
    (line,) = plain.stderr.splitlines()
    assert line.startswith("ecomsync sync: Shopware at ")
    assert 1 == as_json.returncode
    record = json.loads(as_json.stdout)
    assert "failed" == record["status"]
    assert "refused the integration credentials" in record["error"]
    shown = json.loads(cli("runs", "show", record["id"], "--json").stdout)
    assert record == shown
    for done in (plain, as_json):
        assert "wrong-secret" not in done.stdout + done.stderr


def test_inline_secret_is_a_config_error_naming_the_key(
    tmp_path: Path, shop: dict[str, str]
) -> None:
    """
    A secret written in the file: exit 2, naming the key and the fix.
    """
    config = write_config(tmp_path, shop)
    config.write_text(
        config.read_text().replace(
            'client_secret_env = "TEST_SHOP_SECRET"',
            'client_secret = "emulator-secret"',
        )
    )

    done = Cli(config, Cli.env_of())("check")

    assert 2 == done.returncode
    assert "platforms.shop.client_secret" in done.stderr
    assert "client_secret_env" in done.stderr
    assert "emulator-secret" not in done.stderr


def test_missing_secret_variable_says_which(cli: Cli) -> None:
    """
    A secret variable that is not set is named, exit 2.
    """
    env = {k: v for k, v in cli.env.items() if k != "TEST_SHOP_SECRET"}

    done = Cli(cli.config, env)("check")

    assert 2 == done.returncode
    assert "'TEST_SHOP_SECRET' is not set" in done.stderr


def test_plan_writes_nothing(cli: Cli) -> None:
    """
    ``plan`` lists what a sync would do; nothing is recorded as synced.
    """
    done = cli("plan", "categories", "articles", "--json")

    assert 0 == done.returncode, done.stderr
    plan = json.loads(done.stdout)
    assert {"categories", "articles"} == set(plan["types"])
    assert (
        40
        == len(plan["types"]["articles"]["create"])
        + len(plan["types"]["articles"]["update"])
        + plan["types"]["articles"]["unchanged"]
    )
    runs = json.loads(cli("runs", "--json").stdout)
    assert ["preview"] == [r["trigger"] for r in runs]


def test_sync_shows_progress_then_runs_list_and_show(cli: Cli) -> None:
    """
    ``sync`` prints progress per type and the outcome; ``runs`` lists the
    run and ``runs show`` gives its counts (a time it lacks is ``null``).
    """
    done = cli("sync", "categories", "articles", "stock", "--plain")

    assert 0 == done.returncode, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("articles: started, 40") for line in lines)
    assert any("articles: 40/40" in line for line in lines)
    run_id = lines[-1].split()[1]
    assert f"run {run_id} succeeded" == lines[-1]

    listed = json.loads(cli("runs", "--json").stdout)
    assert [run_id] == [r["id"] for r in listed]

    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert "succeeded" == shown["status"]
    counts = shown["counts"]["articles"]
    assert 40 == counts["created"] + counts["updated"] + counts["unchanged"]
    assert "+00:00" in shown["started_at"]
    # A finished run has no owner and no heartbeat: JSON null, not "-".
    assert (None, None) == (shown["owner"], shown["heartbeat_at"])
    text = cli("runs", "show", run_id).stdout
    assert "ended_at: 20" in text

    again = cli("sync", "articles", "--only", "A-00001,A-00002", "--json")
    assert 0 == again.returncode, again.stderr
    assert {"created": 0, "updated": 0, "unchanged": 2, "failed": 0} == (
        json.loads(again.stdout)["counts"]["articles"]
    )


def test_sync_goes_on_when_standard_output_fails(cli: Cli) -> None:
    """
    A full disk under standard output (``/dev/full``) stops the progress
    lines, not the sync: the run ends succeeded, the command says on one
    line of standard error that its output failed, and exits 1 (whoever
    reads the output has not got it all); a failing ``runs`` says so on
    one line too, not with a traceback.
    """
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "ecomsync", "sync", "categories",
             "articles", "--plain", "-c", str(cli.config)],
            stdout=full, stderr=subprocess.PIPE, text=True, env=cli.env,
            timeout=120, check=False,
        )  # fmt: skip

    assert 1 == done.returncode
    (line,) = done.stderr.splitlines()
    assert line.startswith("ecomsync sync: standard output failed (")
    assert "No space left on device" in line
    assert line.endswith(" succeeded")
    (run,) = json.loads(cli("runs", "--json").stdout)
    assert "succeeded" == run["status"]
    assert 40 == run["counts"]["articles"]["created"]

    with Path("/dev/full").open("w") as full:
        listed = subprocess.run(
            [sys.executable, "-m", "ecomsync", "runs", "-c", str(cli.config)],
            stdout=full, stderr=subprocess.PIPE, text=True, env=cli.env,
            timeout=120, check=False,
        )  # fmt: skip
    assert 1 == listed.returncode
    assert ["ecomsync runs: [Errno 28] No space left on device"] == (
        listed.stderr.splitlines()
    )


def test_commands_run_with_standard_output_closed(cli: Cli) -> None:
    """
    Started with standard output closed (``>&-``, as some cron setups
    do), ``sync`` runs to its end and ``runs`` does its work: each says
    on one line of standard error that its output was lost and exits 1,
    with no traceback; the store is not harmed.
    """

    def closed(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m",
             "ecomsync", *args, "-c", str(cli.config)],
            stderr=subprocess.PIPE, text=True, env=cli.env, timeout=120,
            check=False,
        )  # fmt: skip

    synced = closed("sync", "categories", "articles", "--plain")
    listed = closed("runs", "--json")

    assert 1 == synced.returncode
    (line,) = synced.stderr.splitlines()
    assert line.startswith("ecomsync sync: standard output failed (")
    assert "standard output is closed" in line
    assert line.endswith(" succeeded")
    assert 1 == listed.returncode
    assert [
        "ecomsync runs: standard output failed ([Errno 9] standard output "
        "is closed)"
    ] == listed.stderr.splitlines()
    (run,) = json.loads(cli("runs", "--json").stdout)
    assert "succeeded" == run["status"]
    assert 40 == run["counts"]["articles"]["created"]


def test_sync_goes_on_when_its_reader_leaves(cli: Cli) -> None:
    """
    ``ecomsync sync | head -1``: the reader leaving after the first line
    does not cancel the run, which ends succeeded with exit 0.
    """
    sync = subprocess.Popen(
        [sys.executable, "-m", "ecomsync", "sync", "categories", "articles",
         "--plain", "-c", str(cli.config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli.env,
    )  # fmt: skip
    assert sync.stdout is not None
    assert sync.stdout.readline().startswith("run ")
    sync.stdout.close()
    _, errors = sync.communicate(timeout=120)

    assert 0 == sync.returncode, errors
    (run,) = json.loads(cli("runs", "--json").stdout)
    assert "succeeded" == run["status"]
    assert 40 == run["counts"]["articles"]["created"]


def test_bad_selection_is_a_usage_error(cli: Cli) -> None:
    """
    A naive moment, a malformed range or an unknown type: exit 2, why.
    """
    naive = cli("sync", "stock", "--since", "2026-11-01T00:00")
    bad_range = cli("plan", "articles", "--range", "A-1")
    unknown = cli("plan", "widgets")
    nowhere = cli("sync", "--platform", "nope")
    no_ledger = cli("failures", "--platform", "nope")

    assert (2, 2, 2, 2, 2) == (
        naive.returncode,
        bad_range.returncode,
        unknown.returncode,
        nowhere.returncode,
        no_ledger.returncode,
    )
    assert "--platform 'nope': the config file names shop" in nowhere.stderr
    assert "--platform 'nope'" in no_ledger.stderr
    assert "give a zone" in naive.stderr
    assert "FIRST..LAST" in bad_range.stderr
    assert "unknown data type widgets" in unknown.stderr


def test_unknown_platform_and_bad_limit_are_usage_errors(cli: Cli) -> None:
    """
    ``check --platform`` names the config's platforms as every command
    does (not a Python list); ``runs --limit`` below 1 is refused instead
    of listing nothing. Both exit 2 with one message.
    """
    checked = cli("check", "--platform", "nope")
    listed = cli("runs", "--limit", "0")

    assert (2, "") == (checked.returncode, checked.stdout)
    assert [
        "ecomsync check: --platform 'nope': the config file names shop"
    ] == checked.stderr.splitlines()
    assert 2 == listed.returncode
    assert (
        "argument --limit: a whole number of at least 1 is required, not '0'"
        in listed.stderr
    )


def test_config_option_before_the_command(cli: Cli) -> None:
    """
    ``ecomsync -c FILE COMMAND`` works as ``ecomsync COMMAND -c FILE``
    (it said "invalid choice" naming the file as a command).
    """
    done = subprocess.run(
        [sys.executable, "-m", "ecomsync", "-c", str(cli.config), "check"],
        capture_output=True, text=True, env=cli.env, timeout=120,
        check=False,
    )  # fmt: skip

    assert (0, ALL_OK) == (done.returncode, done.stdout.splitlines())


def test_failures_ledger_empty_after_a_clean_sync(cli: Cli) -> None:
    """
    ``failures`` lists the ledger; ``failures retry`` with none is a no-op.
    """
    assert 0 == cli("sync", "categories", "--plain").returncode

    listed = cli("failures", "--json")
    said = cli("failures")
    retried = cli("failures", "retry")

    assert (0, []) == (listed.returncode, json.loads(listed.stdout))
    assert (0, ["the failure ledger is empty"]) == (
        said.returncode,
        said.stdout.splitlines(),
    )
    assert 0 == retried.returncode
    assert "the failure ledger is empty" in retried.stdout


def test_failed_records_exit_3_and_failures_retry_heals_them(
    tmp_path: Path, shop: dict[str, str]
) -> None:
    """
    A run whose records fail exits 3, says how many on its last line
    (the only place a terminal's progress bars show it) and fills the
    ledger; ``failures
    retry --json`` prints one JSON document, the list of its runs, with
    exit 3 while they still fail and 0 once the cause is fixed; then the
    ledger is empty and ``retry --json`` prints ``[]``.
    """
    config = write_config(tmp_path, shop)
    text = config.read_text()
    # on disk (small files stay in memory by default) within 1,000 bytes
    small = text.replace('directory = "staging"', 'directory = "staging"\n'
                         "max_bytes = 1000\nmemory_bytes = 0")  # fmt: skip
    config.write_text(small)
    cli = Cli(
        config, {**Cli.env_of(), "TEST_SHOP_SECRET": shop["client_secret"]}
    )

    synced = cli("sync", "categories", "articles", "--plain")
    ledger = json.loads(cli("failures", "--json").stdout)
    still = cli("failures", "retry", "--json")
    config.write_text(text)
    healed = cli("failures", "retry", "--json")
    empty = cli("failures", "retry", "--json")

    assert 3 == synced.returncode, synced.stderr
    assert synced.stdout.splitlines()[-1].endswith(
        " succeeded, 40 records failed ('ecomsync failures' lists them)"
    )
    assert 40 == len(ledger)
    assert {("articles", "media.0")} == {
        (f["type"], f["field"]) for f in ledger
    }
    assert "exceed the staging budget" in ledger[0]["message"]
    assert 3 == still.returncode, still.stderr
    (run,) = json.loads(still.stdout)
    assert 40 == run["counts"]["articles"]["failed"]
    assert 0 == healed.returncode, healed.stderr
    (run,) = json.loads(healed.stdout)
    assert ("succeeded", 40) == (
        run["status"],
        run["counts"]["articles"]["created"],
    )
    assert [] == json.loads(cli("failures", "--json").stdout)
    assert (0, []) == (empty.returncode, json.loads(empty.stdout))


def test_cancel_from_another_process(
    tmp_path: Path, slow_shop: dict[str, str]
) -> None:
    """
    ``cancel RUN`` in a second process stops a running ``sync``: exit 4,
    and the run is recorded as cancelled; cancelling it again is refused.
    ``resume RUN`` while it runs is refused (exit 2): it would write the
    same records beside it; ``runs show`` names the process running it,
    and, once cancelled, who cancelled it (user and host).
    """
    # On the quick emulator a sync of 400 articles could end before the
    # second process started (CI saw "ended (succeeded)"): here each
    # request takes 20 ms more and the whole sync about 20 s, so the run
    # is still going when the cancel comes.
    cli = Cli(
        write_config(tmp_path, slow_shop, articles=3000),
        {**Cli.env_of(), "TEST_SHOP_SECRET": slow_shop["client_secret"]},
    )
    running = cli.start("sync", "--plain")
    try:
        run_id = running.wait_for("started").split()[1]
        running.wait_for("articles: ")

        twice = cli("resume", run_id)
        live = json.loads(cli("runs", "show", run_id, "--json").stdout)
        asked = cli("cancel", run_id)

        assert live["owner"].startswith(f"pid {running.process.pid} on ")
        assert live["heartbeat_at"] is not None
        assert 2 == twice.returncode
        assert f"run {run_id!r} is still running in pid " in twice.stderr
        assert "" == twice.stdout
        assert 0 == asked.returncode, asked.stderr
        assert 4 == running.process.wait(timeout=60)
    finally:
        running.stop()
    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert "cancelled" == shown["status"]
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    assert f"state store: ecomsync cancel by {who}" in shown["error"]
    again = cli("cancel", run_id)
    assert 2 == again.returncode
    assert f"run {run_id!r} ended (cancelled); nothing to cancel" in (
        again.stderr
    )


def test_sigterm_stops_a_sync_like_ctrl_c(
    tmp_path: Path, slow_shop: dict[str, str]
) -> None:
    """
    SIGTERM (a service manager, ``docker stop``, a job's timeout) to a
    running ``sync`` ends its run cancelled at a record boundary, exit
    130 and one line on standard error; the process does not die with
    the run left to be found abandoned.
    """
    cli = Cli(
        write_config(tmp_path, slow_shop, articles=3000),
        {**Cli.env_of(), "TEST_SHOP_SECRET": slow_shop["client_secret"]},
    )
    running = cli.start("sync", "--plain")
    try:
        run_id = running.wait_for("started").split()[1]
        running.wait_for("articles: ")
        running.process.send_signal(signal.SIGTERM)
        assert 130 == running.process.wait(timeout=60)
        assert running.process.stderr is not None
        assert ["ecomsync sync: interrupted (SIGTERM)"] == (
            running.process.stderr.read().splitlines()
        )
    finally:
        running.stop()
    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert "cancelled" == shown["status"]


def test_resume_a_run_whose_process_was_killed(
    tmp_path: Path, slow_shop: dict[str, str]
) -> None:
    """
    A ``sync`` killed mid-run is resumed by ``resume RUN`` to success.
    """
    cli = Cli(
        write_config(tmp_path, slow_shop, articles=400),
        {**Cli.env_of(), "TEST_SHOP_SECRET": slow_shop["client_secret"]},
    )
    running = cli.start("sync", "categories", "articles", "--plain")
    try:
        run_id = running.wait_for("started").split()[1]
        running.wait_for("articles: started")
    finally:
        running.process.send_signal(signal.SIGKILL)
        running.stop()

    resumed = cli("resume", run_id, "--plain")

    assert 0 == resumed.returncode, resumed.stderr
    assert f"run {run_id} succeeded" == resumed.stdout.splitlines()[-1]
    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert "succeeded" == shown["status"]


def test_schedules_add_list_remove(cli: Cli) -> None:
    """
    A schedule added is listed with its interval and removed by id.
    """
    added = cli("schedules", "add", "stock", "--every", "15m", "--id", "s1")
    assert 0 == added.returncode, added.stderr

    assert 0 == cli("schedules", "add", "stock", "--every", "90", "--id",
                    "s2").returncode  # fmt: skip

    listed = json.loads(cli("schedules", "--json").stdout)
    assert [("s1", 900.0, ["stock"]), ("s2", 90.0, ["stock"])] == sorted(
        (s["id"], s["interval_s"], s["types"]) for s in listed
    )
    lines = sorted(cli("schedules").stdout.splitlines())
    assert lines[0].startswith("s1  every 15m  next ")
    assert lines[1].startswith("s2  every 90s  next ")
    assert 0 == cli("schedules", "remove", "--id", "s2").returncode

    assert 0 == cli("schedules", "remove", "--id", "s1").returncode
    assert [] == json.loads(cli("schedules", "--json").stdout)
    gone = cli("schedules", "remove", "--id", "s1")
    assert 2 == gone.returncode
    assert "there is no schedule 's1'" in gone.stderr


def test_schedules_add_over_an_id_replaces_and_json_answers(cli: Cli) -> None:
    """
    ``schedules add --id`` of an id the store has replaces that schedule
    and says so ("replaced", ``"replaced": true``) rather than "added";
    ``schedules remove --json`` answers with one JSON document.
    """
    first = cli("schedules", "add", "stock", "--every", "15m", "--id", "s1",
                "--json")  # fmt: skip
    again = cli("schedules", "add", "stock", "--every", "1h", "--id", "s1")
    listed = json.loads(cli("schedules", "--json").stdout)
    removed = cli("schedules", "remove", "--id", "s1", "--json")

    assert (0, {"id": "s1", "replaced": False}) == (
        first.returncode,
        json.loads(first.stdout),
    )
    assert (0, ["schedule s1 replaced"]) == (
        again.returncode,
        again.stdout.splitlines(),
    )
    assert [("s1", 3600.0)] == [(s["id"], s["interval_s"]) for s in listed]
    assert (0, {"id": "s1", "removed": True}) == (
        removed.returncode,
        json.loads(removed.stdout),
    )
    assert [] == json.loads(cli("schedules", "--json").stdout)


def test_serve_runs_a_due_schedule_and_stops_on_sigterm(cli: Cli) -> None:
    """
    ``serve`` runs a due schedule as a scheduled run; SIGTERM ends it
    cleanly with exit 0 and one line on stderr.
    """
    assert (
        0 == cli("schedules", "add", "categories", "--every", "1h").returncode
    )
    serving = cli.start("serve", "--poll", "0.2")
    try:
        started = serving.wait_for("run ")
        run_id = started.split()[1]
        assert f"run {run_id} started: shop categories" == started
        assert f"run {run_id} succeeded" == serving.wait_for("succeeded")
        serving.process.send_signal(signal.SIGTERM)
        assert 0 == serving.process.wait(timeout=30)
        assert serving.process.stderr is not None
        assert ["ecomsync serve: SIGTERM, stopping"] == (
            serving.process.stderr.read().splitlines()
        )
    finally:
        serving.stop()
    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert "scheduled" == shown["trigger"]


def test_serve_stopped_during_a_run_records_it_cancelled(
    tmp_path: Path, slow_shop: dict[str, str]
) -> None:
    """
    SIGTERM while a scheduled run is going: ``serve`` exits 0, prints
    ``run ID cancelled: REASON`` (the run's end, as for a run that ended
    by itself, saying who cancelled it) and the store has the run ended
    cancelled, with that reason, not running or abandoned.
    """
    cli = Cli(
        write_config(tmp_path, slow_shop, articles=3000),
        {**Cli.env_of(), "TEST_SHOP_SECRET": slow_shop["client_secret"]},
    )
    added = cli("schedules", "add", "categories", "articles", "--every", "1h")
    assert 0 == added.returncode, added.stderr
    serving = cli.start("serve", "--poll", "0.2")
    try:
        run_id = serving.wait_for("started: shop").split()[1]
        serving.process.send_signal(signal.SIGTERM)
        assert f"run {run_id} cancelled: {BY_HOST}" == serving.wait_for(run_id)
        assert 0 == serving.process.wait(timeout=60)
    finally:
        serving.stop()
    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert ("cancelled", "scheduled") == (shown["status"], shown["trigger"])
    assert shown["ended_at"] is not None
    assert BY_HOST == shown["error"]


def test_serve_says_why_a_scheduled_run_failed(
    tmp_path: Path, shop: dict[str, str]
) -> None:
    """
    A scheduled run that fails (credentials refused) ends with ``run ID
    failed: ...`` naming why, so the service's log says it without
    ``runs show``; the secret is not in it.
    """
    cli = Cli(
        write_config(tmp_path, shop),
        {**Cli.env_of(), "TEST_SHOP_SECRET": "wrong-secret"},
    )
    added = cli("schedules", "add", "categories", "--every", "1h")
    assert 0 == added.returncode, added.stderr
    serving = cli.start("serve", "--poll", "0.2")
    try:
        run_id = serving.wait_for("started: shop").split()[1]
        ended = serving.wait_for(run_id)
        serving.process.send_signal(signal.SIGTERM)
        assert 0 == serving.process.wait(timeout=60)
    finally:
        serving.stop()
    assert ended.startswith(f"run {run_id} failed: AuthenticationError: ")
    assert "refused the integration credentials" in ended
    assert "wrong-secret" not in ended


def test_serve_log_level_writes_the_library_log(
    tmp_path: Path, shop: dict[str, str]
) -> None:
    """
    ``serve --log-level warning`` writes the ``ecomsync`` logger's
    warnings (here why a scheduled run failed) to standard error, one
    line each, without the secret; without it nothing of the log shows.
    """
    cli = Cli(
        write_config(tmp_path, shop),
        {**Cli.env_of(), "TEST_SHOP_SECRET": "wrong-secret"},
    )
    added = cli("schedules", "add", "categories", "--every", "1h")
    assert 0 == added.returncode, added.stderr
    serving = cli.start("serve", "--poll", "0.2", "--log-level", "warning")
    try:
        run_id = serving.wait_for("started: shop").split()[1]
        serving.wait_for(f"run {run_id} failed")
        serving.process.send_signal(signal.SIGTERM)
        assert 0 == serving.process.wait(timeout=60)
        assert serving.process.stderr is not None
        logged = serving.process.stderr.read().splitlines()
    finally:
        serving.stop()
    warned = [line for line in logged if " WARNING ecomsync" in line]
    assert any(
        f"run {run_id} failed" in line
        and "refused the integration credentials" in line
        for line in warned
    ), logged
    assert not any("wrong-secret" in line for line in logged)
    assert "ecomsync serve: SIGTERM, stopping" == logged[-1]


def test_cron_schedule_with_zone(cli: Cli) -> None:
    """
    ``schedules add --cron --zone`` keeps the rule and its zone; a bad
    zone is a usage error naming it.
    """
    added = cli(
        "schedules", "add", "stock", "--cron", "0 2 * * *",
        "--zone", "Europe/Berlin", "--id", "nightly",
    )  # fmt: skip
    assert 0 == added.returncode, added.stderr

    (listed,) = json.loads(cli("schedules", "--json").stdout)
    assert ("0 2 * * *", "Europe/Berlin") == (listed["cron"], listed["zone"])
    assert listed["next_due"].endswith(("T01:00:00+00:00", "T00:00:00+00:00"))

    bad = cli("schedules", "add", "--cron", "0 2 * * *", "--zone", "Mars/X")
    assert 2 == bad.returncode
    assert "unknown time zone 'Mars/X'" in bad.stderr


def test_number_is_taken_as_written() -> None:
    """
    ``--number`` picks numbers ``--only`` cannot: each is taken as written,
    commas and outer spaces included; ``--only`` still splits on commas.
    """
    parser = _parser("sync")

    exact = _selection(
        parser.parse_args(
            ["sync", "articles", "--number", "A,1", "--number", " B-2 "]
        )
    )
    split = _selection(parser.parse_args(["sync", "--only", "A,1"]))

    assert Only({"A,1", " B-2 "}) == exact
    assert Only({"A", "1"}) == split


@pytest.mark.parametrize("given", ["A-1 .. A-9", " A-1..A-9 ", "A-1..A-9"])
def test_range_bounds_are_stripped(given: str) -> None:
    """
    ``--range "A-1 .. A-9"`` is A-1 to A-9, as ``--only`` strips its
    numbers: a bound "A-1 " sorts after A-1 and silently left it out.
    """
    parser = _parser("sync")

    taken = _selection(parser.parse_args(["sync", "--range", given]))

    assert NumberRange("A-1", "A-9") == taken
    assert "A-1" in taken


@pytest.mark.parametrize(
    ("given", "example"),
    [
        ("2026-11-01", "2026-11-01T00:00:00+00:00"),
        ("2026-11-01 08:30", "2026-11-01T08:30:00+00:00"),
        ("2026-11-01T08:30:15.5", "2026-11-01T08:30:15.500000+00:00"),
    ],
)
def test_since_without_zone_suggests_a_moment_it_takes(
    given: str, example: str
) -> None:
    """
    ``--since`` without a zone is refused with an example that is itself
    a valid ``--since`` (the moment as read, in UTC), not the text with
    ``+00:00`` appended (``2026-11-01+00:00`` reads as 00:00 naive).
    """
    parser = _parser("sync")

    with pytest.raises(UsageError) as caught:
        _selection(parser.parse_args(["sync", "--since", given]))
    taken = _selection(parser.parse_args(["sync", "--since", example]))

    assert f"--since {given!r}: give a zone, e.g. {example}" == str(
        caught.value
    )
    assert isinstance(taken, ChangedSince)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ((0, 3), 3),
        ((3, 4), 4),
        ((1, 3), 1),
        ((3, 1), 1),
        ((4, 1), 1),
        ((0, 0), 0),
    ],
)
def test_failures_retry_exit_is_the_worst_run(
    codes: tuple[int, int], expected: int
) -> None:
    """
    ``failures retry`` over several platforms exits with the most severe
    of their runs' codes: a failed run (1) is not hidden by another's
    failed records (3) or cancel (4).
    """
    assert expected == worst_exit(*codes)
