"""`im2 analytics generate` and `im2 analytics move`: synthetic traffic written into a real
campaign's log (its people never mistaken for participants), moved to the lake, seen by the
API; bad arguments exit non-zero with a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from im2.analytics.kinds import PARTICIPATION_KINDS, REACH_KINDS
from im2.cli import app
from im2.config import get_settings
from im2.db import Database
from im2.events.service import count_events, list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url

runner = CliRunner()
EVENTS = 400


@pytest.fixture
def cli_env(
    db: Database, database_url: str, lake_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    """The command line on the test's database and lake (the app's settings use the same)."""
    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    monkeypatch.setenv("IM2_LAKE_PATH", str(lake_path))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_generate_then_move_fills_the_lake_and_the_api_counts_it(
    client: TestClient, brand: Brand, cli_env: Database, lake_path: Path
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    real = TestClient(client.app)
    voted = real.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201
    campaign_id = client.get(
        f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)
    ).json()["campaign_id"]

    made = runner.invoke(
        app, ["analytics", "generate", "--campaign", slug, "--events", str(EVENTS), "--days", "3"]
    )
    assert made.exit_code == 0, made.output
    assert f"{EVENTS}/{EVENTS} events written" in made.output
    with cli_env.session() as session:
        logged = list_events(session, campaign_id=campaign_id)
    synthetic = [e for e in logged if e.actor_id and e.actor_id.startswith("s:")]
    assert len(synthetic) == EVENTS
    # The real voter keeps their own id; no synthetic person shares it.
    voter = next(e.actor_id for e in logged if e.kind == "vote.cast" and e not in synthetic)
    assert voter is not None
    assert voter.isdigit()
    assert voter not in {e.actor_id for e in synthetic}

    moved = runner.invoke(app, ["analytics", "move", "--batch-size", "150"])
    assert moved.exit_code == 0, moved.output
    with cli_env.session() as session:
        everything = count_events(session)  # the workspace's own events move too
    assert f"{everything} events moved to" in moved.output

    lake = ds.dataset(lake_path, format="parquet", partitioning="hive").to_table(
        filter=pc.field("campaign_id") == campaign_id
    )
    assert lake.num_rows == len(logged)
    actors = lake.column("actor_id")
    kinds = lake.column("kind")
    assert pc.sum(pc.starts_with(actors, "s:")).as_py() == EVENTS

    def people(kind_set: tuple[str, ...]) -> int:
        chosen = actors.filter(
            pc.is_in(kinds, value_set=pc.cast([str(k) for k in kind_set], "string"))
        )
        return len(set(chosen.to_pylist()) - {None})

    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/overview", headers=brand.auth(Role.VIEWER)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tail_events"] == 0  # everything is read from the lake now
    metrics = body["metrics"]
    assert metrics["participants"]["value"] == people(PARTICIPATION_KINDS)
    assert metrics["reach"]["value"] == people(REACH_KINDS)
    assert metrics["participants"]["value"] > 1  # the voter and synthetic people


def test_bad_arguments_exit_non_zero_with_a_message(cli_env: Database) -> None:
    unknown = runner.invoke(app, ["analytics", "generate", "--campaign", "no-such-campaign"])
    assert unknown.exit_code == 1
    assert "no-such-campaign" in unknown.output

    for args, option in (
        (["analytics", "generate", "--campaign", "x", "--events", "0"], "--events"),
        (["analytics", "generate", "--campaign", "x", "--days", "0"], "--days"),
        (["analytics", "generate", "--campaign", "x", "--events", "many"], "--events"),
        (["analytics", "move", "--batch-size", "0"], "--batch-size"),
        (["analytics", "generate"], "--campaign"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert option in result.output, (args, result.output)
