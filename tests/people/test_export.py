"""Exporting people to CSV and Excel: what a file holds (masked phones and e-mails, tags and
attributes, no formulas), the list's filters apply, restricted people and people who withdrew
marketing contact or profiling are left out, every export is audited, and analysts are refused."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from im2.clock import ManualClock
from im2.db import Database
from im2.people.consent.schemas import ConsentChannel, Purpose
from im2.people.consent.service import do_withdraw
from im2.people.models import Person
from im2.workspaces.models import AuditEntry
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login

FILE = (
    "crm,phone,email,tags,note\n"
    "C-1,13800138000,li@example.com,VIP,=1+1\n"
    "C-2,13900139000,,=HYPERLINK(1),plain\n"
    "C-3,,wang@example.com,,\n"
)


def _import(client: TestClient, brand: Brand) -> None:
    done = client.post(
        "/api/v1/people/imports",
        files={"file": ("p.csv", FILE.encode())},
        headers=brand.auth(Role.EDITOR),
    )
    assert done.status_code == 200, done.text
    assert done.json()["applied"]


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # Excel opens it as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_and_excel_hold_the_people_masked_and_formula_safe(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    _import(client, brand)
    with db.transaction() as session:
        restricted = session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1))
        session.execute(
            update(Person).where(Person.id == restricted).values(restricted_at=clock.now())
        )
    answer = client.get("/api/v1/people/export.csv", headers=brand.auth(Role.EDITOR))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == 'attachment; filename="people.csv"'
    rows = _csv(answer.text)
    assert [r["crm_ids"] for r in rows] == ["C-1", "C-2"]  # C-3 is restricted
    first, second = rows
    assert first["phones"] == "138****8000"
    assert first["emails"] == "l***@example.com"
    assert "13800138000" not in answer.text
    assert "li@example.com" not in answer.text
    assert first["tags"] == "VIP"
    assert first["attributes"] == "note==1+1"  # starts with a letter: no formula
    assert second["tags"] == "'=HYPERLINK(1)"  # a tag that would run as a formula
    assert first["verified"] == "yes"
    assert first["points"] == "0"

    excel = client.get("/api/v1/people/export.xlsx", headers=brand.auth(Role.OWNER))
    assert excel.status_code == 200
    sheet = load_workbook(io.BytesIO(excel.content)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ["person_id", "nickname", "stage"]
    assert [v[10] for v in values[1:]] == ["C-1", "C-2"]
    assert values[2][12].startswith("'=")

    with db.session() as session:
        audits = [
            (a.after or {})
            for a in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "people.exported")
                .order_by(AuditEntry.id)
            )
        ]
    assert [(a["format"], a["rows"]) for a in audits] == [("csv", 2), ("xlsx", 2)]


def test_export_follows_the_filters(client: TestClient, brand: Brand) -> None:
    _import(client, brand)
    answer = client.get(
        "/api/v1/people/export.csv", params={"tag": "VIP"}, headers=brand.auth(Role.EDITOR)
    )
    assert [r["crm_ids"] for r in _csv(answer.text)] == ["C-1"]
    nobody = client.get(
        "/api/v1/people/export.csv", params={"q": "nobody"}, headers=brand.auth(Role.EDITOR)
    )
    assert _csv(nobody.text) == []
    bad = client.get("/api/v1/people/export.pdf", headers=brand.auth(Role.EDITOR))
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "format"


def test_analysts_and_viewers_may_not_export_people(
    client: TestClient, brand: Brand, db: Database
) -> None:
    _import(client, brand)
    for role in (Role.ANALYST, Role.VIEWER):
        refused = client.get("/api/v1/people/export.csv", headers=brand.auth(role))
        assert refused.status_code == 403
        assert role.value in refused.json()["error"]["message"]
    login(client, brand.emails[Role.ANALYST])
    page = client.get("/console/w/acme/people/export.csv")
    assert page.status_code == 403
    # (its CSRF token is random: "C-1" could be part of it)
    assert "C-1" not in re.sub(r'<input type="hidden"[^>]*>', "", page.text)
    with db.session() as session:
        assert (
            session.scalar(select(AuditEntry.id).where(AuditEntry.action == "people.exported"))
            is None
        )


def test_people_who_withdrew_marketing_or_profiling_are_left_out(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    # Given three imported people, of whom one withdrew marketing contact and one profiling.
    _import(client, brand)
    with db.transaction() as session:
        first, _second, third = session.scalars(
            select(Person.id).where(Person.workspace_id == brand.workspace_id).order_by(Person.id)
        )
        for person_id, purpose in ((first, Purpose.MARKETING), (third, Purpose.PROFILING)):
            do_withdraw(
                session,
                workspace_id=brand.workspace_id,
                person_id=person_id,
                purpose=purpose,
                channel=ConsentChannel.API,
                now=clock.now(),
            )
    # When the brand exports its people, only the one who withdrew neither is in the file.
    answer = client.get("/api/v1/people/export.csv", headers=brand.auth(Role.EDITOR))
    assert answer.status_code == 200, answer.text
    assert [r["crm_ids"] for r in _csv(answer.text)] == ["C-2"]
