"""Masking everywhere in the console and the API: the demo workspace, its participants given a
verified phone, a verified e-mail and a first IP, a comment and a shared coupon flagged from
three shops' addresses; then every console page an analyst can reach (a crawl from the campaign
list, CSV downloads included) and every JSON read of an activity or campaign is searched for
those values and for every participant's nickname. An analyst (no people:read) finds none of
them; an editor finds them where they are shown, so the walk is known to reach them."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Database
from im2.demo import DEMO_PASSWORD, DEMO_WORKSPACE, load_demo
from im2.incentives.models import CouponCode, Redemption
from im2.migrations import upgrade
from im2.participation import comments
from im2.participation.models import Comment, Participant
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.test_auth import login

# The walk loads the demo and reads some 450 pages: minutes on a busy machine.
pytestmark = pytest.mark.timeout(1800)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CONSOLE = f"/console/w/{DEMO_WORKSPACE}"
MAX_PAGES = 800
BINARY = (".png", ".svg", ".pdf", ".zip", ".xlsx", ".jpg", ".webp")  # posters, QR codes, files
SHOP_IPS = ("203.0.113.41", "198.51.100.42", "192.0.2.43")

# The surfaces the issue names, by console address (and the API reads of the same data).
SURFACES = {
    "qa": r"/qa/\d+$",
    "ugc": r"/ugc/\d+$",
    "quiz": r"/quiz/\d+$",
    "referral": r"/referral/\d+$",
    "referral-csv": r"/referral/\d+/export\.csv$",
    "presenter": r"/activities/\d+/present$",
    "report": r"/campaigns/\d+/report$",
    "comments": r"/campaigns/\d+/comments$",
    "incentives": r"/campaigns/\d+/incentives$",
}


@dataclass
class Walk:
    app: object
    secrets: set[str]  # every seeded phone, e-mail and IP, and every nickname
    tokens: dict[Role, str]
    pages: dict[str, str] = field(default_factory=dict)  # the analyst's crawl: url -> body
    refused: list[tuple[str, int]] = field(default_factory=list)


def _seed(db: Database) -> tuple[set[str], dict[Role, str]]:
    found: set[str] = set()
    with db.engine.connect() as conn:
        for table in ("participants", "qa_questions", "ugc_entries", "quiz_entries"):
            found |= {
                str(n)
                for (n,) in conn.execute(text(f"SELECT DISTINCT nickname FROM {table}"))  # noqa: S608
                # Three characters and more: a masked name then never holds the plain one (王*明),
                # and two-character names are words of the brand's own texts too (豆子).
                if n and len(str(n)) >= 3
            }
    tokens: dict[Role, str] = {}
    with db.transaction() as session:
        people = list(session.scalars(select(Participant).order_by(Participant.id)))
        for p in people:
            p.verified_phone = f"139{p.id:08d}"
            p.verified_email = f"walker{p.id}@mail.example"
            p.first_ip = f"10.77.{p.id % 250}.{p.id % 199 + 1}"
            found |= {p.verified_phone, p.verified_email, p.first_ip}
        named = next(p for p in people if p.nickname and len(p.nickname) >= 3)
        campaign_id = named.first_campaign_id
        assert campaign_id is not None
        comments.do_comment(
            session,
            workspace_id=named.workspace_id,
            campaign_id=campaign_id,
            target_type="campaign",
            target_id=campaign_id,
            participant_id=named.id,
            text="樱花拿铁太好喝了",
            now=NOW,
        )
        # Waiting for moderation: the queue the console opens first.
        session.execute(update(Comment).values(status=comments.CommentStatus.PENDING.value))
        code = session.scalars(select(CouponCode).order_by(CouponCode.id)).first()
        assert code is not None
        for i, ip in enumerate(SHOP_IPS):
            session.add(
                Redemption(
                    workspace_id=code.workspace_id,
                    code_id=code.id,
                    order_id=f"WALK-{i}",
                    store=f"门店 {i}",
                    ip=ip,
                    created_at=NOW - timedelta(minutes=i),
                    review="flagged",
                    evidence={"signal": "shared_code", "ips": list(SHOP_IPS)},
                )
            )
        found |= set(SHOP_IPS)
        system = workspaces.system_actor(session, workspace_slug=DEMO_WORKSPACE)
        for role in (Role.ANALYST, Role.EDITOR):
            tokens[role] = workspaces.do_create_token(
                session,
                actor=system,
                name=f"walk {role.value}",
                role=role,
                expires_at=None,
                now=NOW,
            ).token
    return found, tokens


def _crawl(client: TestClient, walk: Walk) -> None:
    queue = deque([f"{CONSOLE}/campaigns"])
    seen = set(queue)
    while queue and len(walk.pages) < MAX_PAGES:
        url = queue.popleft()
        got = client.get(url)
        if got.status_code != 200:
            walk.refused.append((url, got.status_code))
            continue
        walk.pages[url] = got.text
        for href in re.findall(rf'href="({re.escape(CONSOLE)}[^"#?]*)"', got.text):
            if "logout" in href or href in seen or href.endswith(BINARY):
                continue
            seen.add(href)
            queue.append(href)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    from im2.app import create_app

    folder: Path = tmp_path_factory.mktemp("masking-walk")
    url = f"sqlite:///{folder / 'walk.db'}"
    upgrade(url)
    db = Database(url)
    assert load_demo(db, now=NOW)
    secrets, tokens = _seed(db)
    settings = Settings(
        env=Environment.TEST,
        database_url=url,
        run_scheduler=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
    )
    app = create_app(settings, db=db, clock=ManualClock(NOW))
    found = Walk(app=app, secrets=secrets, tokens=tokens)
    with TestClient(app) as client:
        assert login(client, "analyst@shanye.example", DEMO_PASSWORD) == 303
        _crawl(client, found)
    yield found
    db.dispose()


def _leaks(body: str, secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if s in body)


def test_an_analyst_finds_no_personal_value_on_any_console_page(walk: Walk) -> None:
    assert len(walk.pages) > 100  # the walk reached the whole console
    # A page an analyst may open never fails (403s are the people pages, not theirs).
    assert [u for u, status in walk.refused if status >= 500] == []
    leaking = {url: _leaks(body, walk.secrets)[:5] for url, body in walk.pages.items()}
    assert {url: found for url, found in leaking.items() if found} == {}


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_each_surface_is_masked_for_an_analyst_and_plain_for_an_editor(
    walk: Walk, surface: str
) -> None:
    urls = sorted(u for u in walk.pages if re.search(SURFACES[surface], u))
    assert urls, f"the walk never reached a {surface} page"
    for url in urls:
        assert _leaks(walk.pages[url], walk.secrets) == [], url
    # An editor (people:read) sees the same pages with the plain values, and an analyst the
    # masked forms of them (138****1234-like, 王*明-like), so the data is there, only masked.
    with TestClient(walk.app) as editor:  # type: ignore[arg-type]
        assert login(editor, "editor@shanye.example", DEMO_PASSWORD) == 303
        plain = [u for u in urls if _leaks(editor.get(u).text, walk.secrets)]
    assert plain, f"an editor sees no participant's name or contact on {surface}: {urls}"


def test_the_json_api_masks_for_an_analyst_token_and_not_for_an_editor(walk: Walk) -> None:
    with TestClient(walk.app) as client:  # type: ignore[arg-type]
        spec = client.get("/openapi.json").json()
        reads = []
        for path, operations in spec["paths"].items():
            params = re.findall(r"{(\w+)}", path)
            if "get" not in operations or "/public/" in path or params != ["activity_id"]:
                continue
            reads += [path.replace("{activity_id}", str(i)) for i in range(1, 16)]
        seen: dict[Role, set[str]] = {Role.ANALYST: set(), Role.EDITOR: set()}
        answered = 0
        for role, found in seen.items():
            auth = {"Authorization": f"Bearer {walk.tokens[role]}"}
            for url in reads:
                got = client.get(url, headers=auth)
                if got.status_code == 200:
                    answered += 1
                    found |= set(_leaks(got.text, walk.secrets))
    assert answered > 20
    assert seen[Role.ANALYST] == set()
    assert len(seen[Role.EDITOR]) > 10  # Q&A askers, UGC authors, players, inviters


def test_the_live_qa_queue_is_masked_for_a_reader_without_people_read() -> None:
    """The moderation queue's live snapshots carry the askers' nicknames; an analyst's stream
    gets each one masked (the questions stay whole)."""
    import json

    from im2.activities.formats.qa.pages import _mask_board

    snapshot = json.dumps(
        {"activity_id": 8, "questions": [{"id": 1, "nickname": "王小明", "text": "有燕麦奶吗？"}]},
        ensure_ascii=False,
    )
    masked = json.loads(_mask_board(snapshot))
    assert masked["questions"] == [{"id": 1, "nickname": "王*明", "text": "有燕麦奶吗？"}]
