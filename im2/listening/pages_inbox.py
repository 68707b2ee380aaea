"""Console pages for the response inbox: the list by status, priority and assignee; an item
with assignment, status, priority, internal notes, replies from templates and its place on the
escalation ladder; and the management of reply templates."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from im2.errors import InvalidInput
from im2.i18n import _
from im2.listening import inbox, service
from im2.listening.pages_common import (
    base_url,
    listening_page,
    redirect,
    require_write,
    write_or_show_again,
)
from im2.listening.schemas import (
    InboxNoteCreate,
    InboxStatus,
    InboxUpdate,
    Priority,
    ReplyTemplateCreate,
)
from im2.web.db_calls import read, write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import FormState, raw_values
from im2.web.params import Id
from im2.workspaces.schemas import Actor

router = APIRouter()


@router.get("/inbox")
def inbox_page(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    status: Annotated[str | None, Query()] = None,
    priority: Annotated[str | None, Query()] = None,
    assignee: Annotated[str | None, Query()] = None,
    cursor: str | None = None,
) -> Response:
    chosen = {"status": status or "", "priority": priority or "", "assignee": assignee or ""}
    try:
        status_value = InboxStatus(status) if status else None
        priority_value = Priority(priority) if priority else None
        assignee_id = int(assignee) if assignee else None
    except ValueError:
        raise InvalidInput(_("Unknown filter value.")) from None
    with db.session() as session:
        page = inbox.list_inbox(
            session,
            actor=actor,
            status=status_value,
            priority=priority_value,
            assignee_id=assignee_id,
            cursor=cursor,
        )
        counts = inbox.inbox_counts(session, actor=actor)
        members = inbox.assignable_members(session, actor=actor, now=now)
        metrics = {
            "person": inbox.response_times(session, actor=actor, by="person"),
            "topic": inbox.response_times(session, actor=actor, by="topic"),
        }
    return listening_page(
        request,
        actor,
        "inbox",
        "inbox",
        {
            "page": page,
            "counts": counts,
            "members": members,
            "metrics": metrics,
            "chosen": chosen,
            "now": now,
        },
    )


def _item_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    item_id: int,
    now: datetime,
    template_id: int | None = None,
    state: FormState = FormState(),
) -> Response:
    with db.session() as session:
        item = inbox.get_inbox_item(session, actor=actor, item_id=item_id)
        members = inbox.assignable_members(session, actor=actor, now=now)
        templates = inbox.list_reply_templates(session, actor=actor)
        ladder = service.get_settings(session, actor=actor).escalation_ladder
    values = dict(state.values or {})
    chosen = next((t for t in templates if t.id == template_id), None)
    if chosen is not None and not values.get("body"):
        values["body"] = chosen.body
    return listening_page(
        request,
        actor,
        "inbox_item",
        "inbox",
        {
            "item": item,
            "members": members,
            "templates": templates,
            "template_id": template_id,
            "ladder": ladder,
            "overdue": item.step_due_at is not None and item.step_due_at <= now,
            "values": values,
        },
        state=state,
    )


@router.get("/inbox/{item_id}")
def inbox_item_page(
    request: Request,
    item_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    template: Annotated[str | None, Query()] = None,
) -> Response:
    template_id = int(template) if template and template.isdigit() else None
    return _item_page(request, db, actor, item_id=item_id, now=now, template_id=template_id)


@router.post("/inbox/{item_id}")
def update_inbox_item(
    request: Request,
    item_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require_write(actor)
    raw = raw_values(form)
    assignee = raw.get("assignee_id", "").strip()
    # An unchanged status is not sent: assigning a new item moves it to "in progress", and
    # the "new" still selected in the form must not move it back.
    status = raw.get("status") or None
    payload: dict[str, object] = {
        "status": None if status == raw.get("was_status") else status,
        "priority": raw.get("priority") or None,
    }
    if assignee:
        payload["assignee_id"] = assignee
    else:
        payload["unassign"] = True

    def save() -> None:
        data = InboxUpdate.model_validate(payload)
        write(db, inbox.do_update_inbox_item, actor=actor, item_id=item_id, data=data, now=now)

    return write_or_show_again(
        save,
        again=partial(_item_page, request, db, actor, item_id=item_id, now=now),
        done=f"{base_url(actor)}/inbox/{item_id}",
    )


@router.post("/inbox/{item_id}/notes")
def add_note(
    request: Request,
    item_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require_write(actor)
    raw = raw_values(form)

    def save() -> None:
        data = InboxNoteCreate(body=raw.get("body", "").strip(), reply=raw.get("kind") == "reply")
        write(db, inbox.do_add_note, actor=actor, item_id=item_id, data=data, now=now)

    return write_or_show_again(
        save,
        again=partial(_item_page, request, db, actor, item_id=item_id, now=now),
        values=raw,
        done=f"{base_url(actor)}/inbox/{item_id}#notes",
        refused=lambda exc: {"body": exc.message},
    )


# --- reply templates ------------------------------------------------------------------------


def _templates_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    state: FormState = FormState(),
) -> Response:
    templates = read(db, inbox.list_reply_templates, actor=actor)
    return listening_page(
        request,
        actor,
        "reply_templates",
        "inbox",
        {"templates": templates},
        state=state,
    )


@router.get("/reply-templates")
def templates_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _templates_page(request, db, actor)


@router.post("/reply-templates")
def create_template(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    require_write(actor)
    raw = raw_values(form)

    def save() -> None:
        data = ReplyTemplateCreate(
            name=raw.get("name", "").strip(), body=raw.get("body", "").strip()
        )
        write(db, inbox.do_create_reply_template, actor=actor, data=data, now=now)

    return write_or_show_again(
        save,
        again=partial(_templates_page, request, db, actor),
        values=raw,
        done=f"{base_url(actor)}/reply-templates",
    )


@router.post("/reply-templates/{template_id}/delete")
def delete_template(
    template_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    write(db, inbox.do_delete_reply_template, actor=actor, template_id=template_id, now=now)
    return redirect(f"{base_url(actor)}/reply-templates")
