"""Console pages of segments (用户 → 人群): the list, and the rule builder with its live count.

The builder is a form, not JSON: each condition is a row (a field, an operator, a value). Any
change posts the form (htmx, `hx-trigger="change, input"`) and the page answers with the
builder re-rendered and the count of people the rule selects now; without JavaScript the
"Count" and "Add a condition" buttons do the same with a full page. Saving an existing segment
makes a new version. Nested groups are made through the API; the builder shows one level (all
or any of the rows)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignFilter
from im2.i18n import N_, _
from im2.people.ladder.schemas import STAGE_LABELS, STAGES
from im2.people.segments import service
from im2.people.segments.api import members_csv
from im2.people.segments.schemas import (
    ActivityKind,
    SegmentCreate,
    SegmentRead,
    SegmentRule,
    SegmentUpdate,
)
from im2.web.db_calls import read, write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import act_or_show_again, error_message, see_other, service_error
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}/people/segments", include_in_schema=False)

FIELD_LABELS = {
    "stage": N_("Closeness stage"),
    "score": N_("Engagement score"),
    "campaign": N_("Took part in campaign"),
    "activity_kind": N_("Took part in activity type"),
    "channel": N_("First came through channel"),
    "source": N_("First came through a share link"),
    "points": N_("Points held"),
    "tag": N_("Tags"),
    "attribute": N_("Attribute"),
    "city": N_("City"),
    "last_seen": N_("Last seen"),
    "verified": N_("Verified phone or e-mail"),
    "consent": N_("Agreed to be contacted about offers"),
}
# The operators each field offers, in the builder's words.
OPS: dict[str, tuple[tuple[str, str], ...]] = {
    "stage": (("in", N_("is one of")), ("not_in", N_("is none of"))),
    "score": (("gte", N_("at least")), ("lte", N_("at most")), ("between", N_("between"))),
    "campaign": (("in", N_("any of")), ("not_in", N_("none of"))),
    "activity_kind": (("in", N_("any of")), ("not_in", N_("none of"))),
    "channel": (("in", N_("is one of")), ("not_in", N_("is none of"))),
    "source": (("any", N_("anyone's link")), ("in", N_("one of these share codes"))),
    "points": (("gte", N_("at least")), ("lte", N_("at most")), ("between", N_("between"))),
    "tag": (("has", N_("has any of")), ("has_not", N_("has none of"))),
    "attribute": (
        ("in", N_("is one of")),
        ("not_in", N_("is none of")),
        ("exists", N_("is filled in")),
    ),
    "city": (("in", N_("is one of")), ("not_in", N_("is none of"))),
    "last_seen": (("within", N_("within the last")), ("before", N_("not in the last"))),
    "verified": (("yes", N_("yes")), ("no", N_("no"))),
    "consent": (("yes", N_("yes")), ("no", N_("no"))),
}
ACTIVITY_LABELS = {
    ActivityKind.POLL: N_("Poll"),
    ActivityKind.QUIZ: N_("Quiz"),
    ActivityKind.SURVEY: N_("Survey"),
    ActivityKind.QA: N_("Live Q&A"),
    ActivityKind.UGC: N_("UGC contest"),
    ActivityKind.DRAW: N_("Lucky draw"),
    ActivityKind.CHECKIN: N_("Check-in"),
    ActivityKind.GROUPBUY: N_("Group-buy"),
    ActivityKind.REFERRAL: N_("Invite a friend"),
    ActivityKind.CARDS: N_("Card collecting"),
}
VERIFIED_KINDS = (("any", N_("phone or e-mail")), ("phone", N_("phone")), ("email", N_("e-mail")))
CHOICE_FIELDS = frozenset({"stage", "activity_kind", "campaign"})  # checkboxes
TEXT_FIELDS = frozenset({"channel", "source", "tag", "attribute", "city"})  # comma lists
MAX_ROWS = 20
_SPLIT = re.compile(r"[,，、;；\n]+")


def _rows_of(rule: SegmentRule) -> list[dict[str, Any]]:
    """The builder's rows for a saved rule (its first level; groups are shown as text)."""
    rows = []
    for cond in rule.conditions:
        if isinstance(cond, SegmentRule):
            continue
        data = cond.model_dump(mode="json")
        row: dict[str, Any] = {"field": data["field"], "op": data.get("op", "")}
        if data["field"] in ("verified", "consent"):
            row["op"] = "yes" if data["value"] else "no"
            row["kind"] = data.get("kind", "any")
        elif "values" in data:
            row["values"] = [str(v) for v in data["values"]]
            row["text"] = "，".join(row["values"])
        for name in ("value", "to", "key", "days"):
            if (
                name in data
                and data[name] is not None
                and data["field"] not in ("verified", "consent")
            ):
                row[name] = data[name]
        rows.append(row)
    return rows


def _rows_from(form: FormData) -> list[dict[str, Any]]:
    try:
        count = min(int(str(form.get("rows", "0"))), MAX_ROWS)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        field = str(form.get(f"c{i}_field", "")).strip()
        if not field or form.get("remove") == str(i):
            continue
        op = str(form.get(f"c{i}_op", "")).strip()
        if op not in {o for o, _label in OPS.get(field, ())}:
            op = OPS[field][0][0] if field in OPS else op
        row: dict[str, Any] = {"field": field, "op": op}
        values = [str(v) for v in form.getlist(f"c{i}_values")]
        text = str(form.get(f"c{i}_text", ""))
        row["values"] = (
            values
            if field in CHOICE_FIELDS
            else [v.strip() for v in _SPLIT.split(text) if v.strip()]
        )
        row["text"] = text
        for name in ("value", "to", "key", "days", "kind"):
            given = str(form.get(f"c{i}_{name}", "")).strip()
            if given:
                row[name] = given
        rows.append(row)
    if form.get("action") == "add" and len(rows) < MAX_ROWS:
        rows.append({"field": str(form.get("new_field") or "stage"), "op": ""})
        rows[-1]["op"] = OPS.get(rows[-1]["field"], (("in", ""),))[0][0]
    return rows


def _condition(row: dict[str, Any]) -> dict[str, Any]:
    field = row["field"]
    cond: dict[str, Any] = {"field": field}
    if field == "verified":
        cond["value"] = row["op"] != "no"
        cond["kind"] = row.get("kind", "any")
        return cond
    if field == "consent":
        cond["value"] = row["op"] != "no"
        return cond
    cond["op"] = row["op"]
    if field in ("score", "points"):
        cond["value"] = row.get("value")
        if row["op"] == "between":
            cond["to"] = row.get("to")
        return cond
    if field == "last_seen":
        cond["days"] = row.get("days")
        return cond
    if field == "attribute":
        cond["key"] = row.get("key", "")
    if not (field == "source" and row["op"] == "any") and not (
        field == "attribute" and row["op"] == "exists"
    ):
        cond["values"] = row.get("values", [])
    return cond


def _blank(row: dict[str, Any]) -> bool:
    """A row not filled in yet (no value ticked or typed): left out of the live count, refused
    when saving."""
    field, op = row["field"], row["op"]
    if field in ("score", "points"):
        return not row.get("value") or (op == "between" and not row.get("to"))
    if field == "last_seen":
        return not row.get("days")
    if field in ("verified", "consent") or (field == "source" and op == "any"):
        return False
    if field == "attribute" and op == "exists":
        return not row.get("key")
    return not row.get("values")


def _rule(
    match: str, rows: list[dict[str, Any]], *, strict: bool = False
) -> tuple[SegmentRule | None, dict[str, str]]:
    """The rule of the rows, or the errors per row (`row-<i>`) and for the form. Unless
    `strict` (saving), rows not filled in yet are left out."""
    numbered = [(i, r) for i, r in enumerate(rows) if strict or not _blank(r)]
    data = {"match": match, "conditions": [_condition(r) for _i, r in numbered]}
    try:
        return SegmentRule.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = error.get("loc", ())
            key = "__all__"
            if len(loc) > 1 and loc[0] == "conditions" and isinstance(loc[1], int):
                key = f"row-{numbered[loc[1]][0]}"
            errors.setdefault(key, error_message(error))
        return None, errors


def _choices(db: DbDep, actor: Actor) -> list[Any]:
    with db.session() as session:
        return campaigns.list_campaigns(
            session, actor=actor, filters=CampaignFilter(include_archived=True), limit=100
        ).items


def _builder(
    request: Request,
    db: DbDep,
    actor: Actor,
    now: Any,
    *,
    segment: Any = None,
    name: str = "",
    match: str = "all",
    rows: list[dict[str, Any]],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    versions: list[Any] | None = None,
) -> Response:
    rule, rule_errors = _rule(match, rows)
    errors = {**rule_errors, **(errors or {})}
    count = None
    if rule is not None:
        count = read(db, service.check_preview, actor=actor, rule=rule, now=now)
    return render(
        request,
        "segments/builder.html",
        {
            "nav": "people",
            "segment": segment,
            "name": name,
            "match": match,
            "rows": rows,
            "count": count,
            "errors": errors,
            "versions": versions or [],
            "field_labels": FIELD_LABELS,
            "ops": OPS,
            "stages": [(s.value, STAGE_LABELS[s]) for s in STAGES],
            "activity_kinds": [(k.value, label) for k, label in ACTIVITY_LABELS.items()],
            "verified_kinds": VERIFIED_KINDS,
            "campaigns": _choices(db, actor),
            "can_write": actor.can(Permission.WRITE_PEOPLE),
            "base": f"/console/w/{actor.workspace_slug}/people/segments",
        },
        status_code=status_code,
    )


@router.get("")
def segments_page(request: Request, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    with db.session() as session:
        page = service.list_segments(session, actor=actor)
        counts = {
            s.id: service.count_rule(session, workspace_id=actor.workspace_id, rule=s.rule, now=now)
            for s in page.items
        }
    return render(
        request,
        "segments/list.html",
        {
            "nav": "people",
            "segments": page.items,
            "counts": counts,
            "can_write": actor.can(Permission.WRITE_PEOPLE),
            "base": f"/console/w/{actor.workspace_slug}/people/segments",
        },
    )


@router.get("/new")
def new_segment(request: Request, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    rows = [{"field": "stage", "op": "in", "values": []}]
    return _builder(request, db, actor, now, rows=rows)


def _save(
    request: Request, db: DbDep, actor: Actor, now: Any, form: FormData, segment_id: int | None
) -> Response:
    match = "any" if form.get("match") == "any" else "all"
    name = str(form.get("name", "")).strip()
    rows = _rows_from(form)
    segment = versions = None
    if segment_id is not None:
        with db.session() as session:
            segment = service.get_segment(session, actor=actor, segment_id=segment_id)
            versions = service.list_versions(session, actor=actor, segment_id=segment_id)
    page: dict[str, Any] = {
        "segment": segment,
        "name": name,
        "match": match,
        "rows": rows,
        "versions": versions,
    }
    if form.get("action") != "save":
        return _builder(request, db, actor, now, **page)
    rule, errors = _rule(match, rows, strict=True)
    if not name:
        errors["name"] = _("This field is required.")
    if rule is None or errors:
        return _builder(request, db, actor, now, **page, errors=errors, status_code=422)

    def act() -> SegmentRead:
        with db.transaction() as session:
            if segment_id is None:
                return service.do_create_segment(
                    session, actor=actor, data=SegmentCreate(name=name, rule=rule), now=now
                )
            return service.do_update_segment(
                session,
                actor=actor,
                segment_id=segment_id,
                data=SegmentUpdate(name=name, rule=rule),
                now=now,
            )

    return act_or_show_again(
        act,
        again=lambda exc: _builder(
            request, db, actor, now, **page, errors=service_error(exc), status_code=exc.status_code
        ),
        done=lambda saved: see_other(
            f"/console/w/{actor.workspace_slug}/people/segments/{saved.id}?saved={saved.version}"
        ),
        propagate=(),
    )


@router.post("/new")
def post_new(
    request: Request, actor: ConsoleActor, db: DbDep, now: NowDep, form: CsrfForm
) -> Response:
    return _save(request, db, actor, now, form, None)


@router.get("/{segment_id}")
def segment_page(
    segment_id: Id, request: Request, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.session() as session:
        segment = service.get_segment(session, actor=actor, segment_id=segment_id)
        versions = service.list_versions(session, actor=actor, segment_id=segment_id)
    return _builder(
        request,
        db,
        actor,
        now,
        segment=segment,
        name=segment.name,
        match=segment.rule.match,
        rows=_rows_of(segment.rule),
        versions=versions,
    )


@router.post("/{segment_id}")
def post_segment(
    segment_id: Id, request: Request, actor: ConsoleActor, db: DbDep, now: NowDep, form: CsrfForm
) -> Response:
    return _save(request, db, actor, now, form, segment_id)


@router.post("/{segment_id}/archive")
def archive(
    segment_id: Id, request: Request, actor: ConsoleActor, db: DbDep, now: NowDep, form: CsrfForm
) -> Response:
    write(db, service.do_archive_segment, actor=actor, segment_id=segment_id, now=now)
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/people/segments", 303)


@router.get("/{segment_id}/members.csv")
def export_members(segment_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    return members_csv(db, actor=actor, segment_id=segment_id, now=now)
