"""`im2 report CAMPAIGN --format html|pdf`: a campaign's effect report as a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from im2.errors import IM2Error

err = Console(stderr=True)


def report_command(
    campaign: Annotated[str, typer.Argument(help="The campaign's slug.")],
    format: Annotated[str, typer.Option("--format", "-f", help="html or pdf.")] = "pdf",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here (default: <slug>-report-<date>.<format>)."),
    ] = None,
    locale: Annotated[str, typer.Option(help="zh_CN (default) or en.")] = "zh_CN",
) -> None:
    """Write a campaign's effect report (目标、执行、数据、结论) as HTML or PDF."""
    # The report's services (analytics, experiments' statistics, WeasyPrint) load only here.
    from im2.clock import SystemClock
    from im2.config import get_settings
    from im2.db import Database
    from im2.reports import service
    from im2.workspaces.service import system_actor

    settings = get_settings()
    db = Database(settings.database_url)
    try:
        fmt = service.check_format(format)
        chosen = service.check_locale(locale, "zh_CN")
        with db.transaction() as session:
            campaign_id, workspace = service.campaign_for_slug(session, slug=campaign)
            file = service.do_generate_report(
                session,
                actor=system_actor(session, workspace_slug=workspace),
                campaign_id=campaign_id,
                fmt=fmt,
                lake_path=settings.lake_path,
                now=SystemClock().now(),
                locale=chosen,
            )
            target = output or Path(file.filename)
            if target.is_dir():
                target = target / file.filename
            # Written before the transaction commits: no report.generated for a file that
            # could not be written.
            target.write_bytes(file.content)
    except IM2Error as exc:
        where = f" ({exc.field})" if exc.field else ""
        err.print(f"[red]error{where}:[/red] {exc.message}")
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"[red]error (--output):[/red] cannot write {output}: {exc.strerror}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    err.print(f"report written to {target} ({len(file.content):,} bytes)")
