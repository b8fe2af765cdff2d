"""
A throwaway PostgreSQL server for tests: a fresh cluster in a temporary
directory on a free loopback port, removed afterwards.

It needs the server binaries (Debian: ``postgresql-15``), found under
``/usr/lib/postgresql/*/bin``, on ``PATH`` or in ``ECOMSYNC_PG_BIN``.  As
root the server runs as an unprivileged user (``postgres`` or ``nobody``)
because ``initdb`` refuses to run as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..exceptions import EcomsyncError


__all__ = ["PostgresUnavailable", "find_pg_bin", "postgres_server"]


class PostgresUnavailable(EcomsyncError):
    """
    No throwaway PostgreSQL could be started (binaries missing or the
    server did not come up).
    """


def find_pg_bin() -> Path | None:
    """
    The directory holding ``initdb`` and ``pg_ctl``, newest version first;
    ``None`` if there is none.
    """
    env = os.environ.get("ECOMSYNC_PG_BIN")
    candidates: list[Path] = [Path(env)] if env else []

    def version(path: Path) -> tuple[int, ...]:
        name = path.parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> pwd.struct_passwd | None:
    """
    The user to run the server as when we are root; ``None`` otherwise.
    """
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable(
        "running as root and there is neither a 'postgres' nor a 'nobody' "
        "user to run PostgreSQL as"
    )


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    os.chown(path, user.pw_uid, user.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(Path(root) / name, user.pw_uid, user.pw_gid)


@contextlib.contextmanager
def postgres_server(
    *, start_timeout: float = 60.0, bin_dir: Path | None = None
) -> Iterator[str]:
    """
    Start a throwaway PostgreSQL; yield its DSN (superuser ``postgres``,
    database ``postgres``, trust authentication on loopback only).  The
    server is stopped and its directory removed on exit.

    Raises:
        PostgresUnavailable: The binaries are missing or the server did
            not start; the message says why.
    """
    bin_dir = bin_dir or find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) under "
            "/usr/lib/postgresql/*/bin or on PATH; install postgresql-15"
        )
    user = _run_as()
    base = Path(tempfile.mkdtemp(prefix="ecomsync-pg-"))
    data = base / "data"
    log = base / "server.log"
    prefix: list[str] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    if user is not None:
        _chown_tree(base, user)
        prefix = ["runuser", "-u", user.pw_name, "--"]

    def run(*args: str) -> None:
        done = subprocess.run(  # noqa: S603 -- fixed binaries, our args
            [*prefix, *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=base,
        )
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}\n{server_log}"
            )

    started = False
    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        port = 0
        for _attempt in range(5):
            port = _free_port()
            options = " ".join(
                [
                    f"-p {port}",
                    f"-k {base}",
                    "-c listen_addresses=127.0.0.1",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
            try:
                run(
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    str(int(start_timeout)),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                )
            except PostgresUnavailable:
                if "already in use" in (
                    log.read_text() if log.exists() else ""
                ):
                    continue
                raise
            started = True
            break
        if not started:
            raise PostgresUnavailable("no free port for PostgreSQL")
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _wait_ready(dsn, start_timeout)
        yield dsn
    finally:
        if started:
            with contextlib.suppress(PostgresUnavailable):
                run(
                    str(bin_dir / "pg_ctl"),
                    "stop",
                    "-m",
                    "immediate",
                    "-D",
                    str(data),
                )
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(dsn: str, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"PostgreSQL did not accept connections: {exc}"
                ) from exc
            time.sleep(0.1)
