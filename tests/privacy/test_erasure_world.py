"""A campaign where one person (A) has left data everywhere, and another (B) came through A's
link: the world the erasure tests erase A from. Also a test that the world is as described
(so that a scan that finds nothing after erasure is not a scan that never could)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from im2.analytics.lake import move_events_to_lake
from im2.clock import ManualClock
from im2.db import Database
from im2.participation.senders import MemorySender
from im2.people import service as people
from im2.workspaces.schemas import Role
from tests.activities.test_ugc import photo
from tests.conftest import Brand
from tests.people.helpers import me_post, verify
from tests.test_comments import _form
from tests.test_polls import live_campaign, vote_url
from tests.test_sharing import _get_link

PHONE = "13912345678"
EMAIL = "xiaolin.private@example.com"
NICKNAME = "小林爱咖啡Zq"
COMMENT = "我家楼下那家店的拿铁最好喝Qx7"
CAPTION = "和女儿在西湖边的春日咖啡Pk3"
USER_AGENT = "Mozilla/5.0 (PersonA-Phone-UA-77314)"


@dataclass
class World:
    slug: str
    campaign_id: int
    poll_id: int
    contest_id: int
    options: list[int]
    person_a: int
    participant_a: int
    device_a: str
    code_a: str
    person_b: int
    media_file: Path


def build_world(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> World:
    outbox = MemorySender()
    client.app.state.code_sender = outbox  # type: ignore[attr-defined]
    slug, poll_id, options = live_campaign(client, brand)
    auth = brand.auth(Role.OWNER)
    with db.session() as session:
        campaign_id = session.execute(
            text("SELECT id FROM campaigns WHERE slug = :s"), {"s": slug}
        ).scalar_one()
    contest = client.post(
        f"/api/v1/campaigns/{campaign_id}/ugcs",
        json={"title": "晒出你的春日咖啡", "hashtag": "山野春日"},
        headers=auth,
    )
    assert contest.status_code == 201, contest.text
    contest_id = int(contest.json()["id"])

    a = TestClient(client.app, headers={"User-Agent": USER_AGENT})
    voted = a.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201, voted.text
    assert me_post(a, slug, "nickname", {"nickname": NICKNAME, "consent": "yes"}).status_code == 303
    verify(a, slug, outbox, "phone", PHONE)
    verify(a, slug, outbox, "email", EMAIL)
    page = f"/c/{slug}/poll/{poll_id}"
    fields = _form(a, page, f"/c/{slug}/comments")
    posted = a.post(
        f"/c/{slug}/comments",
        data={**fields, "text": COMMENT, "consent": "yes"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    entry = a.post(
        f"/api/v1/public/campaigns/{slug}/ugcs/{contest_id}/entries",
        data={"consent": "true", "caption": CAPTION, "nickname": NICKNAME},
        files={"image": ("photo.jpg", photo(), "image/jpeg")},
    )
    assert entry.status_code == 201, entry.text
    code_a = _get_link(a, slug)
    # The first half of the events goes to the lake (day one), the rest stays in the database.
    clock.advance(timedelta(days=1))
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), settle_seconds=0)

    b = TestClient(client.app)
    b.get(f"/s/{code_a}?ch=wechat", follow_redirects=False)
    voted_b = b.post(vote_url(slug, poll_id), json={"options": [options[1]], "consent": True})
    assert voted_b.status_code == 201, voted_b.text
    a.post(vote_url(slug, poll_id), json={"options": [options[1]], "consent": True})
    clock.advance(timedelta(days=1))
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), settle_seconds=0)
    clock.advance(timedelta(minutes=5))
    # Some events of A stay in the database only (the tail).
    a.get(f"/c/{slug}")

    with db.session() as session:
        row = session.execute(
            text("SELECT id, device_id FROM participants WHERE nickname = :n"), {"n": NICKNAME}
        ).first()
        if row is None:  # nickname stored otherwise (encrypted): the participant of A's phone
            row = session.execute(
                text("SELECT id, device_id FROM participants ORDER BY id LIMIT 1")
            ).one()
        participant_a, device_a = int(row[0]), str(row[1])
        person_a = people.person_of_participant(
            session, workspace_id=brand.workspace_id, participant_id=participant_a
        )
        other = session.execute(
            text("SELECT id FROM participants WHERE id <> :a ORDER BY id LIMIT 1"),
            {"a": participant_a},
        ).scalar_one()
        person_b = people.person_of_participant(
            session, workspace_id=brand.workspace_id, participant_id=int(other)
        )
        image_name = session.execute(
            text("SELECT image_name FROM ugc_entries WHERE participant_id = :p"),
            {"p": participant_a},
        ).scalar_one()
    assert person_a is not None
    assert person_b is not None
    from im2.config import get_settings

    media_file = get_settings().media_path / "ugc" / str(contest_id) / image_name
    assert media_file.is_file()
    return World(
        slug=slug,
        campaign_id=int(campaign_id),
        poll_id=poll_id,
        contest_id=contest_id,
        options=options,
        person_a=person_a,
        participant_a=participant_a,
        device_a=device_a,
        code_a=code_a,
        person_b=person_b,
        media_file=media_file,
    )


def secrets_of_a(world: World) -> list[str]:
    """What must not be found anywhere after A is erased."""
    return [PHONE, EMAIL, NICKNAME, COMMENT, CAPTION, USER_AGENT, world.device_a, world.code_a]


def test_the_world_holds_a_everywhere(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    from im2.privacy.inventory import person_events, person_rows

    lake = tmp_path / "lake"
    world = build_world(client, brand, db, clock, lake)
    with db.session() as session:
        rows = person_rows(session, workspace_id=brand.workspace_id, person_id=world.person_a)
        events = person_events(
            session, workspace_id=brand.workspace_id, person_id=world.person_a, lake_path=lake
        )
    assert {"participants", "poll_ballots", "comments", "ugc_entries", "share_links"} <= set(rows)
    assert {"person_identities", "people"} <= set(rows)
    assert len(rows["poll_ballots"]) == 1  # the second vote was refused
    kinds = events.column("kind").to_pylist()
    assert "poll.voted" in kinds or any("vote" in k for k in kinds)
    assert events.num_rows >= 5
    # From the lake and from the database tail both.
    with db.session() as session:
        mark = session.execute(
            text("SELECT last_id FROM analytics_lake_marks WHERE stream = 'events'")
        ).scalar_one()
    ids = events.column("id").to_pylist()
    assert min(ids) <= mark < max(ids)
    # Another workspace's id, or nobody: nothing.
    with db.session() as session:
        assert (
            person_rows(session, workspace_id=brand.workspace_id + 99, person_id=world.person_a)
            == {}
        )
