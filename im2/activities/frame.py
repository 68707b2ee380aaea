"""The public page frame every format shares: the activity's page at `/c/<slug>/<kind>/<id>`
and its participant actions, each a plain form POST to `/c/<slug>/<kind>/<id>/<action>` that
works without JavaScript (post/redirect/get) and is swapped in place by HTMX when it is there.

A format states what differs — its templates, what a visitor sees (`view`), and for each action
the write and its messages — and `add_public_frame` makes the routes. Every action goes through
the one participant-form path (`im2.web.participant_forms`): CSRF, honeypot, rate limit, then
the write; a refused action shows its message on the page with its status, a 404 stays a 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from im2.activities.schemas import ActivityKind
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.participation import comments
from im2.web.deps import DbDep, NowDep, VisitorDep, remember_channel
from im2.web.links import public_base_url
from im2.web.params import Id
from im2.web.participant_forms import ParticipantPost, ParticipantPostDep, form_context
from im2.web.templating import render


@dataclass(frozen=True, slots=True)
class Visit:
    """Who is looking at which activity, for a format's `view`."""

    slug: str
    activity_id: int
    device_id: str
    now: datetime
    query: Mapping[str, str]
    cookies: Mapping[str, str]
    base_url: str  # the site's public address (for links to share)

    def keywords(self, *, now: bool = True) -> dict[str, Any]:
        """Who looks at which activity, as a format's read takes it (`now` unless False)."""
        found: dict[str, Any] = {
            "slug": self.slug,
            "activity_id": self.activity_id,
            "device_id": self.device_id,
        }
        return (found | {"now": self.now}) if now else found


def visit_of(
    request: Request, *, slug: str, activity_id: int, device_id: str, now: datetime
) -> Visit:
    return Visit(
        slug=slug,
        activity_id=activity_id,
        device_id=device_id,
        now=now,
        query=request.query_params,
        cookies=request.cookies,
        base_url=public_base_url(request),
    )


@dataclass(frozen=True, slots=True)
class Seen:
    """What a format's `view` gives the frame: the template values, and whether the visitor
    is not a participant yet (their first action then asks for consent)."""

    context: dict[str, Any]
    needs_consent: bool

    @classmethod
    def of(cls, view: Any, **context: Any) -> Seen:
        """A format's view (with its `participant_id`) as `view` in the templates, and more."""
        return cls(context={"view": view, **context}, needs_consent=view.participant_id is None)


@dataclass(frozen=True, slots=True)
class FrameAction:
    """One participant action: `write(post, slug, activity_id)` runs after the guard (use
    `post.write(...)` for its transaction); `done` is the notice after it (msgid, translated
    when shown), `done_flag` the query flag of the page it redirects to; `done_in_place`
    False leaves the notice out of the HTMX swap (the box itself shows the outcome)."""

    path: str
    refused: str
    done: str
    done_flag: str
    write: Callable[[ParticipantPost, str, int], object]
    done_in_place: bool = True


def simple_write(
    do: Callable[..., object], *, announce: bool = True
) -> Callable[[ParticipantPost, str, int], None]:
    """The write of an action that is one call of the format's service,
    `do(session, slug=, activity_id=, **post.rules())`, in the participant's transaction; the
    activity's live channel announces it after the commit unless `announce` is False."""

    def write(post: ParticipantPost, slug: str, activity_id: int) -> None:
        post.write(
            lambda session: do(session, slug=slug, activity_id=activity_id, **post.rules()),
            activity_id=activity_id if announce else None,
        )

    return write


@dataclass(frozen=True, slots=True)
class PublicFrame:
    """A format's public page: its templates, what a visitor sees (`view`, whose context may
    add anything the templates need) and its actions (the first one is the page's form)."""

    kind: ActivityKind
    page_template: str
    box_template: str  # the part an HTMX action swaps
    view: Callable[[Session, Visit], Seen]
    actions: Sequence[FrameAction]
    comments: bool = False  # the activity's comment thread under the page


def page_path(kind: ActivityKind, slug: str, activity_id: int) -> str:
    return f"/c/{slug}/{kind.value}/{activity_id}"


def render_frame(
    request: Request,
    frame: PublicFrame,
    *,
    db: DbDep,
    visit: Visit,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
    fragment: bool = False,
) -> Response:
    path = page_path(frame.kind, visit.slug, visit.activity_id)
    with db.session() as session:
        seen = frame.view(session, visit)
        thread = (
            comments.list_comments(session, target_type="activity", target_id=visit.activity_id)
            if frame.comments and not fragment
            else []
        )
    context: dict[str, Any] = {
        **seen.context,
        **form_context(request, needs_consent=seen.needs_consent),
        "error": error,
        "errors": errors or {},
        "notice": notice,
        "action": f"{path}/{frame.actions[0].path}" if frame.actions else None,
        "page_url": path,
    }
    if frame.comments:
        context |= {
            "comments": thread,
            "target_type": "activity",
            "target_id": visit.activity_id,
            "slug": visit.slug,
            "back": path,
        }
    template = frame.box_template if fragment else frame.page_template
    return render(request, template, context, status_code=status_code)


def add_public_frame(router: APIRouter, frame: PublicFrame) -> None:
    kind = frame.kind.value

    @router.get(f"/c/{{slug}}/{kind}/{{activity_id}}", name=f"{kind}_page")
    def page(
        request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep, now: NowDep
    ) -> Response:
        notice = next(
            (_(a.done) for a in frame.actions if request.query_params.get(a.done_flag)), None
        )
        visit = visit_of(
            request, slug=slug, activity_id=activity_id, device_id=visitor.device_id, now=now
        )
        response = render_frame(request, frame, db=db, visit=visit, notice=notice)
        return remember_channel(request, response)

    for action in frame.actions:
        _add_action(router, frame, action)


def _add_action(router: APIRouter, frame: PublicFrame, action: FrameAction) -> None:
    kind = frame.kind.value

    @router.post(f"/c/{{slug}}/{kind}/{{activity_id}}/{action.path}", name=f"{kind}_{action.path}")
    def act(request: Request, slug: str, activity_id: Id, post: ParticipantPostDep) -> Response:
        visit = visit_of(
            request,
            slug=slug,
            activity_id=activity_id,
            device_id=post.visitor.device_id,
            now=post.now,
        )
        try:
            post.guard(refused=_(action.refused))
            action.write(post, slug, activity_id)
        except IM2Error as exc:
            if isinstance(exc, NotFound):
                raise
            refusal = post.refusal(exc, slug=slug)  # every field at fault, each by its field
            return render_frame(
                request,
                frame,
                db=post.db,
                visit=visit,
                error=refusal.error,
                errors=refusal.errors,
                status_code=refusal.status_code,
                fragment=post.htmx,
            )
        post.points_earned()  # the poll's group-committed vote is paid here (im2.web.points_flash)
        if post.htmx:
            notice = _(action.done) if action.done_in_place else None
            return render_frame(
                request, frame, db=post.db, visit=visit, notice=notice, fragment=True
            )
        # Post/redirect/get: a reload does not send the action again.
        path = page_path(frame.kind, slug, activity_id)
        return RedirectResponse(f"{path}?{action.done_flag}=1", status_code=303)
