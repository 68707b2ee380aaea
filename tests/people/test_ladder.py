"""The closeness ladder from the event log: ground truth from simulated people whose stages are
known, through the public pages and the share links, half of the log in the lake.

The people (two campaigns, A and B; default rules: a spreader brought 1, an advocate took part
in 2 campaigns or on 3 weeks and brought 2):
- V looks at A and never acts: 旁观者;
- P looks at A and votes: 参与者;
- S votes in A, shares, and F joins through S's link and votes: S 传播者, F 参与者;
- R votes in A, shares, G1 comes through the link; eight days later R votes in B, shares,
  G2 comes through that link: R brought 2 people in 2 campaigns, 拥护者; G1, G2 参与者.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.analytics.ladder import compute_ladder
from im2.analytics.lake import move_events_to_lake
from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.people import service as people
from im2.people.ladder import service as ladder_service
from im2.people.ladder.models import LadderState
from im2.workspaces.schemas import Role
from tests.conftest import Brand, go_live
from tests.test_auth import login
from tests.test_polls import POLL, vote_url


def _campaign(client: TestClient, brand: Brand, slug: str) -> tuple[int, str, int, list[int]]:
    campaign = go_live(client, brand, slug=slug, name=slug, ends_at="2026-06-30T22:00:00")
    created = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=brand.auth(Role.OWNER)
    )
    assert created.status_code == 201, created.text
    poll = created.json()["id"]
    results = client.get(f"/api/v1/polls/{poll}/results", headers=brand.auth(Role.OWNER)).json()
    return campaign["id"], slug, poll, [o["id"] for o in results["options"]]


def _phone(client: TestClient) -> TestClient:
    return TestClient(client.app)


def _vote(phone: TestClient, slug: str, poll: int, option: int) -> None:
    voted = phone.post(vote_url(slug, poll), json={"options": [option], "consent": True})
    assert voted.status_code == 201, voted.text


def _link(phone: TestClient, slug: str) -> str:
    # Someone who took part gets their link when they open the share page.
    found = re.search(r"/s/([a-z0-9]{10})\?ch=wechat", phone.get(f"/c/{slug}/share").text)
    assert found is not None
    return found.group(1)


def _through(client: TestClient, code: str, slug: str, poll: int, option: int) -> TestClient:
    friend = _phone(client)
    assert friend.get(f"/s/{code}?ch=wechat", follow_redirects=False).status_code == 303
    _vote(friend, slug, poll, option)
    return friend


def _person_of(db: Database, workspace_id: int, actor_id: str | None) -> int:
    assert actor_id is not None
    with db.session() as session:
        pairs = dict(people.actor_persons(session, workspace_id=workspace_id, everyone=True))
    return int(pairs[actor_id].removeprefix("p:"))


def _run(db: Database, brand: Brand, lake_path: Path, clock: ManualClock) -> Any:
    return compute_ladder(
        db, workspace_id=brand.workspace_id, lake_path=lake_path, now=clock.now(), force=True
    )


def _counts(board: dict[str, Any]) -> dict[str, int]:
    return {s["stage"]: s["people"] for s in board["stages"]}


def test_stages_changes_and_counts_read_back_from_the_log(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    a, slug_a, poll_a, opts_a = _campaign(client, brand, "ladder-a")
    b, slug_b, poll_b, opts_b = _campaign(client, brand, "ladder-b")

    v = _phone(client)
    assert v.get(f"/c/{slug_a}").status_code == 200
    p = _phone(client)
    assert p.get(f"/c/{slug_a}").status_code == 200
    _vote(p, slug_a, poll_a, opts_a[0])
    s = _phone(client)
    _vote(s, slug_a, poll_a, opts_a[1])
    s_code = _link(s, slug_a)
    r = _phone(client)
    _vote(r, slug_a, poll_a, opts_a[2])
    r_code_a = _link(r, slug_a)
    clock.advance(timedelta(minutes=5))
    _through(client, s_code, slug_a, poll_a, opts_a[0])  # F
    _through(client, r_code_a, slug_a, poll_a, opts_a[1])  # G1
    # Half of the log goes to the lake: the ladder reads the lake and the tail together.
    clock.advance(timedelta(minutes=1))
    assert move_events_to_lake(db, lake_path=lake_path, now=clock.now()).moved > 0
    clock.advance(timedelta(days=8))
    _vote(r, slug_b, poll_b, opts_b[0])
    r_code_b = _link(r, slug_b)
    clock.advance(timedelta(minutes=5))
    _through(client, r_code_b, slug_b, poll_b, opts_b[1])  # G2
    clock.advance(timedelta(hours=1))

    with db.session() as session:
        votes = list_events(session, kinds=["vote.cast"])
        joins = {e.actor_id: e.id for e in list_events(session, kinds=["participant.joined"])}
        views = list_events(session, kinds=["campaign.viewed"])
    # Votes in order: P, S, R, F, G1 (campaign A), R, G2 (campaign B).
    voters = [e.actor_id for e in votes]
    assert len(voters) == 7
    assert voters[2] == voters[5]
    ws = brand.workspace_id
    pid = {name: _person_of(db, ws, voters[i]) for name, i in zip("PSRF", range(4), strict=True)}
    pid["G1"], pid["G2"] = _person_of(db, ws, voters[4]), _person_of(db, ws, voters[6])
    v_device = views[0].actor_id
    assert v_device is not None
    assert v_device.startswith("d:")

    run = _run(db, brand, lake_path, clock)
    assert run.full
    assert run.stored is not None

    editor = brand.auth(Role.EDITOR)
    board = client.get("/api/v1/people/ladder", headers=editor).json()
    assert _counts(board) == {"bystander": 1, "participant": 4, "spreader": 1, "advocate": 1}

    def ladder_of(name: str) -> dict[str, Any]:
        got = client.get(f"/api/v1/people/{pid[name]}/ladder", headers=editor)
        assert got.status_code == 200, got.text
        found: dict[str, Any] = got.json()
        return found

    expected = {"P": "participant", "S": "spreader", "R": "advocate", "F": "participant"}
    expected |= {"G1": "participant", "G2": "participant"}
    for name, stage in expected.items():
        assert ladder_of(name)["stage"] == stage, name
    r_ladder = ladder_of("R")
    assert r_ladder["campaigns"] == {"0": "advocate", str(a): "spreader", str(b): "spreader"}
    workspace_steps = [
        (c["from_stage"], c["to_stage"], c["cause"], c["cause_event_id"])
        for c in r_ladder["changes"]
        if c["campaign_id"] == 0
    ]
    assert [(f, t) for f, t, _c, _e in workspace_steps] == [
        (None, "bystander"),
        ("bystander", "participant"),
        ("participant", "spreader"),
        ("spreader", "advocate"),
    ]
    # R became an advocate when G2, the second person they brought, joined in campaign B
    # through R's link (their first action there, just before their vote); G1 made R a spreader.
    assert workspace_steps[-1][2:] == ("brought:participant.joined", joins[voters[6]])
    assert workspace_steps[2][2:] == ("brought:participant.joined", joins[voters[4]])
    assert ladder_of("S")["campaigns"] == {"0": "spreader", str(a): "spreader"}

    # Person columns mirror the workspace level; the score follows the documented formula.
    with db.session() as session:
        states = {
            row.subject: (row.score, row.brought, row.campaigns)
            for row in session.scalars(select(LadderState).where(LadderState.campaign_id == 0))
        }
    assert set(states) == {v_device, *(f"p:{n}" for n in pid.values())}
    idle_days = (clock.now() - views[0].occurred_at).total_seconds() / 86400
    v_score = 100 * (0.4 * 0.5 ** (idle_days / 14) + 0.3 * math.log(2) / math.log(31))
    assert states[v_device][0] == round(v_score, 1)
    assert states[f"p:{pid['R']}"][1:] == (2, 2)  # brought 2 people, in 2 campaigns
    scores = {n: ladder_of(n)["score"] for n in ("P", "S", "R")}
    assert scores["R"] > scores["S"] > scores["P"] > 0

    # Per campaign.
    in_a = client.get(f"/api/v1/people/ladder?campaign_id={a}", headers=editor).json()
    assert _counts(in_a) == {"bystander": 1, "participant": 3, "spreader": 2, "advocate": 0}
    in_b = client.get(f"/api/v1/people/ladder?campaign_id={b}", headers=editor).json()
    assert _counts(in_b) == {"bystander": 0, "participant": 1, "spreader": 1, "advocate": 0}

    # Flows and the campaigns that moved people up.
    flows = {(f["from_stage"], f["to_stage"]): f["people"] for f in board["flows"]}
    assert flows == {
        ("bystander", "participant"): 6,
        ("participant", "spreader"): 2,
        ("spreader", "advocate"): 1,
    }
    moves = {m["campaign_id"]: m["moved_up"] for m in board["campaigns"]}
    assert moves[a] == {"participant": 5, "spreader": 2, "advocate": 0}
    assert moves[b] == {"participant": 2, "spreader": 1, "advocate": 0}
    last = board["series"][-1]["people"]
    assert last == _counts(board)
    assert sum(d["people"] for d in board["deciles"]) == 7

    # Incremental: V votes; only V is recomputed (the others' rows are not touched).
    first_run_at = clock.now()
    clock.advance(timedelta(minutes=10))
    _vote(v, slug_a, poll_a, opts_a[2])
    again = _run(db, brand, lake_path, clock)
    assert not again.full
    assert again.stored is not None
    pid["V"] = _person_of(db, ws, _last_voter(db))
    assert ladder_of("V")["stage"] == "participant"
    board = client.get("/api/v1/people/ladder", headers=editor).json()
    assert _counts(board) == {"bystander": 0, "participant": 5, "spreader": 1, "advocate": 1}
    with db.session() as session:
        touched = {
            row.subject
            for row in session.scalars(select(LadderState).where(LadderState.campaign_id == 0))
            if row.updated_at > first_run_at
        }
    assert touched == {f"p:{pid['V']}"}
    # V's device had a ladder of its own (workspace and campaign A): V the person now.
    assert again.stored.removed == 2


def _last_voter(db: Database) -> str:
    with db.session() as session:
        actor = list_events(session, kinds=["vote.cast"])[-1].actor_id
    assert actor is not None
    return actor


def test_threshold_edits_change_stages_and_bad_rules_are_refused(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    _a, slug, poll, opts = _campaign(client, brand, "ladder-rules")
    s = _phone(client)
    _vote(s, slug, poll, opts[0])
    code = _link(s, slug)
    clock.advance(timedelta(minutes=5))
    for i in range(2):
        _through(client, code, slug, poll, opts[i + 1])
    _run(db, brand, lake_path, clock)
    owner = brand.auth(Role.OWNER)
    counts = _counts(client.get("/api/v1/people/ladder", headers=owner).json())
    assert counts == {"bystander": 0, "participant": 2, "spreader": 1, "advocate": 0}

    # Advocate after one campaign and two friends; a spreader needs three friends.
    rules = {
        "spreader_min_brought": 2,
        "advocate_min_campaigns": 1,
        "advocate_min_weeks": 1,
        "advocate_min_brought": 2,
    }
    saved = client.put("/api/v1/people/ladder/rules", json=rules, headers=owner)
    assert saved.status_code == 200, saved.text
    assert saved.json()["advocate_min_campaigns"] == 1
    clock.advance(timedelta(minutes=1))
    assert _run(db, brand, lake_path, clock).full  # new rules: everyone again
    counts = _counts(client.get("/api/v1/people/ladder", headers=owner).json())
    assert counts == {"bystander": 0, "participant": 2, "spreader": 0, "advocate": 1}

    raised = client.put(
        "/api/v1/people/ladder/rules",
        json={**rules, "spreader_min_brought": 3, "advocate_min_brought": 3},
        headers=owner,
    )
    assert raised.status_code == 200
    clock.advance(timedelta(minutes=1))
    _run(db, brand, lake_path, clock)
    board = client.get("/api/v1/people/ladder", headers=owner).json()
    assert _counts(board) == {"bystander": 0, "participant": 3, "spreader": 0, "advocate": 0}
    flows = {(f["from_stage"], f["to_stage"]): f["people"] for f in board["flows"]}
    assert flows[("spreader", "advocate")] == 1  # history keeps the moves up
    assert board["series"][-1]["people"]["participant"] == 3  # and the move down

    # Bad rules: 422 naming the field, nothing changed.
    for body, field in (
        ({**rules, "advocate_min_brought": 0}, "advocate_min_brought"),
        ({**rules, "advocate_min_weeks": "many"}, "advocate_min_weeks"),
        ({**rules, "spreader_min_brought": 5, "advocate_min_brought": 4}, "advocate_min_brought"),
        ({**rules, "advocate_min_likes": 4}, "advocate_min_likes"),
    ):
        refused = client.put("/api/v1/people/ladder/rules", json=body, headers=owner)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["field"] == field, refused.json()
    kept = client.get("/api/v1/people/ladder/rules", headers=owner).json()
    assert kept["spreader_min_brought"] == 3
    assert kept["advocate_min_brought"] == 3

    # Analysts see people in aggregates only elsewhere; the ladder is under people:read.
    analyst = brand.auth(Role.ANALYST)
    assert client.get("/api/v1/people/ladder", headers=analyst).status_code == 403
    assert client.put("/api/v1/people/ladder/rules", json=rules, headers=analyst).status_code == 403


def test_the_ladder_job_is_throttled_and_idempotent(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    _a, slug, poll, opts = _campaign(client, brand, "ladder-job")
    _vote(_phone(client), slug, poll, opts[0])
    first = _run(db, brand, lake_path, clock)
    assert first.stored is not None
    assert first.stored.changes == 4  # seen and acted, in the workspace and the campaign

    def job_at(delay: timedelta) -> Any:
        return compute_ladder(
            db, workspace_id=brand.workspace_id, lake_path=lake_path, now=clock.now() + delay
        ).stored

    _vote(_phone(client), slug, poll, opts[1])
    assert job_at(timedelta(seconds=30)) is None  # at most once a minute
    stored = job_at(timedelta(seconds=61))
    assert stored is not None
    assert stored.subjects == 2  # the new voter only, in the workspace and the campaign
    assert stored.changes == 4
    assert job_at(timedelta(minutes=5)) is None  # nothing new: nothing stored
    with db.session() as session:
        rows = session.scalars(select(LadderState)).all()
        assert len(rows) == 4


def test_the_console_page_shows_the_ladder_and_edits_the_rules(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    _a, slug, poll, opts = _campaign(client, brand, "ladder-page")
    s = _phone(client)
    _vote(s, slug, poll, opts[0])
    code = _link(s, slug)
    clock.advance(timedelta(minutes=5))
    _through(client, code, slug, poll, opts[1])
    _run(db, brand, lake_path, clock)

    login(client, brand.emails[Role.OWNER])
    url = "/console/w/acme/people/ladder"
    page = client.get(url)
    assert page.status_code == 200
    assert "亲密度阶梯" in page.text
    counts = dict(
        re.findall(r'data-stage="(\w+)"><span>[^<]+</span><strong>([\d,]+)</strong>', page.text)
    )
    assert counts == {"bystander": "0", "participant": "1", "spreader": "1", "advocate": "0"}
    assert "传播者" in page.text
    assert 'id="ladder-sankey"' in page.text

    token = re.search(r'id="rules-form".*?name="csrf_token" value="([^"]+)"', page.text, re.S)
    assert token is not None
    form = {
        "csrf_token": token.group(1),
        "spreader_min_brought": "3",
        "advocate_min_campaigns": "2",
        "advocate_min_weeks": "3",
        "advocate_min_brought": "2",
    }
    refused = client.post(f"{url}/rules", data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert "拥护者带来的人数不能少于传播者" in refused.text
    assert 'id="advocate_min_brought" name="advocate_min_brought" type="number"' in refused.text
    saved = client.post(
        f"{url}/rules", data={**form, "advocate_min_brought": "3"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert "规则已保存" in client.get(saved.headers["location"]).text
    with db.session() as session:
        rules = ladder_service.get_rules(session, workspace_id=brand.workspace_id)
    assert (rules.spreader_min_brought, rules.advocate_min_brought) == (3, 3)

    login(client, brand.emails[Role.ANALYST])
    assert client.get(url).status_code == 403


def test_a_merge_and_its_undo_reach_the_ladder_at_the_next_run(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    _a, slug, poll, opts = _campaign(client, brand, "ladder-merge")
    x, y = _phone(client), _phone(client)
    _vote(x, slug, poll, opts[0])
    code = _link(x, slug)
    _vote(y, slug, poll, opts[1])  # y is the same human on another phone, not yet known
    clock.advance(timedelta(minutes=5))
    _through(client, code, slug, poll, opts[2])
    _run(db, brand, lake_path, clock)
    editor = brand.auth(Role.EDITOR)
    before = {"bystander": 0, "participant": 2, "spreader": 1, "advocate": 0}
    assert _counts(client.get("/api/v1/people/ladder", headers=editor).json()) == before

    with db.session() as session:
        voters = [e.actor_id for e in list_events(session, kinds=["vote.cast"])]
    px, py = (_person_of(db, brand.workspace_id, v) for v in voters[:2])
    clock.advance(timedelta(minutes=2))
    merged = client.post(f"/api/v1/people/{py}/merge", json={"into": px}, headers=editor)
    assert merged.status_code == 201, merged.text
    clock.advance(timedelta(minutes=2))
    run = _run(db, brand, lake_path, clock)
    assert not run.full  # no new event: the merge itself is picked up
    after = {"bystander": 0, "participant": 1, "spreader": 1, "advocate": 0}
    assert _counts(client.get("/api/v1/people/ladder", headers=editor).json()) == after
    assert client.get(f"/api/v1/people/{py}/ladder", headers=editor).json()["stage"] is None
    with db.session() as session:
        (days,) = session.execute(
            select(LadderState.active_days).where(
                LadderState.subject == f"p:{px}", LadderState.campaign_id == 0
            )
        ).one()
    assert days == 1

    undo = client.post(f"/api/v1/people/merges/{merged.json()['id']}/undo", headers=editor)
    assert undo.status_code == 200, undo.text
    clock.advance(timedelta(minutes=2))
    _run(db, brand, lake_path, clock)
    assert _counts(client.get("/api/v1/people/ladder", headers=editor).json()) == before
    assert client.get(f"/api/v1/people/{py}/ladder", headers=editor).json()["stage"] == (
        "participant"
    )
