"""The `mall` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import click

from mall.auth.models import OrgKind
from mall.embedded import Services, ensure_services, port_answers
from mall.settings import get_settings, state_dir

T = TypeVar("T")


@contextlib.contextmanager
def services() -> Iterator[Services]:
    """The configured servers, or embedded ones (stopped again if started here)."""
    settings = get_settings()
    found = ensure_services(settings.database.url, settings.redis.url, state_dir())
    os.environ["DATABASE_URL"] = found.database_url
    os.environ["REDIS_URL"] = found.redis_url
    try:
        yield found
    finally:
        found.stop_started()


def _run_sessions(database_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(session_maker)`` with an engine of its own, disposed afterwards."""
    from mall.db import create_engine, create_session_maker

    async def main() -> T:
        engine = create_engine(database_url)
        try:
            return await work(create_session_maker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _run_db(database_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction."""

    async def in_transaction(session_maker: Any) -> T:
        async with session_maker() as session, session.begin():
            return await work(session)

    return _run_sessions(database_url, in_transaction)


@click.group()
def main() -> None:
    """政府采购电子卖场 · Government procurement e-mall backend."""
    from mall.logging import configure_logging

    configure_logging(get_settings().log)


@main.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8000).")
@click.option("--workers", default=1, show_default=True, help="API processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API."""
    import uvicorn

    settings = get_settings()
    with services():
        uvicorn.run(
            "mall.app:create_app",
            factory=True,
            host=host or settings.server.host,
            port=port or settings.server.port,
            workers=workers,
            # The client address is read by the mall itself, from MALL_TRUSTED_PROXIES only.
            proxy_headers=False,
            access_log=False,
            log_level="warning",
        )


@main.command()
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
def worker(burst: bool) -> None:
    """Run the job worker (arq) with its crons; it reconnects when Redis drops."""
    from mall.jobs.worker import create_worker, run_worker

    with services() as found:
        if burst:
            create_worker(get_settings(), found.database_url, found.redis_url, burst=True).run()
            return
        port = get_settings().jobs.worker_metrics_port
        if port:
            from prometheus_client import start_http_server

            start_http_server(port, addr=get_settings().server.host)
        with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
            asyncio.run(run_worker(get_settings(), found.database_url, found.redis_url))


@main.group()
def jobs() -> None:
    """Jobs of the worker."""


@jobs.command("failed")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
def jobs_failed(limit: int) -> None:
    """List the jobs that failed for good (JSON lines, newest first)."""
    from mall.jobs.failures import list_failed

    async def listing(session: Any) -> tuple[int, list[Any]]:
        return await list_failed(session, limit=limit)

    with services() as found:
        total, rows = _run_db(found.database_url, listing)
    for row in rows:
        click.echo(
            json.dumps(
                {
                    "id": row.id,
                    "failed_at": row.failed_at.isoformat(),
                    "job": row.job_name,
                    "job_id": row.job_id,
                    "tries": row.tries,
                    "kwargs": row.kwargs,
                    "error": row.error,
                },
                ensure_ascii=False,
            )
        )
    click.echo(f"{total} failed jobs in all", err=True)


class Respawned:
    """A child process started again whenever it dies, after a pause that
    grows while it keeps dying (1 s, doubling, at most 30 s)."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command, self.env = command, env
        self.process = subprocess.Popen(command, env=env)
        self.restarts = 0
        self._pause = 1.0
        self._due: float | None = None
        self._started = time.monotonic()

    def check(self) -> subprocess.Popen[bytes]:
        """Restart the process if it has died and its pause is over; the current one."""
        now = time.monotonic()
        if self.process.poll() is None:
            if now - self._started > 60:
                self._pause = 1.0  # it has lived a while: the next death restarts at once
            return self.process
        if self._due is None:
            self._due = now + self._pause
            code, pause = self.process.returncode, self._pause
            click.echo(f"mall: worker exited ({code}); restarting in {pause:.0f} s", err=True)
        elif now >= self._due:
            self.process = subprocess.Popen(self.command, env=self.env)
            self.restarts += 1
            self._pause, self._due, self._started = min(self._pause * 2, 30.0), None, now
        return self.process


@main.command()
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
def run(host: str | None, port: int | None) -> None:
    """Everything for a local mall: servers, migrations, demo data, API and worker."""
    from mall import migrate
    from mall.seed import seed_demo

    settings = get_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    with services() as found:
        migrate.upgrade(found.database_url)
        created = _run_db(found.database_url, seed_demo)
        click.echo(f"demo data: {len(created)} accounts created", err=True)
        env = {**os.environ, "DATABASE_URL": found.database_url, "REDIS_URL": found.redis_url}
        exe = [sys.executable, "-m", "mall"]
        api = subprocess.Popen([*exe, "serve", "--host", host, "--port", str(port)], env=env)
        worker = Respawned([*exe, "worker"], env)
        children = [api, worker.process]
        stopping: int | None = None  # the signal that asked us to stop

        def stop(signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = signum

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        deadline = time.monotonic() + 60
        announced = False
        try:
            while stopping is None and api.poll() is None:
                children[1] = worker.check()
                if not announced and port_answers(port, host):
                    click.echo(
                        f"mall: API on http://{host}:{port} (OpenAPI at /schema); Ctrl-C stops",
                        err=True,
                    )
                    announced = True
                elif not announced and time.monotonic() > deadline:
                    click.echo("mall: the API has not answered for 60 s", err=True)
                    announced = True
                time.sleep(0.2)
        finally:
            # Ctrl-C reaches the children too (same process group): then give
            # them time to finish on their own; otherwise ask; then insist.
            first = None if stopping == signal.SIGINT else signal.SIGTERM
            for sig, grace in ((first, 10), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                for child in children:
                    if sig is not None and child.poll() is None:
                        child.send_signal(sig)
                for child in children:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        child.wait(timeout=grace)
                if all(child.poll() is not None for child in children):
                    break
            click.echo("mall: stopped", err=True)
    failed = [child.returncode for child in children if child.returncode not in (0, -2, -15)]
    if failed and stopping is None:
        raise SystemExit(1)


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from mall import migrate

    with services() as found:
        migrate.upgrade(found.database_url, revision)


@db.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from mall import migrate

    with services() as found:
        migrate.downgrade(found.database_url, revision)


@db.command("current")
def db_current() -> None:
    """Show the applied revision."""
    from mall import migrate

    with services() as found:
        migrate.current(found.database_url)


@main.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo accounts (idempotent)."""
    from mall.seed import seed_demo

    with services() as found:
        created = _run_db(found.database_url, seed_demo)
    click.echo(json.dumps({"created": created}, ensure_ascii=False))


@main.group()
def user() -> None:
    """Users and their organisations."""


@user.command("create")
@click.option("--kind", required=True, type=click.Choice([k.value for k in OrgKind]))
@click.option("--org", "org_name", required=True, help="Organisation name (created if missing).")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option(
    "--categories", default=None, help="Suppliers: CODE,CODE,... (default: every category)."
)
def user_create(
    kind: str, org_name: str, email: str, password: str, categories: str | None
) -> None:
    """Create an active user (suppliers: migrated, verified offline)."""
    from mall.auth.accounts import create_user
    from mall.errors import DomainError

    codes = [c.strip() for c in categories.split(",") if c.strip()] if categories else None

    async def work(session: Any) -> dict[str, str]:
        created = await create_user(
            session,
            kind=OrgKind(kind),
            org_name=org_name,
            email=email,
            password=password,
            categories=codes,
        )
        return {"user_id": str(created.id), "org_id": str(created.org_id)}

    with services() as found:
        try:
            result = _run_db(found.database_url, work)
        except DomainError as exc:
            click.echo(
                json.dumps(
                    {"code": exc.code, "title": exc.title, "detail": exc.detail}, ensure_ascii=False
                ),
                err=True,
            )
            raise SystemExit(2) from exc
    click.echo(json.dumps(result))


@main.group()
def audit() -> None:
    """The audit trail."""


def _checkpoint_key() -> Any:
    from mall.audit.checkpoints import CheckpointKey

    return CheckpointKey.from_secret(get_settings().auth.secret_key)


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain and hold it against the latest signed checkpoint;
    exit 1 when a row was edited or deleted (the newest ones included)."""
    from mall.audit import checkpoints

    async def work(session_maker: Any) -> Any:
        async with session_maker() as session:
            return await checkpoints.verify_chain(
                await session.connection(),
                _checkpoint_key(),
                progress=lambda n: click.echo(f"checked {n} events", err=True),
            )

    with services() as found:
        result = _run_sessions(found.database_url, work)
    click.echo(
        json.dumps(
            {
                "ok": result.ok,
                "checked": result.checked,
                "first_broken_id": result.first_broken_id,
                "checkpoint_id": result.checkpoint_id,
                "reason": result.reason,
            }
        )
    )
    if not result.ok:
        raise SystemExit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign and store the chain's head now (the worker does it every hour)."""
    from mall.audit import checkpoints

    async def work(session: Any) -> dict[str, Any] | None:
        checkpoint = await checkpoints.create(session, _checkpoint_key())
        if checkpoint is None:
            return None
        return {
            "id": checkpoint.id,
            "audit_event_id": checkpoint.audit_event_id,
            "event_hash": checkpoint.event_hash,
            "created_at": checkpoint.created_at.isoformat(),
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature,
        }

    with services() as found:
        result = _run_db(found.database_url, work)
    click.echo(json.dumps(result if result is not None else {"empty": True}))


@main.group()
def search() -> None:
    """Catalogue search."""


@search.command("reindex")
def search_reindex() -> None:
    """Rebuild every search document and swap the new index in (safe to rerun)."""
    from catalog.search import sync
    from mall.search import service

    async def work(session_maker: Any) -> int:
        async with session_maker() as session:
            total = await sync.count_visible(session)
        with click.progressbar(length=total, label="indexing listings", file=sys.stderr) as bar:
            return await service.reindex(session_maker, get_settings(), bar.update)

    with services() as found:
        indexed = _run_sessions(found.database_url, work)
    click.echo(json.dumps({"indexed": indexed}))


@search.command("sync")
def search_sync() -> None:
    """Rebuild the documents of every listing marked dirty."""
    from mall.search import service

    with services() as found:
        synced = _run_sessions(found.database_url, lambda sm: service.sync_all(sm, get_settings()))
    click.echo(json.dumps({"synced": synced}))
