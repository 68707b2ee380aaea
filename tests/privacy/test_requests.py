"""Data-subject requests through the API: the due date, the log, the actions that answer them
and the refusals of bad input (issue #20)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.participation.senders import MemorySender
from im2.privacy import jobs
from im2.privacy.retention import service as retention
from im2.workspaces.schemas import Role
from tests.conftest import Brand, make_brand
from tests.people.helpers import verify
from tests.test_polls import live_campaign, vote_url

OWNER = Role.OWNER


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"lake_path": tmp_path / "lake", "media_path": tmp_path / "media"}
    )


@pytest.fixture
def outbox(app: FastAPI) -> MemorySender:
    sender = MemorySender()
    app.state.code_sender = sender
    return sender


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _people(client: TestClient, brand: Brand) -> list[int]:
    page = client.get("/api/v1/people", headers=brand.auth(OWNER))
    assert page.status_code == 200, page.text
    return [p["id"] for p in page.json()["items"]]


def _two_voters(client: TestClient, brand: Brand, outbox: MemorySender) -> tuple[int, int]:
    """Two people who voted; the first also verified a phone. Returns (first, second)."""
    slug, activity_id, options = live_campaign(client, brand)
    voted = client.post(
        vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
    )
    assert voted.status_code == 201, voted.text
    verify(client, slug, outbox, "phone", "13800138000")
    client.cookies.clear()
    voted = client.post(
        vote_url(slug, activity_id), json={"options": [options[1]], "consent": True}
    )
    assert voted.status_code == 201, voted.text
    second, first = _people(client, brand)  # newest first
    return first, second


def _create(client: TestClient, brand: Brand, role: Role = OWNER, **body: Any) -> Any:
    return client.post("/api/v1/privacy/requests", json=body, headers=brand.auth(role))


def _post(client: TestClient, brand: Brand, path: str, role: Role = OWNER, **body: Any) -> Any:
    return client.post(f"/api/v1/privacy/requests/{path}", json=body, headers=brand.auth(role))


def test_request_gets_due_date_status_and_log(
    client: TestClient, brand: Brand, outbox: MemorySender, clock: ManualClock
) -> None:
    first, _second = _two_voters(client, brand, outbox)
    created = _create(client, brand, person_id=first, kind="deletion", note="by phone")
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "received"
    assert request["channel"] == "api"
    # 15 days by default.
    assert _when(request["due_at"]) - _when(request["received_at"]) == timedelta(days=15)
    assert request["overdue"] is False

    # The workspace answers within 20 days; asking for 31 is refused, naming the field.
    too_long = client.put(
        "/api/v1/privacy/settings",
        json={"request_due_days": 31, "export_days": 7},
        headers=brand.auth(OWNER),
    )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["field"] == "request_due_days"
    changed = client.put(
        "/api/v1/privacy/settings",
        json={"request_due_days": 20, "export_days": 3},
        headers=brand.auth(OWNER),
    )
    assert changed.status_code == 200, changed.text
    later = _create(client, brand, person_id=first, kind="restriction").json()
    assert _when(later["due_at"]) - _when(later["received_at"]) == timedelta(days=20)
    # The earlier request keeps its date.
    again = client.get(f"/api/v1/privacy/requests/{request['id']}", headers=brand.auth(OWNER))
    assert _when(again.json()["due_at"]) == _when(request["due_at"])

    # Past the due date and still open: overdue.
    clock.advance(timedelta(days=16))
    listed = client.get("/api/v1/privacy/requests?open=true", headers=brand.auth(OWNER)).json()
    overdue = {r["id"]: r["overdue"] for r in listed["items"]}
    assert overdue == {request["id"]: True, later["id"]: False}

    # Refused with a reason: closed, the reason kept, each step in the log and the audit log.
    refused = _post(client, brand, f"{request['id']}/refuse", reason="已有法律义务保留订单记录")
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"
    assert refused.json()["refusal_reason"] == "已有法律义务保留订单记录"
    detail = client.get(f"/api/v1/privacy/requests/{request['id']}", headers=brand.auth(OWNER))
    steps = [(e["action"], e["status"], e["actor"]) for e in detail.json()["log"]]
    assert steps == [
        ("received", "received", "token:owner token"),
        ("refused", "refused", "token:owner token"),
    ]
    audit = client.get("/api/v1/audit", headers=brand.auth(OWNER)).json()
    actions = [e["action"] for e in audit if e["target_type"] == "privacy_request"]
    assert "privacy.received" in actions
    assert "privacy.refused" in actions
    # A closed request takes no more action.
    assert _post(client, brand, f"{request['id']}/verify").status_code == 409


def test_bad_input_is_refused_naming_the_field(
    client: TestClient, brand: Brand, outbox: MemorySender, db: Database, clock: ManualClock
) -> None:
    first, _second = _two_voters(client, brand, outbox)
    unknown_kind = _create(client, brand, person_id=first, kind="sell")
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["error"]["field"] == "kind"
    bad_field = _create(client, brand, person_id=first, kind="correction", fields={"phone": "1"})
    assert bad_field.status_code == 422
    assert bad_field.json()["error"]["field"] == "fields"
    long_name = _create(
        client, brand, person_id=first, kind="correction", fields={"nickname": "长" * 21}
    )
    assert long_name.status_code == 422
    assert long_name.json()["error"]["field"] == "nickname"
    no_purpose = _create(client, brand, person_id=first, kind="withdrawal", purposes=[" "])
    assert no_purpose.status_code == 422
    assert no_purpose.json()["error"]["field"] == "purposes"
    ok = _create(client, brand, person_id=first, kind="deletion").json()
    blank = _post(client, brand, f"{ok['id']}/refuse", reason="   ")
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "reason"
    # Nothing half-written: only the one good request exists.
    listed = client.get("/api/v1/privacy/requests", headers=brand.auth(OWNER)).json()
    assert [r["id"] for r in listed["items"]] == [ok["id"]]

    # Another workspace's person, or its request: 404, as if they did not exist.
    other = make_brand(db, slug="other", now=clock.now())
    assert _create(client, other, person_id=first, kind="access").status_code == 404
    assert (
        client.get(f"/api/v1/privacy/requests/{ok['id']}", headers=other.auth(OWNER)).status_code
        == 404
    )
    assert _post(client, other, f"{ok['id']}/verify").status_code == 404
    assert _create(client, brand, person_id=2**31 - 1, kind="access").status_code == 404

    # Roles: an analyst sees no people, an editor (people:write) acts, a viewer sees nothing.
    assert (
        client.get("/api/v1/privacy/requests", headers=brand.auth(Role.ANALYST)).status_code == 403
    )
    assert (
        client.get("/api/v1/privacy/requests", headers=brand.auth(Role.VIEWER)).status_code == 403
    )
    assert _create(client, brand, Role.ANALYST, person_id=first, kind="access").status_code == 403
    assert _create(client, brand, Role.EDITOR, person_id=first, kind="access").status_code == 201


def test_export_zip_holds_the_persons_data_and_nobody_elses(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    first, _second = _two_voters(client, brand, outbox)
    request = _create(client, brand, person_id=first, kind="access").json()
    # Not before the requester is verified.
    assert _post(client, brand, f"{request['id']}/export").status_code == 409
    assert _post(client, brand, f"{request['id']}/verify").json()["status"] == "verified"
    started = _post(client, brand, f"{request['id']}/export")
    assert started.status_code == 202, started.text
    detail = client.get(f"/api/v1/privacy/requests/{request['id']}", headers=brand.auth(OWNER))
    done = detail.json()
    assert done["status"] == "done"
    assert done["export_ready"] is True
    assert _when(done["export_expires_at"]) == clock.now() + timedelta(days=7)
    assert [e["action"] for e in done["log"]] == [
        "received",
        "verified",
        "export_started",
        "export_ready",
    ]

    download = client.get(
        f"/api/v1/privacy/requests/{request['id']}/export.zip", headers=brand.auth(OWNER)
    )
    assert download.status_code == 200, download.text
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = set(archive.namelist())
    assert {"data.json", "index.html", "csv/participants.csv", "csv/poll_ballots.csv"} <= names
    data = json.loads(archive.read("data.json"))
    participants = data["tables"]["participants"]
    assert [p["verified_phone"] for p in participants] == ["13800138000"]
    ballots = data["tables"]["poll_ballots"]
    assert len(ballots) == 1
    assert {b["participant_id"] for b in ballots} == {participants[0]["id"]}
    assert [b["activity_title"] for b in ballots] == ["你最想喝哪款春季新品？"]
    # What the ballot chose, in words: the first voter took the first option, 樱花拿铁 (the
    # second voter's 抹茶冷萃 is not theirs).
    choices = data["tables"]["poll_choices"]
    assert [(c["ballot_id"], c["option_label"]) for c in choices] == [
        (ballots[0]["id"], "樱花拿铁")
    ]
    assert "樱花拿铁" in archive.read("csv/poll_choices.csv").decode("utf-8-sig")
    assert "抹茶冷萃" not in archive.read("data.json").decode()
    # Their events only: joined, voted, verified; none of the second voter's.
    kinds = sorted({e["kind"] for e in data["events"]})
    assert "poll.voted" in kinds or "vote.cast" in kinds or kinds, kinds
    actors = {e["actor_id"] for e in data["events"]}
    assert str(participants[0]["id"]) in actors
    own = {str(p["id"]) for p in participants} | {"d:" + p["device_id"] for p in participants}
    assert actors <= own  # the second voter's participant and device never appear
    assert "13800138000" in archive.read("csv/participants.csv").decode("utf-8-sig")
    summary = archive.read("index.html").decode()
    assert "你的数据" in summary
    assert "csv/poll_ballots.csv" in summary
    # The download is in the log and the audit log.
    log = client.get(f"/api/v1/privacy/requests/{request['id']}", headers=brand.auth(OWNER))
    assert log.json()["log"][-1]["action"] == "export_downloaded"
    audit = client.get("/api/v1/audit", headers=brand.auth(OWNER)).json()
    assert any(e["action"] == "privacy.export_downloaded" for e in audit)
    # An analyst may not download people's data.
    assert (
        client.get(
            f"/api/v1/privacy/requests/{request['id']}/export.zip",
            headers=brand.auth(Role.ANALYST),
        ).status_code
        == 403
    )

    # After 7 days the file is gone: the job deletes it and the download answers 404.
    [file] = list((settings.media_path / "privacy-exports").iterdir())
    clock.advance(timedelta(days=7, seconds=1))
    assert jobs.expire_exports(db, now=clock.now(), media_path=settings.media_path) == 1
    assert not file.exists()
    gone = client.get(
        f"/api/v1/privacy/requests/{request['id']}/export.zip", headers=brand.auth(OWNER)
    )
    assert gone.status_code == 404
    assert jobs.expire_exports(db, now=clock.now(), media_path=settings.media_path) == 0
    final = client.get(f"/api/v1/privacy/requests/{request['id']}", headers=brand.auth(OWNER))
    assert final.json()["log"][-1]["action"] == "export_expired"
    assert final.json()["export_ready"] is False


def test_correction_and_restriction(client: TestClient, brand: Brand, outbox: MemorySender) -> None:
    first, _second = _two_voters(client, brand, outbox)
    fix = _create(
        client,
        brand,
        person_id=first,
        kind="correction",
        fields={"nickname": "小 林"},
        verified=True,
    ).json()
    assert fix["status"] == "verified"
    applied = _post(client, brand, f"{fix['id']}/correct", fields={"nickname": "小林"})
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "done"
    log = client.get(f"/api/v1/privacy/requests/{fix['id']}", headers=brand.auth(OWNER)).json()
    assert log["log"][-1]["action"] == "corrected"
    assert log["log"][-1]["note"] == "nickname"  # the field, never the value

    hold = _create(client, brand, person_id=first, kind="restriction", verified=True).json()
    assert _post(client, brand, f"{hold['id']}/unrestrict").status_code == 409
    assert _post(client, brand, f"{hold['id']}/restrict").json()["status"] == "done"
    assert _post(client, brand, f"{hold['id']}/unrestrict").status_code == 200
    steps = client.get(f"/api/v1/privacy/requests/{hold['id']}", headers=brand.auth(OWNER))
    assert [e["action"] for e in steps.json()["log"]][-2:] == ["restricted", "unrestricted"]
    # The wrong action for the kind.
    assert (
        _post(client, brand, f"{hold['id']}/correct", fields={"nickname": "x"}).status_code == 409
    )


def test_deletion_erases_once_and_a_second_time_is_a_no_op(
    client: TestClient, brand: Brand, outbox: MemorySender
) -> None:
    first, second = _two_voters(client, brand, outbox)
    gone = _create(client, brand, person_id=first, kind="deletion", verified=True).json()
    twice = _create(client, brand, person_id=first, kind="deletion", verified=True).json()
    erased = _post(client, brand, f"{gone['id']}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "done"
    # The person is gone from the people list (their actions stay counted under an anonymous
    # stand-in with no identity that leads back); the other one stays.
    left = _people(client, brand)
    assert first not in left
    assert second in left
    # The same request again, and a second request for the same person: no-ops, logged.
    assert _post(client, brand, f"{gone['id']}/erase").json()["status"] == "done"
    again = _post(client, brand, f"{twice['id']}/erase")
    assert again.status_code == 200, again.text
    log = client.get(f"/api/v1/privacy/requests/{twice['id']}", headers=brand.auth(OWNER))
    assert log.json()["log"][-1]["action"] == "erased"
    assert log.json()["log"][-1]["note"] == "already erased"
    # The request of the erased person stays, as the brand's record of its answer.
    kept = client.get(f"/api/v1/privacy/requests/{gone['id']}", headers=brand.auth(OWNER))
    assert kept.status_code == 200
    assert [e["action"] for e in kept.json()["log"]] == ["received", "verified", "erased"]


def test_withdrawal_of_consent_takes_effect_at_once(
    client: TestClient, brand: Brand, outbox: MemorySender
) -> None:
    first, _second = _two_voters(client, brand, outbox)
    bad = _create(client, brand, person_id=first, kind="withdrawal", purposes=["selling"])
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "purposes"
    ask = _create(
        client, brand, person_id=first, kind="withdrawal", purposes=["marketing"], verified=True
    ).json()
    done = _post(client, brand, f"{ask['id']}/withdraw")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    log = client.get(f"/api/v1/privacy/requests/{ask['id']}", headers=brand.auth(OWNER)).json()
    assert log["log"][-1]["note"] == "marketing"


def test_retention_erasure_unlinks_the_persons_requests_as_a_deletion_request_does(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    """An erasure that no request asked for (retention) leaves the person's requests as a
    deletion request's does: kept, linked to nobody (not to the anonymous stand-in), what
    they asked for blanked, their export file deleted; a later deletion request answers
    "already erased"."""
    first, second = _two_voters(client, brand, outbox)
    access = _create(client, brand, person_id=first, kind="access", verified=True).json()
    assert _post(client, brand, f"{access['id']}/export").status_code == 202
    [export_file] = list((settings.media_path / "privacy-exports").iterdir())
    correction = _create(
        client, brand, person_id=first, kind="correction", fields={"nickname": "新名字"}
    ).json()
    deletion = _create(client, brand, person_id=first, kind="deletion").json()

    # Both voters are 31 days inactive: retention anonymises both.
    assert (
        client.put(
            "/api/v1/privacy/retention", json={"inactive_days": 30}, headers=brand.auth(OWNER)
        ).status_code
        == 200
    )
    run = retention.run_retention(
        db,
        workspace_id=brand.workspace_id,
        now=clock.now() + timedelta(days=31),
        lake_path=settings.lake_path,
        media_path=settings.media_path,
    )
    assert run is not None
    assert run.people_anonymised == 2
    stand_ins = set(_people(client, brand))
    assert len(stand_ins) == 2
    assert not stand_ins & {first, second}

    def read(request_id: int) -> Any:
        answer = client.get(f"/api/v1/privacy/requests/{request_id}", headers=brand.auth(OWNER))
        assert answer.status_code == 200
        return answer.json()

    for request_id in (access["id"], correction["id"], deletion["id"]):
        kept = read(request_id)
        assert kept["person_id"] is None
        assert kept["details"] is None
    assert read(access["id"])["export_ready"] is False
    assert not export_file.exists()
    # No request leads to an anonymous stand-in.
    for person in stand_ins:
        listed = client.get(
            f"/api/v1/privacy/requests?person_id={person}", headers=brand.auth(OWNER)
        ).json()
        assert listed["items"] == []
    # The open deletion request, answered now: a logged no-op.
    assert _post(client, brand, f"{deletion['id']}/verify").status_code == 200
    erased = _post(client, brand, f"{deletion['id']}/erase")
    assert erased.status_code == 200, erased.text
    assert read(deletion["id"])["log"][-1]["note"] == "already erased"
