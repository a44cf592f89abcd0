"""A throwaway PostgreSQL server for tests.

`start_server()` runs `initdb` into a fresh temporary directory and starts a server on 127.0.0.1 on a
free port, with durability switched off (fsync, synchronous_commit, full_page_writes), trust auth and the
superuser `app`. `PgServer.create_database()` gives each test its own database; `stop()` stops the server
and removes the directory. Each pytest-xdist worker starts its own server.

PostgreSQL refuses to run as root, so as root the server runs as `postgres` (or as `pgtest`, created when
neither exists). Set `KEDA_AUTH_TEST_PG_URL` to an admin SQLAlchemy URL (a superuser or a role with
CREATEDB, on the `postgres` database) to use an existing server instead; `stop()` then leaves it alone.

Anything that prevents a server raises `PgUnavailable` with the reason (missing binaries, the failing
command's stderr, the server log).
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    import psycopg

ENV_URL = "KEDA_AUTH_TEST_PG_URL"
SUPERUSER = "app"
SERVICE_USER = "pgtest"
_PORT_ATTEMPTS = 5
_DB_NAME = re.compile(r"t_[0-9a-f]{16}")
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PgUnavailable(Exception):  # noqa: N818 - the name the kit's users know
    """No PostgreSQL server can be used here; the message says why."""


class PgServer:
    """A PostgreSQL server: a throwaway one (`datadir` set) or an existing one from `KEDA_AUTH_TEST_PG_URL`."""

    def __init__(self, admin_url: str, *, bindir: Path | None = None, base: Path | None = None,
                 run_as: str | None = None) -> None:
        self.admin_url = admin_url
        self._bindir = bindir
        self._base = base
        self._run_as = run_as

    @property
    def throwaway(self) -> bool:
        return self._base is not None

    def create_database(self) -> str:
        """Create an empty database with a unique name; returns its SQLAlchemy URL."""
        from psycopg import sql

        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        """Drop a database made by `create_database`, closing its open connections (WITH (FORCE))."""
        from psycopg import sql

        name = make_url(url).database or ""
        if not _DB_NAME.fullmatch(name):
            raise ValueError(f"not a database made by create_database(): {name!r}")
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop a throwaway server and remove its directory; idempotent. Does nothing for an external server."""
        base, self._base = self._base, None
        if base is None:
            return
        try:
            if self._bindir is not None and (base / "data" / "postmaster.pid").exists():
                _run([str(self._bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "fast", "-w", "stop"],
                     user=self._run_as, cwd=base)
        except PgUnavailable:
            pass
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def _admin(self) -> psycopg.Connection[tuple[Any, ...]]:
        return _connect(self.admin_url)

    def _check(self) -> None:
        try:
            with self._admin() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:
            raise PgUnavailable(f"cannot connect to {_redacted(self.admin_url)}: {exc}") from exc


def start_server() -> PgServer:
    """The server of `KEDA_AUTH_TEST_PG_URL`, else a fresh throwaway one (stop it with `stop()`)."""
    external = os.environ.get(ENV_URL, "").strip()
    if external:
        server = PgServer(_normalise_url(external))
        server._check()
        return server

    bindir = find_bindir()
    run_as = _service_user()
    base = Path(tempfile.mkdtemp(prefix="keda-auth-pg-", dir=_temp_parent()))
    server = PgServer("", bindir=bindir, base=base, run_as=run_as)
    try:
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        os.chmod(base, 0o700)
        _initdb(bindir, base, run_as)
        port = _start(bindir, base, run_as)
        server.admin_url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
        server._check()
    except BaseException:
        server.stop()
        raise
    atexit.register(server.stop)  # a safety net if the session is torn down without calling stop()
    return server


def find_bindir() -> Path:
    """The directory with initdb/pg_ctl: `pg_config --bindir`, the newest /usr/lib/postgresql/*/bin, PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=False)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.TimeoutExpired):
            pass
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version_key(p.parent.name),
                         reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)  # Debian links /usr/local/bin/initdb etc.
    for bindir in candidates:
        if _executable(bindir / "initdb") and _executable(bindir / "pg_ctl"):
            return bindir
    raise PgUnavailable("no PostgreSQL server binaries: initdb/pg_ctl not found via `pg_config --bindir`, "
                        "in /usr/lib/postgresql/*/bin or on PATH (install the `postgresql` package)")


def _initdb(bindir: Path, base: Path, run_as: str | None) -> None:
    data = base / "data"
    reason = ""
    for locale in ("C.UTF-8", "C"):
        proc = _run([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                     f"--locale={locale}", "--no-sync"], user=run_as, cwd=base)
        if proc.returncode == 0:
            return
        reason = f"initdb failed (exit {proc.returncode}, as {run_as or 'current user'}): {_tail(proc)}"
        if "locale" not in (proc.stderr + proc.stdout).lower():
            break
        shutil.rmtree(data, ignore_errors=True)
    raise PgUnavailable(reason)


def _start(bindir: Path, base: Path, run_as: str | None) -> int:
    log = base / "server.log"
    reason = ""
    for _ in range(_PORT_ATTEMPTS):
        port = _free_port()
        options = " ".join([f"-p {port}", f"-k {shlex.quote(str(base))}",
                            *(f"-c {key}={value}" for key, value in _SERVER_SETTINGS.items())])
        seen = log.stat().st_size if log.exists() else 0
        proc = _run([str(bindir / "pg_ctl"), "-D", str(base / "data"), "-l", str(log), "-w", "-t", "60",
                     "-o", options, "start"], user=run_as, cwd=base)
        if proc.returncode == 0:
            return port
        server_log = _read_from(log, seen)
        reason = (f"pg_ctl start failed (exit {proc.returncode}, port {port}): {_tail(proc)}"
                  f"{'; server log: ' + _last_lines(server_log) if server_log else ''}")
        if "could not bind" not in server_log and "already in use" not in server_log:
            break  # not a port clash with another worker: retrying will not help
    raise PgUnavailable(reason)


def _service_user() -> str | None:
    """None when not root (run as ourselves); else `postgres`, else `pgtest` (created if needed)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SERVICE_USER):
        if _user_exists(name):
            return name
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    try:
        proc = subprocess.run([useradd, "-r", "-M", "-s", "/usr/sbin/nologin", SERVICE_USER],
                              capture_output=True, text=True, timeout=60, check=False)
        detail = _tail(proc)
    except (OSError, subprocess.TimeoutExpired) as exc:
        detail = str(exc)
    if _user_exists(SERVICE_USER):  # also when another xdist worker created it first
        return SERVICE_USER
    raise PgUnavailable(f"running as root, PostgreSQL refuses root, there is no `postgres` user and "
                        f"`useradd {SERVICE_USER}` failed: {detail}")


def _run(cmd: list[str], *, user: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    if user is not None:
        if shutil.which("runuser"):
            cmd = ["runuser", "-u", user, "--", *cmd]
        else:
            cmd = ["su", user, "-s", "/bin/sh", "-c", shlex.join(cmd)]
    try:
        # pg_ctl -l sends the server's output to the log, so the pipes close when pg_ctl exits.
        return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PgUnavailable(f"{shlex.join(cmd)} failed: {exc}") from exc


def _connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    try:
        import psycopg
    except ImportError as exc:
        raise PgUnavailable(f"psycopg is not installed: {exc}") from exc
    parsed = make_url(url)
    params: dict[str, str | int | None] = {
        "host": parsed.host, "port": parsed.port, "user": parsed.username, "password": parsed.password,
        "dbname": parsed.database,
    }
    params.update({key: value for key, value in parsed.query.items() if isinstance(value, str)})
    params.setdefault("connect_timeout", 10)
    conninfo = psycopg.conninfo.make_conninfo("", **{key: value for key, value in params.items() if value is not None})
    return psycopg.connect(conninfo, autocommit=True)


def _normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` too; SQLAlchemy would pick psycopg2 for those."""
    try:
        parsed: URL = make_url(url)
    except Exception as exc:
        raise PgUnavailable(f"{ENV_URL} is not a valid SQLAlchemy URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _temp_parent() -> str:
    """The system temp dir, or /tmp when the server user could not reach it or socket paths would be too long."""
    parent = tempfile.gettempdir()
    if len(parent) > 60:  # the socket path DIR/.s.PGSQL.PORT must fit in 107 bytes
        return "/tmp"
    if os.geteuid() == 0:
        path = Path(parent).resolve()
        for part in (path, *path.parents):
            if not part.stat().st_mode & stat.S_IXOTH:
                return "/tmp"
    return parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _version_key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (-1,)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            return handle.read()
    except OSError:
        return ""


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return _last_lines(proc.stderr.strip() or proc.stdout.strip()) or "(no output)"


def _last_lines(text: str, count: int = 8) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-count:] if line.strip())


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
