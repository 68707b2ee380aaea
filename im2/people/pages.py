"""Console pages for people (用户): the list with search and filters, a profile (用户画像) with
its timeline across campaigns, tags, merges and their undo, and import and export."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from im2.campaigns.schemas import CampaignFilter
from im2.campaigns.service import list_campaigns
from im2.config import Settings
from im2.errors import IM2Error, InvalidInput
from im2.i18n import N_, _
from im2.people import io, service
from im2.people.api import XLSX, SourcesDep, people_sources
from im2.people.consent.schemas import PURPOSE_NAMES
from im2.people.consent.service import states as consent_states
from im2.people.ladder.schemas import STAGE_LABELS
from im2.people.schemas import (
    SOCIAL_KINDS,
    STAGE_ORDER,
    IdentityKind,
    ImportTarget,
    PeopleFilter,
    PeopleSort,
)
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import service_error
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}/people", include_in_schema=False)

SORT_LABELS = {
    PeopleSort.LAST_SEEN: N_("Last seen"),
    PeopleSort.POINTS: N_("Points held"),
    PeopleSort.STAGE: N_("Closeness stage"),
    PeopleSort.SCORE: N_("Engagement score"),
}
TARGET_LABELS = {
    ImportTarget.IGNORE: N_("Leave out"),
    ImportTarget.CRM: N_("CRM id"),
    ImportTarget.PHONE: N_("Phone number"),
    ImportTarget.EMAIL: N_("E-mail address"),
    ImportTarget.WEIBO: N_("Weibo account"),
    ImportTarget.DOUYIN: N_("Douyin account"),
    ImportTarget.XIAOHONGSHU: N_("Xiaohongshu account"),
    ImportTarget.TAGS: N_("Tags"),
    ImportTarget.ATTRIBUTE: N_("Attribute (named after the column)"),
}
KIND_LABELS = {
    "device": N_("Device"),
    "participant": N_("Participant"),
    "phone": N_("Phone number"),
    "email": N_("E-mail address"),
    "share_code": N_("Share code"),
    "crm": N_("CRM id"),
    "wechat_openid": N_("WeChat OpenID"),
    "wechat_unionid": N_("WeChat UnionID"),
    "weibo": N_("Weibo account"),
    "douyin": N_("Douyin account"),
    "xiaohongshu": N_("Xiaohongshu account"),
}
# The social accounts the profile's form can add, in the order it offers them.
ACCOUNT_KINDS = tuple(k.value for k in IdentityKind if k in SOCIAL_KINDS)
REASON_LABELS = {
    "verified_phone": N_("The same phone number was verified"),
    "verified_email": N_("The same e-mail address was verified"),
    "shared_identity": N_("The same CRM id or OpenID"),
    "manual": N_("Merged by hand"),
}


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The console shows times in China Standard Time (`local_time`), so a day means that day there.
CONSOLE_OFFSET = "+08:00"


def _base(actor: Actor) -> str:
    return f"/console/w/{actor.workspace_slug}/people"


def _common(actor: Actor) -> dict[str, Any]:
    return {
        "nav": "people",
        "base": _base(actor),
        "can_write": actor.can(Permission.WRITE_PEOPLE),
        "stage_labels": {str(k): v for k, v in STAGE_LABELS.items()},
        "stages": STAGE_ORDER,
    }


def _filters(request: Request) -> tuple[PeopleFilter, dict[str, str]]:
    """The list's filters from the query string; blank fields are no filter."""
    raw = {k: v.strip() for k, v in request.query_params.items() if k != "cursor" and v.strip()}
    values: dict[str, Any] = dict(raw)
    for name in ("seen_from", "seen_until"):
        # A day picked in the console is that day in the console's time zone.
        if name in values and _DAY.fullmatch(values[name]):
            values[name] += f"T00:00:00{CONSOLE_OFFSET}"
    if "verified" in values:
        values["verified"] = values["verified"] == "yes"
    try:
        return PeopleFilter(**values), raw
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0]) if error.errors() else "q"
        raise InvalidInput(_("The format is not valid."), field=field) from None


@router.get("")
def people_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    sources: SourcesDep,
) -> Response:
    errors: dict[str, str] = {}
    try:
        filters, chosen = _filters(request)
    except InvalidInput as error:
        filters, chosen, errors = PeopleFilter(), {}, service_error(error)
    page = None
    with db.session() as session:
        try:
            page = service.list_people(
                session,
                actor=actor,
                cursor=request.query_params.get("cursor"),
                limit=30,
                filters=filters,
                secret=settings.secret_key.get_secret_value(),
                sources=sources,
            )
        except InvalidInput as error:
            errors = service_error(error)
        campaigns = list_campaigns(
            session, actor=actor, filters=CampaignFilter(include_archived=True), limit=100
        ).items
    query = urlencode(chosen)
    return render(
        request,
        "people/list.html",
        {
            **_common(actor),
            "page": page,
            "chosen": chosen,
            "query": query,
            "errors": errors,
            "campaigns": campaigns,
            "sorts": list(PeopleSort),
            "sort_labels": SORT_LABELS,
            "has_points": sources.points is not None,
        },
        status_code=422 if errors else 200,
    )


@router.get("/export.{file_format}")
def export_page(
    file_format: str,
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    filters, _chosen = _filters(request)
    with db.transaction() as session:
        data, _rows = io.export_people(
            session,
            actor=actor,
            filters=filters,
            secret=settings.secret_key.get_secret_value(),
            file_format=file_format,
            sources=people_sources(request),
            now=now,
        )
    media = XLSX if file_format == "xlsx" else "text/csv; charset=utf-8"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="people.{file_format}"'},
    )


# --- import -------------------------------------------------------------------------------------


def _import_page(
    request: Request,
    actor: Actor,
    *,
    report: Any = None,
    token: str = "",
    filename: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "people/import.html",
        {
            **_common(actor),
            "report": report,
            "token": token,
            "filename": filename,
            "errors": errors or {},
            "targets": list(ImportTarget),
            "target_labels": TARGET_LABELS,
            "max_mb": io.MAX_IMPORT_BYTES // (1024 * 1024),
            "max_rows": io.MAX_IMPORT_ROWS,
        },
        status_code=status_code,
    )


@router.get("/import")
def import_form(request: Request, actor: ConsoleActor) -> Response:
    return _import_page(request, actor)


# Between the upload and the mapping step the file waits under the media folder, named by its
# SHA-256 in a folder of the workspace (the form carries only the hash); it is deleted once
# imported, and files left behind are deleted after a day.
HOLD_SECONDS = 24 * 3600
_TOKEN = re.compile(r"[0-9a-f]{64}")


def _hold_dir(settings: Settings, actor: Actor) -> Path:
    return Path(settings.media_path) / "people-imports" / str(actor.workspace_id)


def _hold(settings: Settings, actor: Actor, data: bytes) -> str:
    folder = _hold_dir(settings, actor)
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - HOLD_SECONDS
    for old in folder.glob("*.upload"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = hashlib.sha256(data).hexdigest()
    part = folder / f".{token}.tmp"
    part.write_bytes(data)
    part.replace(folder / f"{token}.upload")
    return token


async def _upload(form: FormData, settings: Settings, actor: Actor) -> tuple[str, bytes, str]:
    """(filename, bytes, token): a new file, or the one the mapping step names by its hash."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(io.MAX_IMPORT_BYTES + 1)
        if len(data) > io.MAX_IMPORT_BYTES:
            return upload.filename, data, ""
        return upload.filename, data, _hold(settings, actor, data)
    token = str(form.get("token", ""))
    path = _hold_dir(settings, actor) / f"{token}.upload"
    if not _TOKEN.fullmatch(token) or not path.exists():
        raise InvalidInput(_("Choose a CSV or Excel file."), field="file")
    return str(form.get("filename", "people.csv"))[:200], path.read_bytes(), token


@router.post("/import")
async def import_file(
    request: Request,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    try:
        filename, data, token = await _upload(form, settings, actor)
    except IM2Error as error:
        return _import_page(request, actor, errors=service_error(error), status_code=422)
    mapping = None
    if form.get("mapped"):
        columns = form.getlist("column")
        chosen = form.getlist("target")
        mapping = {str(c): str(t) for c, t in zip(columns, chosen, strict=False)}
    apply = form.get("action") == "apply"
    try:
        with db.transaction() as session:
            report = io.do_import_people(
                session,
                actor=actor,
                filename=filename,
                data=data,
                mapping=mapping,
                secret=settings.secret_key.get_secret_value(),
                apply=apply,
                now=now,
            )
    except IM2Error as error:
        return _import_page(
            request,
            actor,
            token="" if error.field == "file" else token,
            filename=filename,
            errors=service_error(error),
            status_code=error.status_code,
        )
    if report.applied:
        (_hold_dir(settings, actor) / f"{token}.upload").unlink(missing_ok=True)
    return _import_page(
        request,
        actor,
        report=report,
        token="" if report.applied else token,
        filename=filename,
        status_code=422 if report.errors else 200,
    )


# --- one person ---------------------------------------------------------------------------------


@router.get("/{person_id}")
def person_page(
    request: Request,
    person_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    sources: SourcesDep,
) -> Response:
    with db.session() as session:
        person = service.get_person(session, actor=actor, person_id=person_id, sources=sources)
        row = service.access_person(session, actor=actor, person_id=person_id)
        timeline = service.get_timeline(
            session, actor=actor, person=row, cursor=request.query_params.get("cursor"), limit=30
        )
        consents = consent_states(session, workspace_id=actor.workspace_id, person_id=person.id)
    return render(
        request,
        "people/profile.html",
        {
            **_common(actor),
            "person": person,
            "timeline": timeline,
            "consents": consents,
            "purpose_names": {str(k): v for k, v in PURPOSE_NAMES.items()},
            "kind_labels": KIND_LABELS,
            "account_kinds": ACCOUNT_KINDS,
            "reason_labels": REASON_LABELS,
        },
    )


@router.post("/{person_id}/tags")
def add_tag(person_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    with db.transaction() as session:
        service.do_add_tag(
            session, actor=actor, person_id=person_id, tag=str(form.get("tag", "")), now=now
        )
    return RedirectResponse(f"{_base(actor)}/{person_id}", status_code=303)


@router.post("/{person_id}/identities")
def add_account(
    person_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    kind = str(form.get("kind", ""))
    if kind not in ACCOUNT_KINDS:
        raise InvalidInput(_("Choose one of the options."), field="kind")
    with db.transaction() as session:
        holder = service.do_add_account(
            session,
            actor=actor,
            person_id=person_id,
            kind=IdentityKind(kind),
            value=str(form.get("value", "")),
            now=now,
        )
    return RedirectResponse(f"{_base(actor)}/{holder}", status_code=303)


@router.post("/{person_id}/tags/remove")
def remove_tag(
    person_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.transaction() as session:
        service.do_remove_tag(
            session, actor=actor, person_id=person_id, tag=str(form.get("tag", "")), now=now
        )
    return RedirectResponse(f"{_base(actor)}/{person_id}", status_code=303)


@router.post("/merges/{merge_id}/undo")
def undo_merge(
    merge_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.transaction() as session:
        merge = service.do_undo_merge(session, actor=actor, merge_id=merge_id, now=now)
    return RedirectResponse(f"{_base(actor)}/{merge.merged_id}", status_code=303)
