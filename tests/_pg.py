"""A real PostgreSQL server for tests: Debian's binaries, a temporary cluster, loopback only.

``pg_server`` (session scope) runs ``initdb`` and ``pg_ctl start`` in a fresh
temporary directory, listening on a free port of 127.0.0.1 only (no Unix socket
outside that directory), with password authentication. ``pg_url`` creates a new
database per test and yields its SQLAlchemy/optuna URL
``postgresql+psycopg2://trustlab:PASSWORD@127.0.0.1:PORT/NAME`` (for tests that
hand it to optuna directly); ``pg_readme_url`` yields the README's form
``postgresql://trustlab:PASSWORD@127.0.0.1:PORT/NAME``, which trustlab maps to the
installed driver. PostgreSQL refuses to run
as root, so as root the cluster belongs to the ``postgres`` system user (``runuser``).
Tests skip with the reason when the binaries (Debian package ``postgresql``) or psycopg2
are missing.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _require import missing

USER = "trustlab"


@dataclass
class PgServer:
    """A running test server: where it listens and how to log in."""

    port: int
    password: str
    datadir: Path

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=USER,
                                password=self.password, dbname="postgres")  # fmt: skip
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)


def pg_bindir() -> Path | None:
    """Newest ``/usr/lib/postgresql/N/bin`` with ``initdb`` and ``pg_ctl`` (or ``$PG_BINDIR``)."""
    env = os.environ.get("PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                          key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)  # fmt: skip
    if not env and shutil.which("pg_ctl"):
        candidates.insert(0, str(Path(shutil.which("pg_ctl")).parent))  # type: ignore[arg-type]
    for d in reversed(candidates):
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file():
            return Path(d)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


def start_server(base: Path) -> tuple[PgServer, str | None, Path]:
    """Init and start a cluster under ``base``; return it, its owning user and the bindir."""
    bindir = pg_bindir()
    if bindir is None:
        missing("PostgreSQL server binaries not found (Debian: apt-get install postgresql; "
                    ".ci/run installs it)")  # fmt: skip
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        missing("psycopg2 is not installed (pip install 'trustlab[distributed]')")
    owner = None
    if os.geteuid() == 0:
        owner = "postgres"
        if shutil.which("runuser") is None:
            missing("running as root without runuser: cannot start PostgreSQL as a non-root user")
        try:
            import pwd

            pw = pwd.getpwnam(owner)
        except KeyError:
            missing("running as root and there is no 'postgres' user to own the test cluster")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    base.chmod(0o700)
    datadir, pwfile = base / "data", base / "pwfile"
    password = secrets.token_hex(12)
    pwfile.write_text(password + "\n")
    if owner:
        shutil.chown(pwfile, owner)
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(datadir), "-U", USER, "--pwfile", str(pwfile),
                              "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"], owner),
                   **run)  # fmt: skip
    pwfile.unlink()
    opts = (f"-c listen_addresses=127.0.0.1 -c unix_socket_directories='{base}' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60 "
            "-c shared_buffers=32MB")  # fmt: skip
    last = ""
    for _ in range(5):  # the free port may be taken between probe and bind
        port = free_port()
        proc = subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(base / "log"),
                                         "-w", "-t", "60", "-o", f"{opts} -p {port}", "start"], owner),
                              capture_output=True, text=True, timeout=90)  # fmt: skip
        if proc.returncode == 0:
            return PgServer(port, password, datadir), owner, bindir
        last = proc.stderr + (base / "log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"PostgreSQL did not start: {last}")


def stop_server(server: PgServer, owner: str | None, bindir: Path) -> None:
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "immediate",
                              "-w", "stop"], owner), capture_output=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole test session (see the module docstring)."""
    base = Path(tempfile.mkdtemp(prefix="trustlab-pg-"))
    try:
        server, owner, bindir = start_server(base)
        try:
            yield server
        finally:
            stop_server(server, owner, bindir)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """URL of a new, empty database on :func:`pg_server` for this test."""
    return pg_server.create_database("t_" + uuid.uuid4().hex[:12])


@pytest.fixture
def pg_readme_url(pg_server: PgServer) -> str:
    """A new, empty database's URL as the README writes it: ``postgresql://user:pass@host/db``."""
    name = "t_" + uuid.uuid4().hex[:12]
    pg_server.create_database(name)
    return pg_server.url(name, driver="postgresql")
