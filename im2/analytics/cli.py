"""`im2 analytics …`: move events to the lake now, and make synthetic campaign traffic.

The lake, the database and pyarrow are imported inside the commands, so `im2 analytics
--help` starts without them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

analytics_app = typer.Typer(
    help="Analytics: the event lake and synthetic data.", no_args_is_help=True
)
err = Console(stderr=True)


@analytics_app.command("move")
def move(
    batch_size: Annotated[
        int | None, typer.Option(min=1, max=10_000_000, help="Events per batch.")
    ] = None,
) -> None:
    """Move committed events to the Parquet lake now (what the background job does)."""
    from im2.analytics.lake import move_events_to_lake
    from im2.clock import SystemClock
    from im2.config import get_settings
    from im2.db import Database

    settings = get_settings()
    db = Database(settings.database_url)
    try:
        result = move_events_to_lake(
            db,
            lake_path=settings.lake_path,
            now=SystemClock().now(),
            batch_size=batch_size or settings.lake_batch_size,
            retention_days=settings.lake_retention_days,
            progress=lambda n: err.print(f"moved {n} events"),
        )
    finally:
        db.dispose()
    err.print(f"{result.moved} events moved to {settings.lake_path} (mark {result.last_id})")


@analytics_app.command("generate")
def generate(
    campaign: Annotated[str, typer.Option(help="Campaign slug.")],
    events: Annotated[int, typer.Option(min=1, max=50_000_000, help="How many events.")] = 100_000,
    days: Annotated[int, typer.Option(min=1, max=365, help="Spread over this many days.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Write synthetic traffic for a campaign into the event log, ending now. Its people are
    "s:0", "s:1" …, never mistaken for real participants."""

    from im2.analytics.synth import generate_events
    from im2.campaigns.service import get_public_campaign
    from im2.config import get_settings
    from im2.db import Database
    from im2.events.service import record_events

    settings = get_settings()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            found = get_public_campaign(session, slug=campaign)
        if found is None:
            err.print(f"[red]error (--campaign):[/red] no campaign {campaign!r}")
            raise typer.Exit(1)
        start = (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0)
        table = generate_events(
            events=events,
            start=start,
            days=days,
            campaign_id=found.campaign.id,
            workspace_id=found.workspace_id,
            seed=seed,
        ).drop_columns(["id"])
        written = 0
        for batch in table.to_batches(max_chunksize=50_000):
            rows = batch.to_pylist()
            for row in rows:
                row["properties"] = (
                    {} if row["properties"] == "{}" else {"amount": float(row["properties"][11:-1])}
                )
            with db.transaction() as session:
                record_events(session, rows)  # the one event writer
            written += len(rows)
            err.print(f"{written}/{events} events written")
    finally:
        db.dispose()
