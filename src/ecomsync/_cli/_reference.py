"""
docs/cli.md, written from the parser itself so that the reference cannot
drift: ``python -m ecomsync._cli._reference > docs/cli.md`` (a test
compares the file with `reference`).
"""

from __future__ import annotations

import argparse

from ._commands import EXIT
from ._config_table import SECRET_KEYS


__all__ = ["reference"]

_HEAD = """\
# Command line

<!-- Written by `python -m ecomsync._cli._reference > docs/cli.md`;
     tests/cli/test_reference.py keeps it in step with the parser. -->

`ecomsync` (or `python -m ecomsync`) checks connections, previews and runs
synchronisations, shows runs and failures, cancels and resumes runs and
serves schedules, all over one config file; `demo` and `worker` need none.
Every listing command takes `--json` for scripts: one JSON document on
standard output. `sync` and `resume` print the run as `runs show RUN
--json` does (`id`, `trigger`, `platform`, `status`, `started_at`,
`ended_at`, `schedule_id`, `error`, `owner` and `heartbeat_at` of the
process running a queued or running run, `counts` per type and
`failures`; what a run lacks, such as the `ended_at` of a running run
or the `owner` of a finished one, is `null`), `failures retry` a
list of its runs, one per platform with failures (`[]` when the ledger
is empty); a run that failed (exit 1) is printed too, with its
`error`, and the error is also the one line on standard error.

## The config file

One TOML file (default `ecomsync.toml` in the working directory, or
`-c FILE`, before or after the command) with the tables `[erp]`
(`type` = `tryton` or `demo`),
`[platforms.NAME]` (`type` = `shopware6`, `woocommerce`, `shopify` or
`vendure`; NAME is what runs and `--platform` call it), `[store]`
(`sqlite` or `postgres`), `[licenses]` (`local`, `file` or `postgres`),
`[staging]`, `[sync]` and `[[schedules]]` (installed by `serve` on
start); the
[deployment guide](deployment.md#the-config-file) lists every key. Relative
paths in it are relative to the file. A key a table does not take is a
configuration error naming the key and the table (exit 2).

Secrets are never written in it: a secret key `K` ({secrets}) is given as
`K_env = "VARIABLE"` (read from the environment) or `K_file = "path"`
(the file's text, stripped). An inline secret is a configuration error
naming the key (exit 2).

```toml
[erp]
type = "tryton"
url = "https://erp.example.com"
database = "shop"
user = "ecomsync"
password_env = "TRYTON_PASSWORD"

[platforms.shop-de]           # the name runs use for the platform
type = "shopware6"
url = "https://shop.example.com"
client_id = "SWIA..."
client_secret_file = "/run/secrets/shopware"

[store]
path = "ecomsync.db"          # SQLite, the default

[licenses]
type = "file"                 # shared by the processes of this machine
directory = "licences"
count = 2

[[schedules]]
name = "nightly"              # stored as schedule config:nightly
types = ["categories", "articles"]
cron = "0 2 * * *"            # or every = "15m"
zone = "Europe/Berlin"
```

## Selections

`plan`, `sync` and `schedules add` take data types by name
(`categories`, `articles`, `stock`, `addresses_and_orders`,
`order_status`; none: every type the platform handles). `plan` and
`sync` take one selection for them: nothing (all records),
`--range FIRST..LAST`, `--since 2026-11-01T00:00+01:00` (a zone is
required) or `--only A-1,A-2`. A schedule takes none: each scheduled run
reads what changed since that type's last scheduled run.

## Exit codes

| code | meaning |
|---|---|
"""

_OUTPUT_FAILS = """
`failures retry` starts one run per platform with failures; its exit code
is the worst of theirs: 1 before 4 before 3 before 0.

Standard output is not the work: when it fails during `sync`, `resume` or
`failures retry`, the run goes on to its end without it. A reader that
left (`ecomsync sync | head`) changes nothing else; any other failure (a
full disk under a redirected output, a standard output closed with `>&-`
before the start) is one line on standard error naming the run and its
status, and the exit code is 1 if the run itself would have given 0
(whoever reads the output has not got it all). The other commands do
their work all the same and say so on one line, exit 1.
"""

_MEANING = {
    "ok": "done, nothing failed",
    "failed": "the work ran and failed: a run failed or was abandoned, "
    "`check` found a problem, a platform refused the credentials",
    "usage": "a usage or configuration error; nothing ran",
    "records_failed": "the run finished, but some records failed "
    "(see `ecomsync failures`)",
    "cancelled": "the run was cancelled (`ecomsync cancel`)",
    "interrupted": "interrupted by Ctrl-C or SIGTERM (`serve` and "
    "`worker`: 0); a run in flight ends cancelled",
}


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, str):
        return action.metavar
    if action.choices:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return str(action.dest).upper()


def _options(parser: argparse.ArgumentParser) -> str:
    """
    One table row per argument (not argparse's help text, whose layout
    changes between Python versions).
    """
    rows = ["| argument | meaning |", "|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            name = ", ".join(action.option_strings)
            if action.nargs != 0:
                name += f" {_metavar(action)}"
        else:
            name = _metavar(action)
        text = (action.help or "") % {**vars(action), "prog": parser.prog}
        if action.choices and not action.option_strings:
            text += f" (one of: {', '.join(map(str, action.choices))})"
        rows.append(f"| `{name}` | {text.replace('|', '/')} |")
    return "\n".join(rows)


def reference() -> str:
    """
    The command-line reference as Markdown.
    """
    from ecomsync.__main__ import _parser

    parser = _parser()
    secrets = ", ".join(f"`{k}`" for k in sorted(SECRET_KEYS))
    parts = [_HEAD.replace("{secrets}", secrets)]
    for name, code in EXIT.items():
        parts.append(f"| {code} | {_MEANING[name]} |\n")
    parts.append(_OUTPUT_FAILS)
    parts.append("\n## Commands\n")
    sub = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    helps = {c.dest: c.help for c in sub._choices_actions}
    for name, command in sub.choices.items():
        parts.append(
            f"\n### `ecomsync {name}`\n\n{helps[name]}.\n\n"
            f"{_options(command)}\n"
        )
    return "".join(parts)


if __name__ == "__main__":
    print(reference(), end="")
