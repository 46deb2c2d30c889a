"""A throwaway PostgreSQL cluster for the tests: initdb in a temp dir, a random free
port on 127.0.0.1, stopped and removed at the end of the session.

``EVALKIT_TEST_PG=postgresql://...`` uses a server that is already running instead
(a CI service container). Without either, the PostgreSQL tests skip with the
reason outside CI; with ``CI`` set a missing server fails them.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"no PostgreSQL server: {reason}")


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
    return Path(dirs[-1]) if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, base_url: str, data: Path | None = None, bins: Path | None = None, user: str | None = None,
                 opts: str = ""):
        self.base_url, self.data, self.bins, self.user, self.opts = base_url, data, bins, user, opts

    def url(self, db: str = "postgres", password: str | None = None) -> str:
        head, _, _ = self.base_url.rpartition("/")
        if password:
            head = head.replace("postgresql://postgres@", f"postgresql://postgres:{password}@")
        return f"{head}/{db}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return name

    def ctl(self, *args: str) -> None:
        assert self.data is not None, "a server started elsewhere cannot be restarted from the tests"
        # -l again: without it a restarted server writes to (and holds open) our stdout pipe
        _as_user(self.user, [str(self.bins / "pg_ctl"), "-D", str(self.data), "-l", str(self.data.parent / "log"), *args])


    def start(self) -> None:
        self.ctl("-o", self.opts, "-w", "start")


def _as_user(user: str | None, cmd: list[str]) -> None:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


def _sweep(bins: Path) -> None:
    """Stop and remove clusters whose test process died without its teardown (SIGKILL, timeout)."""
    for root in Path(tempfile.gettempdir()).glob("evalkit-pg-*"):
        try:
            owner = int((root / "owner.pid").read_text())
            os.kill(owner, 0)
            continue  # its process still runs
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # not ours to judge
        if (root / "data" / "postmaster.pid").exists():
            try:
                _as_user(root.stat().st_uid and pwd.getpwuid(root.stat().st_uid).pw_name or None,
                         [str(bins / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"])
            except (subprocess.CalledProcessError, OSError, KeyError):
                pass
        shutil.rmtree(root, ignore_errors=True)


def start_cluster() -> tuple[PgServer, Path]:
    bins = _bin_dir()
    if bins is None:
        _unavailable("initdb not found (apt-get install postgresql)")
    _sweep(bins)
    user = None
    root = Path(tempfile.mkdtemp(prefix="evalkit-pg-"))
    (root / "owner.pid").write_text(str(os.getpid()))
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to run the server as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        user = "postgres"
    port = _free_port()
    data = root / "data"
    try:
        _as_user(user, [str(bins / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        _as_user(user, [str(bins / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", opts, "-w", "start"])
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"could not start a cluster: {getattr(exc, 'stderr', '') or exc}")
    return PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, bins, user, opts), root


@pytest.fixture(scope="session")
def pg_server():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'psycopg[binary]==3.3.9')")
    external = os.environ.get("EVALKIT_TEST_PG")
    if external:
        yield PgServer(external)
        return
    server, root = start_cluster()
    try:
        yield server
    finally:
        try:
            server.ctl("-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty database of the session's server."""
    return pg_server.url(pg_server.new_database())
