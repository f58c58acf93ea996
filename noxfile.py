"""nox sessions: tests (default), lint, typecheck, e2e (real devices; never by default)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "bench", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "bench")


@nox.session
def e2e(session: nox.Session) -> None:
    """Tests that need a real phone attached (marked `device`)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", "-m", "device", *session.posargs)
