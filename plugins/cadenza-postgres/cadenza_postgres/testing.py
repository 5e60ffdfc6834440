"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary folder.

Postgres is a real service, so the plugin's tests (and a plugin author's, or a
benchmark's) start one of their own instead of mocking the driver:
:func:`throwaway_server` creates a cluster in a fresh temporary folder, starts
it on a free loopback port (its unix socket in that folder too), yields a
:class:`Server` and stops and deletes it all afterwards.

Postgres refuses to run as root; when we are root (CI, containers) the server
runs as the ``postgres`` user that Debian's ``postgresql`` package creates.
The binaries are found by :func:`find_bin_dir`; without them,
:func:`require_binaries` skips the calling test with a notice, unless
``CI=true`` or ``CADENZA_REQUIRE_POSTGRES=1`` makes a missing server an error
(as ``CADENZA_REQUIRE_BROWSER`` does for the browser session).

Authentication: the ``postgres`` superuser connects without a password over
loopback (``trust``); every other role must give its password
(``scram-sha-256``), so a test can check what a bad password does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "POSTGRES_USER",
    "Server",
    "find_bin_dir",
    "postgres_required",
    "require_binaries",
    "throwaway_server",
]

POSTGRES_USER = "postgres"
"""The server's superuser, and the system user it runs as when we are root."""

_BINARIES = ("initdb", "pg_ctl", "postgres")

DEBIAN_ROOT = Path("/usr/lib/postgresql")
"""Where Debian's postgresql packages put each version's binaries (``<version>/bin``)."""

TEST_SETTINGS: Mapping[str, str] = {"fsync": "off", "full_page_writes": "off"}
"""Settings that make a test cluster fast; a crash of the *machine* could lose its data."""


@attrs.frozen(kw_only=True)
class Server:
    """A running throwaway server: where it listens and how to reach it."""

    host: str
    port: int
    socket_dir: Path
    data_dir: Path
    bin_dir: Path
    user: str = POSTGRES_USER

    def url(self, database: str = "postgres", *, user: str = "", password: str = "") -> str:
        """A ``postgresql://`` URL for ``database`` (as ``user``, by default the superuser)."""
        who = user or self.user
        if password:
            who += f":{password}"
        return f"postgresql://{who}@{self.host}:{self.port}/{database}"

    def sql(self, statement: str, *, database: str = "postgres") -> str:
        """Run one SQL statement as the superuser with ``psql``-free means (the driver).

        Returns the first column of the first row as text ("" when there is none).
        """
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(statement)
            row = cur.fetchone() if cur.description else None
        return "" if row is None else str(row[0])

    def create_database(self, name: str) -> str:
        """Create an empty database ``name``; return its URL."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None.

    ``CADENZA_POSTGRES_BIN`` wins; then the folder of ``pg_ctl`` on PATH (as
    long as initdb and postgres sit beside it); then Debian's
    ``/usr/lib/postgresql/<version>/bin``, newest version first.
    """
    candidates: list[Path] = []
    if os.environ.get("CADENZA_POSTGRES_BIN"):
        candidates.append(Path(os.environ["CADENZA_POSTGRES_BIN"]))
    on_path = shutil.which("pg_ctl", path=os.environ.get("PATH", os.defpath))
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian = DEBIAN_ROOT
    if debian.is_dir():
        versions = sorted(
            (p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: -int(p.name)
        )
        candidates.extend(p / "bin" for p in versions)
    for folder in candidates:
        if all((folder / name).is_file() for name in _BINARIES):
            return folder
    return None


def postgres_required() -> bool:
    """True when a missing server must fail the tests (CI), not skip them."""
    return os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get(
        "CADENZA_REQUIRE_POSTGRES", ""
    ) in ("1", "true")


NOT_FOUND = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: looked at "
    "$CADENZA_POSTGRES_BIN, PATH and /usr/lib/postgresql/*/bin. Install them "
    "(Debian: apt-get install postgresql) or set CADENZA_POSTGRES_BIN."
)


def require_binaries() -> Path:
    """The binaries' folder; skip the calling test without them (fail when required)."""
    import pytest

    found = find_bin_dir()
    if found is None:
        if postgres_required():
            pytest.fail(f"{NOT_FOUND} (required: CI=true or CADENZA_REQUIRE_POSTGRES=1)")
        pytest.skip(f"{NOT_FOUND} The Postgres tests are skipped.")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user() -> dict[str, Any]:
    """subprocess keywords running a command as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root, and Postgres refuses to: there is no {POSTGRES_USER!r} user "
            "to run it as. Install Debian's postgresql package (it creates the user) or "
            "run the tests as an ordinary user."
        ) from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run(cmd: list[str], as_user: Mapping[str, Any], log: Path | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **as_user)
    if done.returncode != 0:
        more = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(
            f"{' '.join(cmd[:2])} failed (exit {done.returncode}):\n"
            f"{done.stdout}{done.stderr}{more}"
        )


_HBA = """\
local all all trust
host all {user} 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


@contextlib.contextmanager
def throwaway_server(
    bin_dir: Path | None = None, *, settings: Mapping[str, str] = TEST_SETTINGS
) -> Iterator[Server]:
    """Create, start, yield and finally delete a PostgreSQL cluster on a free loopback port.

    ``settings`` are ``postgres -c`` settings; the default trades crash safety
    of the *machine* for speed (``fsync=off``), pass ``{}`` for a server as
    durable as a production one (benchmarks do).
    """
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(NOT_FOUND)
    as_user = _as_server_user()
    # Not under pytest's tmp_path: its folders are private to us; the server may be another user.
    root = Path(tempfile.mkdtemp(prefix="cadenza-pg-"))
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if as_user:
        for path in (root, sock):
            os.chown(path, as_user["user"], as_user["group"])
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", POSTGRES_USER, "-E", "UTF8",
             "--no-locale", "--auth=trust", "--no-sync"],
            as_user,
        )  # fmt: skip
        (data / "pg_hba.conf").write_text(_HBA.format(user=POSTGRES_USER))
        port = 0
        for _attempt in range(3):  # a free port can be taken before the server binds it
            port = _free_port()
            options = {
                "listen_addresses": "127.0.0.1",
                "port": str(port),
                "unix_socket_directories": str(sock),
                "max_connections": "60",
                "shared_buffers": "32MB",
                **settings,
            }
            opts = " ".join(f"-c {key}={value}" for key, value in options.items())
            try:
                _run(
                    [str(bin_dir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
                     "-l", str(log), "-o", opts],
                    as_user,
                    log,
                )  # fmt: skip
                break
            except RuntimeError:
                if _attempt == 2:
                    raise
        yield Server(host="127.0.0.1", port=port, socket_dir=sock, data_dir=data, bin_dir=bin_dir)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", str(data)],
                capture_output=True,
                check=False,
                **as_user,
            )
        shutil.rmtree(root, ignore_errors=True)
