"""Importing people from CSV and Excel: the mapping guessed and chosen, a preview, row errors
with row numbers and nothing written, the whole file or nothing, re-import changes nothing,
a CRM id held by another person merges them, size limits and roles."""

from __future__ import annotations

import io
import json

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import func, select

from im2.db import Database
from im2.people.models import Person, PersonAttribute, PersonIdentity, PersonTag
from im2.workspaces.schemas import Role
from tests.conftest import Brand

GOOD = (
    "会员号,手机,邮箱,标签,城市\n"
    "C-001,13800138000,Li@Example.com,VIP、老客,上海\n"
    "C-002,139 0013 9000,,新客,北京\n"
    "C-003,,wang@example.com,,\n"
)


def _post(
    client: TestClient,
    brand: Brand,
    content: bytes | str,
    *,
    filename: str = "people.csv",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    role: Role = Role.EDITOR,
):
    data = content.encode() if isinstance(content, str) else content
    form: dict[str, str] = {"dry_run": "true" if dry_run else "false"}
    if mapping is not None:
        form["mapping"] = json.dumps(mapping)
    return client.post(
        "/api/v1/people/imports",
        files={"file": (filename, data)},
        data=form,
        headers=brand.auth(role),
    )


def _counts(db: Database) -> tuple[int, int, int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Person)) or 0,
            session.scalar(select(func.count()).select_from(PersonIdentity)) or 0,
            session.scalar(select(func.count()).select_from(PersonTag)) or 0,
            session.scalar(select(func.count()).select_from(PersonAttribute)) or 0,
        )


def test_preview_guesses_the_mapping_and_writes_nothing(
    client: TestClient, brand: Brand, db: Database
) -> None:
    checked = _post(client, brand, GOOD, dry_run=True)
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert report["columns"] == ["会员号", "手机", "邮箱", "标签", "城市"]
    assert report["mapping"] == {
        "会员号": "crm",
        "手机": "phone",
        "邮箱": "email",
        "标签": "tags",
        "城市": "attribute",
    }
    assert report["preview"][0] == ["C-001", "13800138000", "Li@Example.com", "VIP、老客", "上海"]
    assert report["rows"] == 3
    assert report["applied"] is False
    assert report["errors"] == []
    assert _counts(db) == (0, 0, 0, 0)


def test_import_then_the_same_file_again_changes_nothing(
    client: TestClient, brand: Brand, db: Database
) -> None:
    done = _post(client, brand, GOOD)
    assert done.status_code == 200, done.text
    report = done.json()
    assert report["applied"] is True
    assert (report["people_created"], report["people_updated"], report["merges"]) == (3, 0, 0)
    # 3 people; identities: 2 CRM+phone+email, 1 CRM+phone, 1 CRM+email = 3+2+2; tags 3; city 2.
    assert _counts(db) == (3, 7, 3, 2)

    # Found by what was imported: the phone typed with spaces, the e-mail in another case.
    auth = brand.auth(Role.EDITOR)
    for q in ("13900139000", "LI@example.com", "C-003"):
        found = client.get("/api/v1/people", params={"q": q}, headers=auth).json()["items"]
        assert len(found) == 1, q
    vip = client.get("/api/v1/people", params={"tag": "VIP"}, headers=auth).json()["items"]
    person = client.get(f"/api/v1/people/{vip[0]['id']}", headers=auth).json()
    assert person["attributes"] == {"城市": "上海"}
    assert sorted(t["tag"] for t in person["tags"]) == ["VIP", "老客"]
    hints = sorted(i["hint"] for i in person["identities"] if i["hint"])
    assert hints == ["138****8000", "l***@example.com"]  # masked; only hashes are kept

    again = _post(client, brand, GOOD).json()
    assert (again["people_created"], again["people_updated"], again["people_unchanged"]) == (
        0,
        0,
        3,
    )
    assert _counts(db) == (3, 7, 3, 2)


def test_a_bad_row_rejects_the_whole_file_with_row_numbers(
    client: TestClient, brand: Brand, db: Database
) -> None:
    bad = (
        "会员号,手机,邮箱,标签\n"
        "C-001,13800138000,,VIP\n"  # row 2: fine
        "C-002,12ab,not-an-email,\n"  # row 3: two problems
        ",,,新客\n"  # row 4: nobody to find or create
        "C-004,,," + "x" * 40 + "\n"  # row 5: tag too long
    )
    answer = _post(client, brand, bad)
    assert answer.status_code == 200
    report = answer.json()
    assert report["applied"] is False
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "手机"),
        (3, "邮箱"),
        (4, None),
        (5, "标签"),
    ]
    assert "12ab" in report["errors"][0]["message"]
    assert _counts(db) == (0, 0, 0, 0)  # not even row 2


def test_chosen_mapping_and_a_crm_id_on_another_person_merges(
    client: TestClient, brand: Brand, db: Database
) -> None:
    auth = brand.auth(Role.EDITOR)
    _post(client, brand, "crm,phone\nC-1,13800138000\n")
    _post(client, brand, "crm,phone\nC-2,13900139000\n")
    # A file whose columns are named otherwise: the user says which is which; the last
    # column is left out.
    merged = _post(
        client,
        brand,
        "电话号码,客户,备注\n13900139000,C-1,忽略我\n",
        mapping={"电话号码": "phone", "客户": "crm", "备注": ""},
    ).json()
    assert merged["applied"] is True
    assert merged["merges"] == 1
    people = client.get("/api/v1/people", headers=auth).json()["items"]
    assert len(people) == 1
    person = client.get(f"/api/v1/people/{people[0]['id']}", headers=auth).json()
    assert [m["reason"] for m in person["merges"]] == ["shared_identity"]
    assert person["attributes"] == {}


def test_excel_files_are_read_like_csv(client: TestClient, brand: Brand, db: Database) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["CRM", "Mobile", "Level"])
    sheet.append(["C-9", 13800138000, "gold"])  # a number cell, as Excel stores a phone
    out = io.BytesIO()
    book.save(out)
    report = _post(client, brand, out.getvalue(), filename="crm.xlsx").json()
    assert report["applied"] is True, report
    assert report["mapping"] == {"CRM": "crm", "Mobile": "phone", "Level": "attribute"}
    found = client.get(
        "/api/v1/people", params={"q": "13800138000"}, headers=brand.auth(Role.EDITOR)
    ).json()["items"]
    assert len(found) == 1


def test_bad_files_and_mappings_are_refused_with_the_field(
    client: TestClient, brand: Brand, db: Database
) -> None:
    cases = [
        (b"", None, "file"),
        (b"crm,phone\n", None, "file"),  # a header and no rows
        (b"a,a\n1,2\n", None, "file"),  # two columns with one name
        (b"city,level\n1,2\n", None, "mapping"),  # nothing to find anyone by
        (b"crm,phone\n1,2\n", {"nope": "crm"}, "mapping"),
        (b"crm,phone\n1,2\n", {"crm": "salary"}, "mapping"),
        (b"crm,phone\n1,2\n", {"crm": "crm", "phone": "crm"}, "mapping"),
        (b"PK\x03\x04 not really a workbook", None, "file"),
    ]
    for content, mapping, field in cases:
        answer = _post(client, brand, content, mapping=mapping)
        assert answer.status_code == 422, (content, answer.text)
        assert answer.json()["error"]["field"] == field, content
    too_many = "crm\n" + "".join(f"C{i}\n" for i in range(10_002))
    answer = _post(client, brand, too_many)
    assert answer.status_code == 422
    assert "10,000" in answer.json()["error"]["message"]
    too_big = "crm,note\n" + ("C1," + "x" * 1000 + "\n") * 5300
    answer = _post(client, brand, too_big)
    assert answer.status_code in (413, 422)
    assert answer.json()["error"]["message"]
    bad_json = client.post(
        "/api/v1/people/imports",
        files={"file": ("p.csv", b"crm\nC1\n")},
        data={"mapping": "{nope"},
        headers=brand.auth(Role.EDITOR),
    )
    assert bad_json.status_code == 422
    assert bad_json.json()["error"]["field"] == "mapping"
    assert _counts(db) == (0, 0, 0, 0)


def test_only_people_writers_may_import(client: TestClient, brand: Brand, db: Database) -> None:
    for role in (Role.ANALYST, Role.VIEWER):
        assert _post(client, brand, GOOD, role=role).status_code == 403
    assert _post(client, brand, GOOD, role=Role.OWNER).status_code == 200


def test_control_characters_in_headers_and_names_are_dropped(
    client: TestClient, brand: Brand, db: Database
) -> None:
    answer = _post(client, brand, "crm\x00,note\x07\nC-1,x\n", filename="a\x00b.csv")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["applied"] is True
    assert report["columns"] == ["crm", "note"]
    assert "\x00" not in report["filename"]
