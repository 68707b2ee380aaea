"""The `im2` command line: serve, demo, migrate, users, tokens, events, jobs.

Start-up costs typer and rich only, so `im2 --help` answers at once and each command
imports just what it uses: the commands that live with their domain (`influence`,
`analytics`, `sentiment`, `cascade`, `report`) are registered by name and imported when
they run (`_LazyGroup`); the commands below import the database, the settings and the
domain services inside their bodies. `tests/test_cli_startup.py` keeps it that way.
"""

from __future__ import annotations

import functools
import gc
import importlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
import typer.main
from rich.console import Console
from typer.core import TyperGroup

from im2.cli_env import command_database, command_settings
from im2.clock import SystemClock
from im2.errors import IM2Error

if TYPE_CHECKING:
    from fastapi import FastAPI
    from typer import _click

    from im2.config import Settings


# Command name -> "module:attribute" of its typer app or command function.
LAZY_COMMANDS: dict[str, str] = {}


class _LazyGroup(TyperGroup):
    """The top-level group, where a lazy command is a placeholder until it is used.

    Listing commands (`im2 --help`, completing a command name) shows the placeholders with
    their one-line summary; running a command, or asking for its own help, imports its
    module and builds the real command.
    """

    _listing = False

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None or self._listing:
            return super().get_command(ctx, cmd_name)
        loaded: dict[str, _click.Command] = self.__dict__.setdefault("_loaded", {})
        if cmd_name not in loaded:
            loaded[cmd_name] = load_command(cmd_name, target)
        return loaded[cmd_name]

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: _click.Context, incomplete: str) -> list[Any]:
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False


def load_command(name: str, target: str) -> _click.Command:
    """The click command for ``target``, built as ``add_typer`` or ``command`` builds it."""
    module_name, _, attribute = target.partition(":")
    found = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer(
        rich_markup_mode=app.rich_markup_mode, pretty_exceptions_short=app.pretty_exceptions_short
    )
    if isinstance(found, typer.Typer):
        holder.add_typer(found, name=name)
    else:
        holder.command(name)(found)
    command: _click.Command = typer.main.get_group(holder).commands[name]
    return command


def _placeholder() -> None:  # pragma: no cover - _LazyGroup never runs it
    raise RuntimeError("a lazy command ran without being loaded")


def lazy_command(name: str, target: str, *, summary: str) -> None:
    """``im2 NAME`` runs the command function ``target`` ("module:function")."""
    LAZY_COMMANDS[name] = target
    app.command(name, help=summary)(_placeholder)


def lazy_group(name: str, target: str, *, summary: str) -> None:
    """``im2 NAME ...`` runs the typer app ``target`` ("module:app")."""
    LAZY_COMMANDS[name] = target
    app.add_typer(typer.Typer(), name=name, help=summary)


class _Program(typer.Typer):
    """The `im2` program: calling it (the console script does) runs one command and exits."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        finally:
            # The process ends here. Its last garbage collection would walk every object the
            # command imported (0.1 s once numba has loaded its kernels) only for the OS to
            # take the memory back; frozen objects are skipped. Exit handlers still run.
            # (Tests invoke the click command instead, so their process is left alone.)
            gc.freeze()


app = _Program(
    help="IM2: interactive media 2.0 marketing platform.", no_args_is_help=True, cls=_LazyGroup
)
user_app = typer.Typer(help="Console users.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (brands).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
events_app = typer.Typer(help="The event log.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(workspace_app, name="workspace")
app.add_typer(token_app, name="token")
app.add_typer(events_app, name="events")
app.add_typer(jobs_app, name="jobs")
# Each summary is the command's one-line help, shown by `im2 --help` without importing it
# (tests/test_cli_startup.py checks that they match).
lazy_group(
    "influence",
    "im2.influence.cli:app",
    summary="Influence maximization: choose seed users and forecast how far a message spreads.",
)
lazy_command(
    "sentiment",
    "im2.listening.cli:sentiment_command",
    summary="Add `sentiment` (positive/neutral/negative), `confidence` and `positive_probability` "
    "(the model's P(positive), 0-1: sort by it or choose your own threshold) to every row.",
)
lazy_command(
    "cascade",
    "im2.sharing.cli:cascade_command",
    summary="Share-tree metrics of a cascade file: size, depth, breadth, structural virality, "
    "K-factor and viral cycle time, as the console computes them for a campaign.",
)

err = Console(stderr=True)
out = Console()
P = ParamSpec("P")
R = TypeVar("R")


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn known errors into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except IM2Error as exc:
            where = f" ({exc.field})" if exc.field else ""
            err.print(f"[red]error{where}:[/red] {exc.message}")
            raise typer.Exit(1) from None
        except Exception as exc:
            # pydantic is imported here, not at start-up (it is loaded already if it raised).
            from pydantic import ValidationError

            if not isinstance(exc, ValidationError):
                raise
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ()))
            err.print(f"[red]error ({field}):[/red] {first.get('msg')}")
            raise typer.Exit(2) from None

    return wrapper


# Commands that read no settings (file in, file out). They start without loading and
# validating them (pydantic-settings alone costs ~0.1 s); a subcommand that does need them,
# like `influence import-graph`, loads them through `_settings()` like any other command.
_NO_SETTINGS = frozenset({"influence", "cascade"})


@app.callback()
def _main(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand not in _NO_SETTINGS:
        _settings()


# What every command runs in (shared with the domains' commands through im2.cli_env).
_settings = command_settings
_database = command_database


@app.command()
@friendly
def migrate() -> None:
    """Bring the database schema up to date."""
    from im2.migrations import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    out.print(f"database is up to date: {settings.database_url}")


def _serving_settings(host: str | None, port: int | None) -> Settings:
    """The settings of a server on --host/--port (else IM2_HOST/IM2_PORT): links built
    outside a request follow that address unless IM2_BASE_URL names another."""
    settings = _settings()
    return settings.serving_at(host=host or settings.host, port=port or settings.port)


class _ServeApp:
    """`create_app(settings)` for `im2 serve`. Several workers get it pickled, and a worker
    unpickles it before it can answer its supervisor's health pings (5 s): so it holds only
    the settings, and the app's imports (seconds) wait until it is called."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self) -> FastAPI:
        from im2.app import create_app

        return create_app(self.settings)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: IM2_HOST, else 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: IM2_PORT, else 8000).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port (more than 1 needs PostgreSQL and "
            "IM2_REDIS_URL; docs/deploy.md).",
        ),
    ] = 1,
) -> None:
    """Serve the console, the public pages and the API."""
    from im2.web import serving

    settings = _serving_settings(host, port)
    try:
        serving.check_workers(settings, workers)
    except serving.ServeRefused as exc:
        err.print(f"[red]error (--workers):[/red] {exc}")
        raise typer.Exit(2) from None
    serving.run(_ServeApp(settings), settings, workers=workers)


@app.command()
@friendly
def demo(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: IM2_HOST, else 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: IM2_PORT, else 8000).")
    ] = None,
    reset: Annotated[bool, typer.Option(help="Delete the demo database first.")] = False,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load data and exit.")] = False,
) -> None:
    """Migrate, load demo data (once) and serve it."""
    import uvicorn

    from im2.app import create_app
    from im2.db import Database
    from im2.demo import DEMO_PASSWORD, DEMO_USERS, load_demo
    from im2.migrations import upgrade

    settings = _serving_settings(host, port)
    if reset and settings.is_sqlite:
        path = Path(settings.database_url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    created = load_demo(db, now=SystemClock().now())
    db.dispose()
    out.print("demo data " + ("loaded" if created else "already present"))
    out.print(f"\n  console: [bold]{settings.server_url}/console[/bold]")
    for email, _name, role in DEMO_USERS:
        out.print(f"  {role:8} {email}  password: {DEMO_PASSWORD}")
    out.print(f"  API docs: {settings.server_url}/api/docs")
    out.print(f"  public links: {settings.base_url}\n")
    if not no_serve:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@workspace_app.command("create")
@friendly
def workspace_create(
    slug: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "Asia/Shanghai",
) -> None:
    """Create a workspace (a brand account)."""
    from im2.workspaces import service

    with _database() as db, db.transaction() as session:
        workspace = service.do_create_workspace(
            session, slug=slug, name=name, timezone=timezone, now=datetime.now(UTC)
        )
    out.print(f"workspace {workspace.slug} created (id {workspace.id})")


class RoleName(StrEnum):
    owner = "owner"
    editor = "editor"
    analyst = "analyst"
    viewer = "viewer"


@user_app.command("create")
@friendly
def user_create(
    email: str,
    workspace: Annotated[str, typer.Option(help="Workspace slug to join.")],
    role: Annotated[RoleName, typer.Option(help="Role in that workspace.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password."),
    ] = "",
) -> None:
    """Create a console user (or add an existing one) and give them a role in a workspace."""
    from im2.workspaces import service
    from im2.workspaces.schemas import Role

    now = datetime.now(UTC)
    with _database() as db, db.transaction() as session:
        actor = service.system_actor(session, workspace_slug=workspace)
        user_id = service.get_user_id(session, email=email)
        if user_id is None:
            user_id = service.do_create_user(
                session,
                email=email,
                display_name=name or email.split("@")[0],
                password=password,
                now=now,
            )
        service.do_add_member(
            session,
            actor=actor,
            workspace_id=actor.workspace_id,
            user_id=user_id,
            role=Role(role.value),
            now=now,
        )
    out.print(f"{email} is now {role.value} of {workspace}")


@token_app.command("create")
@friendly
def token_create(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    role: Annotated[RoleName, typer.Option(help="What the token may do.")],
    name: Annotated[str, typer.Option(help="A label to recognise it by.")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
) -> None:
    """Create an API token and print it (shown once; only its hash is stored)."""
    from im2.workspaces import service
    from im2.workspaces.schemas import Role

    now = datetime.now(UTC)
    with _database() as db, db.transaction() as session:
        actor = service.system_actor(session, workspace_slug=workspace)
        created = service.do_create_token(
            session,
            actor=actor,
            name=name,
            role=Role(role.value),
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
            now=now,
        )
    err.print(f"token {created.prefix}… ({created.role.value}) for {workspace}; store it now:")
    print(created.token)


class ExportFormatName(StrEnum):
    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        err.print(f"[red]error ({option}):[/red] use an ISO date or time, e.g. 2026-11-01")
        raise typer.Exit(2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@events_app.command("export")
@friendly
def events_export(
    output: Annotated[Path, typer.Option(help="File to write.")],
    fmt: Annotated[ExportFormatName, typer.Option("--format", help="File format.")] = (
        ExportFormatName.parquet
    ),
    workspace: Annotated[str | None, typer.Option(help="Only this workspace (slug).")] = None,
    campaign: Annotated[int | None, typer.Option(help="Only this campaign (id).")] = None,
    since: Annotated[str | None, typer.Option(help="From this UTC time (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Until this UTC time (exclusive).")] = None,
) -> None:
    """Write events to Parquet, CSV or JSON Lines."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from im2.events import service as events
    from im2.workspaces import service as workspaces

    since_at, until_at = _parse_time(since, "--since"), _parse_time(until, "--until")
    if since_at and until_at and until_at <= since_at:
        err.print("[red]error (--until):[/red] --until must be after --since")
        raise typer.Exit(2)
    with _database() as db, db.session() as session:
        workspace_id = None
        if workspace is not None:
            found = workspaces.get_workspace(session, slug=workspace)
            if found is None:
                err.print(f"[red]error (--workspace):[/red] no workspace {workspace!r}")
                raise typer.Exit(1)
            workspace_id = found.id
        total = events.count_events(
            session, workspace_id=workspace_id, campaign_id=campaign, since=since_at, until=until_at
        )
        with Progress(
            TextColumn("exporting events"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("export", total=total)
            written = events.export_events(
                session,
                output=output,
                fmt=events.ExportFormat(fmt.value),
                workspace_id=workspace_id,
                campaign_id=campaign,
                since=since_at,
                until=until_at,
                progress=lambda n: progress.advance(task, n),
            )
    err.print(f"{written} events written to {output}")


@jobs_app.command("run")
@friendly
def jobs_run() -> None:
    """Run every background job once (for cron, or a worker outside the server)."""
    from im2.jobs import JOBS

    with _database() as db:
        for job in JOBS:
            result: Any = job.run(db, SystemClock())
            count = len(result) if hasattr(result, "__len__") else ""
            out.print(f"{job.name}: done {count}")


@app.command()
@friendly
def worker(
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Seconds between ticks (default: IM2_SCHEDULER_INTERVAL_SECONDS, else 10).",
        ),
    ] = None,
) -> None:
    """Run the periodic jobs outside the web servers, until stopped (SIGTERM or Ctrl-C).

    Start one or more; on PostgreSQL one of them leads and the others stand by (docs/deploy.md).
    Set IM2_RUN_SCHEDULER=false on the web servers then."""
    import asyncio
    import contextlib
    import logging
    import signal

    from im2.jobs import run_jobs_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = command_settings()
    every = interval if interval is not None else settings.scheduler_interval_seconds

    async def main(db: Any) -> None:
        task = asyncio.create_task(run_jobs_forever(db, SystemClock(), interval=every))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with _database() as db:
        err.print(f"worker: running the periodic jobs every {every:g} s (Ctrl-C stops)")
        asyncio.run(main(db))
        err.print("worker: stopped")


# Analytics commands live with their domain (im2/analytics/cli.py).
lazy_group(
    "analytics",
    "im2.analytics.cli:analytics_app",
    summary="Analytics: the event lake and synthetic data.",
)


draw_app = typer.Typer(help="Lucky draws.", no_args_is_help=True)
app.add_typer(draw_app, name="draw")


@draw_app.command("verify")
@friendly
def draw_verify(
    activity_id: Annotated[int, typer.Argument(help="The draw's activity id.")],
) -> None:
    """Recompute a draw's winners from its public record (entries, prizes, revealed seed) and
    say whether they match the published winners; exits 1 when they do not, or before the
    seed is revealed."""
    from im2.activities.formats.draw import reads as draws

    with _database() as db, db.session() as session:
        record = draws.published_record(session, activity_id=activity_id)
    if record.seed is None:
        # Until the draw is over the seed stays secret, even from this command's output: with
        # it, anyone could tell which coming entries will win.
        err.print(f"[red]not revealed yet:[/red] draw {activity_id} is not over; try after it")
        raise typer.Exit(1)
    verdict = draws.verify_record(record)
    out.print(
        f"draw {activity_id} ({record.mode.value}): {len(record.entries)} entries, "
        f"{len(record.winners)} winners"
    )
    out.print(f"commitment {record.commitment}")
    out.print(f"seed       {record.seed}")
    if not verdict.ok:
        for problem in verdict.problems:
            err.print(f"[red]mismatch:[/red] {problem}")
        raise typer.Exit(1)
    out.print("[green]verified:[/green] the winners follow from the seed and the entries")


# `im2 keys rotate|new`: the encryption keys of personal fields (im2/privacy/keys.py).
lazy_group(
    "keys",
    "im2.privacy.keys:app",
    summary="Encryption keys of personal fields (docs/security.md).",
)


# `im2 report CAMPAIGN --format html|pdf` lives with its domain (im2/reports/cli.py).
lazy_command(
    "report",
    "im2.reports.cli:report_command",
    summary="Write a campaign's effect report (目标、执行、数据、结论) as HTML or PDF.",
)


def main() -> None:  # pragma: no cover - console entry point
    app()
