"""
One session per check.  `nox -s tests` is what CI runs; see README.
"""

from __future__ import annotations

import os

import nox


nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typing", "docs"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
EXTRAS = ".[testing,postgres,locking,demo,otel,cron]"


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    """
    The whole test suite with branch coverage (>= 90 % of src/ecomsync).
    """
    session.install(EXTRAS, *_group("tests"))
    session.run("coverage", "erase")
    session.run(
        "coverage",
        "run",
        "-m",
        "pytest",
        *session.posargs,
    )
    session.run("coverage", "combine", success_codes=[0, 1])
    session.run("coverage", "report", "--fail-under=90")


@nox.session
def lint(session: nox.Session) -> None:
    """
    ruff: lint and format check.
    """
    session.install(*_group("lint"))
    session.run("ruff", "check", "src", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "bench")


@nox.session
def typing(session: nox.Session) -> None:
    """
    mypy --strict on the package and on a file using the public API.
    """
    session.install(EXTRAS, *_group("typing"))
    session.run("mypy", "--strict", "src/ecomsync")
    session.run("mypy", "--strict", "tests/typing/api.py")


@nox.session
def docs(session: nox.Session) -> None:
    """
    Sphinx, warnings as errors.
    """
    session.install(EXTRAS, *_group("docs"))
    session.run(
        "sphinx-build", "-W", "-n", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session
def demo(session: nox.Session) -> None:
    """
    The demo: a manual sync of all five types, then a scheduled rerun.
    """
    session.install(EXTRAS)
    session.run("python", "-m", "ecomsync", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """
    Benchmarks against the lower bound and a naive baseline; results in
    bench/results/.  ``nox -s bench -- --quick`` is the smoke size CI runs.
    """
    session.install(EXTRAS, *_group("tests"), *_group("bench"))
    session.run(
        "python",
        "-m",
        "bench",
        *session.posargs,
        env={"PYTHONPATH": os.getcwd()},
    )
