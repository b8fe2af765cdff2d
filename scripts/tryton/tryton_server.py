#!/usr/bin/env python3
"""
A throw-away Tryton ERP (SQLite) for ecomsync's tests and for trying
TrytonErp by hand.  Needs only Python >= 3.10 and PyPI; no system packages.

    python scripts/tryton/tryton_server.py prepare
    python scripts/tryton/tryton_server.py start DIR [--port N]
    python scripts/tryton/tryton_server.py stop DIR

prepare  installs trytond and the modules TrytonErp needs into a cached
         virtualenv and creates a *pristine* database (modules activated,
         EUR, country DE, a company that the admin user works for).  Both are
         cached, keyed by the Tryton series, the Python version and a hash of
         this recipe, so a second call costs nothing.  The cache lives in
         $ECOMSYNC_CACHE/tryton, or in <repo>/.cache/tryton (which ignores
         itself in git).  A file lock makes concurrent callers wait.
start    prepares, copies the pristine database into DIR, starts trytond on
         127.0.0.1 (a free port unless --port), waits until a JSON-RPC login
         works and prints one JSON line on stdout:
         {"url", "database", "user", "password", "pid", "dir", "port"}.
stop     stops the server started in DIR.

Progress goes to stderr with timings.  Environment: ECOMSYNC_CACHE,
PYTHON (the interpreter for the Tryton venv; default: this one),
TRYTON_ADMIN_PASSWORD (default "admin").
"""

# ruff: noqa: S603 -- runs its own venv's tools, no untrusted input

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


SERIES = "8.2"
DATABASE = "ecomsync"
USER = "admin"
MODULES = (
    "party",
    "company",
    "currency",
    "country",
    "product",
    "product_image",
    "product_attribute",
    "stock",
    "sale",
)
READY_TIMEOUT = 90.0
_T0 = time.monotonic()

# Run by the Tryton venv's Python with direct database access (proteus in
# trytond mode): what a fresh Tryton lacks for selling anything.
BOOTSTRAP = """
import sys
from decimal import Decimal
from proteus import Model, config
config.set_trytond(database=sys.argv[1], config_file=sys.argv[2])
eur = Model.get('currency.currency')(
    name='Euro', code='EUR', symbol='\\u20ac', rounding=Decimal('0.01'),
    digits=2)
eur.save()
Model.get('country.country')(name='Germany', code='DE').save()
Model.get('country.country')(name='Austria', code='AT').save()
party = Model.get('party.party')(name='ecomsync Test GmbH')
party.save()
company = Model.get('company.company')(party=party, currency=eur)
company.save()
User = Model.get('res.user')
admin, = User.find([('login', '=', 'admin')])
admin.companies.append(Model.get('company.company')(company.id))
admin.company = company
admin.save()
print('bootstrap done: company', company.id)
"""


def log(message: str) -> None:
    print(
        f"[tryton_server {time.monotonic() - _T0:5.1f}s] {message}",
        file=sys.stderr,
        flush=True,
    )


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    base = os.environ.get("ECOMSYNC_CACHE")
    if base:
        path = Path(base) / "tryton"
    else:
        root = repo_root() / ".cache"
        root.mkdir(exist_ok=True)
        ignore = root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# created by scripts/tryton: never commit\n*\n")
        path = root / "tryton"
    path.mkdir(parents=True, exist_ok=True)
    return path


def python() -> str:
    return os.environ.get("PYTHON") or sys.executable


def _python_tag(interpreter: str) -> str:
    out = subprocess.run(
        [
            interpreter,
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2])",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def _packages() -> list[str]:
    pkgs = [f"trytond=={SERIES}.*", f"proteus=={SERIES}.*"]
    pkgs += [f"trytond-{m.replace('_', '-')}=={SERIES}.*" for m in MODULES]
    return pkgs


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


@contextlib.contextmanager
def _locked(path: Path):  # type: ignore[no-untyped-def]
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_conf(directory: Path, port: int) -> Path:
    conf = directory / "trytond.conf"
    conf.write_text(
        "[database]\n"
        "uri = sqlite://\n"
        f"path = {directory / 'db'}\n"
        "[web]\n"
        f"listen = 127.0.0.1:{port}\n"
    )
    return conf


def _run(cmd: list[str], logfile: Path, **kwargs: object) -> None:
    with logfile.open("a") as out:
        done = subprocess.run(  # noqa: PLW1510 -- checked below
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            **kwargs,  # type: ignore[call-overload]
        )
    if done.returncode:
        tail = logfile.read_text().splitlines()[-15:]
        raise SystemExit(
            f"{Path(cmd[0]).name} failed ({done.returncode}), see {logfile}:\n"
            + "\n".join(tail)
        )


def install() -> Path:
    """
    The cached Tryton virtualenv, created on first use.
    """
    interpreter = python()
    tag = _python_tag(interpreter)
    venv = cache_dir() / f"venv-{SERIES}-py{tag}-{_key(*_packages())}"
    marker = venv / ".complete"
    if marker.exists():
        return venv
    with _locked(cache_dir() / ".lock-venv"):
        if marker.exists():
            return venv
        log(f"installing Tryton {SERIES} into {venv}")
        shutil.rmtree(venv, ignore_errors=True)
        logfile = cache_dir() / "install.log"
        _run([interpreter, "-m", "venv", str(venv)], logfile)
        _run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *_packages(),
            ],
            logfile,
        )
        marker.touch()
        log("installed")
    return venv


def pristine(venv: Path, password: str) -> Path:
    """
    The cached, bootstrapped database file (never served: copy it).
    """
    key = _key(venv.name, " ".join(MODULES), BOOTSTRAP, password)
    directory = cache_dir() / f"db-{SERIES}-{key}"
    database = directory / "db" / f"{DATABASE}.sqlite"
    marker = directory / ".complete"
    if marker.exists():
        return database
    with _locked(cache_dir() / ".lock-db"):
        if marker.exists():
            return database
        log(f"creating the pristine database in {directory}")
        shutil.rmtree(directory, ignore_errors=True)
        (directory / "db").mkdir(parents=True)
        database.touch()  # trytond-admin wants the SQLite file to exist
        conf = _write_conf(directory, 8000)
        logfile = directory / "admin.log"
        with tempfile.NamedTemporaryFile("w", suffix=".pw") as passfile:
            passfile.write(password)
            passfile.flush()
            _run(
                [
                    str(venv / "bin" / "trytond-admin"),
                    "-c",
                    str(conf),
                    "-d",
                    DATABASE,
                    "--email",
                    "admin@example.com",
                    "-u",
                    *MODULES,
                    "--activate-dependencies",
                ],
                logfile,
                env={**os.environ, "TRYTONPASSFILE": passfile.name},
            )
        log("modules activated; bootstrapping company, currency, country")
        _run(
            [
                str(venv / "bin" / "python"),
                "-c",
                BOOTSTRAP,
                DATABASE,
                str(conf),
            ],
            logfile,
        )
        marker.touch()
        log("pristine database ready")
    return database


def prepare(password: str) -> tuple[Path, Path]:
    venv = install()
    return venv, pristine(venv, password)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _login_works(port: int, password: str) -> bool:
    body = json.dumps(
        {
            "id": 0,
            "method": "common.db.login",
            "params": [USER, {"password": password}, "en"],
        }
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/{DATABASE}/rpc/",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310
            data = json.load(answer)
    except (OSError, ValueError, urllib.error.URLError):
        return False
    if "result" not in data:
        return False
    # log out again: a readiness probe should not leave a session behind
    user_id, token = data["result"][:2]
    import base64

    auth = base64.b64encode(f"{USER}:{user_id}:{token}".encode()).decode()
    logout = urllib.request.Request(
        f"http://127.0.0.1:{port}/{DATABASE}/rpc/",
        data=json.dumps(
            {"id": 1, "method": "common.db.logout", "params": []}
        ).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Session {auth}",
        },
    )
    with contextlib.suppress(OSError):
        urllib.request.urlopen(logout, timeout=2).close()  # noqa: S310
    return True


def start(
    directory: Path, port: int | None, password: str
) -> dict[str, object]:
    venv, database = prepare(password)
    directory = directory.resolve()
    (directory / "db").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(database, directory / "db" / database.name)
    port = port or _free_port()
    conf = _write_conf(directory, port)
    logfile = directory / "trytond.log"
    pidfile = directory / "trytond.pid"
    log(f"starting trytond on 127.0.0.1:{port} (log: {logfile})")
    with logfile.open("a") as out:
        # -d preloads the pool: without it the first login of a fresh
        # server fails (KeyError 'res.user').
        server = subprocess.Popen(
            [
                str(venv / "bin" / "trytond"),
                "-c",
                str(conf),
                "-d",
                DATABASE,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pidfile.write_text(str(server.pid))
    deadline = time.monotonic() + READY_TIMEOUT
    while not _login_works(port, password):
        if server.poll() is not None:
            tail = "\n".join(logfile.read_text().splitlines()[-15:])
            raise SystemExit(f"trytond exited ({server.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            stop(directory)
            raise SystemExit(f"trytond not ready after {READY_TIMEOUT} s")
        time.sleep(0.3)
    log(f"ready: pid {server.pid}")
    info: dict[str, object] = {
        "url": f"http://127.0.0.1:{port}",
        "database": DATABASE,
        "user": USER,
        "pid": server.pid,
        "port": port,
        "dir": str(directory),
    }
    return info


def stop(directory: Path) -> None:
    pidfile = directory / "trytond.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            time.sleep(0.1)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink()
    log(f"stopped pid {pid}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare")
    for name in ("start", "stop"):
        command = commands.add_parser(name)
        command.add_argument("dir", type=Path)
        if name == "start":
            command.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    password = os.environ.get("TRYTON_ADMIN_PASSWORD", "admin")
    if args.command == "prepare":
        venv, database = prepare(password)
        print(json.dumps({"venv": str(venv), "database": str(database)}))
    elif args.command == "start":
        print(json.dumps(start(args.dir, args.port, password)), flush=True)
    else:
        stop(args.dir)


if __name__ == "__main__":
    main()
