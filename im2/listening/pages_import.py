"""Console pages for file imports: the import form and its report, and the workspace's saved
column mappings (save the columns of a file's export under a name, pick it when importing,
delete it)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from im2.errors import InvalidInput
from im2.i18n import N_, _
from im2.listening import service
from im2.listening.formats import PRESETS, MentionField
from im2.listening.importers import FileFormat
from im2.listening.pages_common import base_url, listening_page, redirect, require_write
from im2.listening.schemas import ColumnMappingRead, Platform
from im2.web.db_calls import write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import FormState, act_or_show_again, service_error
from im2.web.params import Id
from im2.workspaces.schemas import Actor

router = APIRouter()  # included by pages.py under its prefix

FILE_FORMAT_LABELS: Final = {
    FileFormat.CSV: "CSV",
    FileFormat.TSV: "TSV",
    FileFormat.JSON: "JSON",
    FileFormat.JSONL: "JSONL",
}
FIELD_LABELS: Final = {
    MentionField.TEXT: N_("Text"),
    MentionField.TITLE: N_("Title"),
    MentionField.POST_ID: N_("Post ID"),
    MentionField.POSTED_AT: N_("Posted at"),
    MentionField.AUTHOR: N_("Author"),
    MentionField.FOLLOWERS: N_("Followers"),
    MentionField.LIKES: N_("Likes"),
    MentionField.REPOSTS: N_("Reposts"),
    MentionField.COMMENTS: N_("Comments"),
    MentionField.URL: N_("URL"),
    MentionField.PLATFORM: N_("Platform"),
}
# Zones offered for times without one (any IANA name may be typed).
ZONE_CHOICES: Final = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Seoul",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
)
# Column names in the editor are separated by commas (Chinese or Latin) or new lines.
SEPARATORS: Final = re.compile(r"[,，\n]")


def _editor_values(mapping: ColumnMappingRead | None) -> dict[str, str]:
    """The mapping editor's fields, filled from a mapping to start from (or empty)."""
    if mapping is None:
        return {"name": "", "platform": Platform.OTHER.value, "timezone": ""}
    values = {
        "name": "" if mapping.preset else mapping.name,
        "platform": mapping.platform.value,
        "timezone": mapping.timezone or "",
    }
    for field, names in mapping.columns.items():
        values[f"col_{field}"] = ", ".join(names)
    for field in mapping.required:
        values[f"req_{field}"] = "on"
    return values


def _import_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    state: FormState,
    editor: dict[str, str] | None = None,
    editor_errors: dict[str, str] | None = None,
) -> Response:
    with db.session() as session:
        saved = service.list_saved_mappings(session, actor=actor)
        imports = service.list_imports(session, actor=actor, limit=10)
        workspace_zone = service.workspace_timezone(session, actor=actor)
    return listening_page(
        request,
        actor,
        "import",
        "import",
        {
            # A saved mapping never takes a ready one's name (do_save_mapping refuses it).
            "ready_mappings": [(p.key, p.title, p.timezone) for p in PRESETS],
            "workspace_zone": workspace_zone,
            "zone_choices": ZONE_CHOICES,
            "saved": saved,
            "formats": FILE_FORMAT_LABELS,
            "fields": FIELD_LABELS,
            "imports": imports,
            "editor": editor if editor is not None else _editor_values(None),
            "editor_errors": editor_errors or {},
        },
        state=state,
    )


@router.get("/import")
def import_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    mapping: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """`mapping` preselects the mapping to import with, `start` fills the mapping editor."""
    with db.session() as session:
        if mapping:  # NotFound (404) for a name that is neither ready nor saved
            service.get_mapping(session, actor=actor, name=mapping)
        begin = service.get_mapping(session, actor=actor, name=start) if start else None
    return _import_page(
        request,
        db,
        actor,
        state=FormState({"mapping": mapping or "im2"}),
        editor=_editor_values(begin),
    )


@router.post("/import")
def import_file(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    require_write(actor)
    values = {
        "mapping": str(form.get("mapping") or ""),
        "file_format": "",
        "timezone": str(form.get("timezone") or "").strip(),
    }
    upload = form.get("file")
    errors: dict[str, str] = {}
    chosen_format = str(form.get("file_format") or "")
    file_format: FileFormat | None = None
    if chosen_format:
        try:
            file_format = FileFormat(chosen_format)
            values["file_format"] = chosen_format
        except ValueError:
            errors["file_format"] = _("Choose one of the options.")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = _("Choose a file to import.")
    if errors or not isinstance(upload, UploadFile):
        return _import_page(request, db, actor, state=FormState(values, errors, 422))
    # A sync route runs in the thread pool, so reading the spooled file does not block the loop.
    data = upload.file.read()
    filename = upload.filename or "upload"
    return act_or_show_again(
        lambda: service.do_import_file(
            db,
            actor=actor,
            filename=filename,
            data=data,
            mapping=values["mapping"],
            file_format=file_format,
            timezone=values["timezone"] or None,
            now=now,
        ),
        again=lambda exc: _import_page(request, db, actor, state=FormState.refused(exc, values)),
        done=lambda report: redirect(f"{base_url(actor)}/imports/{report.id}"),
    )


@router.get("/imports/{import_id}")
def import_report(request: Request, import_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        report = service.get_import(session, actor=actor, import_id=import_id)
        mappings = dict(service.list_mappings(session, actor=actor))
    return listening_page(
        request,
        actor,
        "import_report",
        "import",
        {
            "report": report,
            "mapping_title": mappings.get(report.mapping, report.mapping),
        },
    )


# --- saved column mappings ------------------------------------------------------------------


def _spec_from_form(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The mapping the editor describes, and the errors of its fields."""
    errors: dict[str, str] = {}
    platform = str(form.get("platform") or Platform.OTHER.value)
    if platform not in {p.value for p in Platform}:
        errors["platform"] = _("Choose one of the options.")
    columns: dict[str, list[str]] = {}
    required = []
    for field in FIELD_LABELS:
        raw = str(form.get(f"col_{field}") or "")
        names = [n.strip() for n in SEPARATORS.split(raw) if n.strip()]
        if any(len(n) > 200 for n in names):
            errors[f"col_{field}"] = _("A column name is at most 200 characters.")
        if names:
            columns[field.value] = names
        if field is MentionField.TEXT or form.get(f"req_{field}"):
            required.append(field.value)
            if not names:
                errors[f"col_{field}"] = _("Give the column of a field the file must have.")
    spec = {
        "platform": platform,
        "columns": columns,
        "required": required,
        # Empty: the workspace's zone, whatever it is when the file is imported.
        "timezone": str(form.get("timezone") or "").strip() or None,
    }
    return spec, errors


@router.post("/import/mappings")
def save_mapping(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    require_write(actor)
    editor = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    name = editor.get("name", "").strip()
    spec, errors = _spec_from_form(form)
    if not name:
        errors["name"] = _("Give the mapping a name.")
    if not errors:
        try:
            saved = write(db, service.do_save_mapping, actor=actor, name=name, spec=spec, now=now)
        except InvalidInput as exc:
            errors = service_error(exc)
        else:
            return redirect(f"{base_url(actor)}/import?mapping={quote(saved.name, safe='')}")
    return _import_page(
        request,
        db,
        actor,
        state=FormState({"mapping": "im2"}, status_code=422),
        editor=editor,
        editor_errors=errors,
    )


@router.post("/import/mappings/delete")
def delete_mapping(form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep) -> Response:
    require_write(actor)
    write(db, service.do_delete_mapping, actor=actor, name=str(form.get("name") or ""), now=now)
    return redirect(f"{base_url(actor)}/import#mappings")
