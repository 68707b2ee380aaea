"""Console: the comment moderation queue of a campaign."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.errors import InvalidInput
from im2.i18n import _
from im2.participation import comments
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


@router.get("/campaigns/{campaign_id}/comments")
def queue(
    request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep, status: str = "pending"
) -> Response:
    try:
        chosen = comments.CommentStatus(status) if status else None
    except ValueError:
        raise InvalidInput(_("Unknown filter value."), field="status") from None
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        items = comments.moderation_queue(
            session, actor=actor, campaign_id=campaign_id, status=chosen
        )
    return render(
        request,
        "participation/moderation.html",
        {
            "campaign": campaign,
            "items": items,
            "status": status,
            "statuses": list(comments.CommentStatus),
            "status_labels": comments.STATUS_LABELS,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "nav": "campaigns",
        },
    )


@router.post("/comments/{comment_id}")
def moderate(
    comment_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    try:
        status = comments.CommentStatus(str(form.get("status", "")))
    except ValueError:
        raise InvalidInput(_("Choose one of the options."), field="status") from None
    with db.transaction() as session:
        comments.do_moderate(session, actor=actor, comment_id=comment_id, status=status, now=now)
    back = str(form.get("back") or "")
    if not back.startswith(f"/console/w/{actor.workspace_slug}/"):
        back = f"/console/w/{actor.workspace_slug}/campaigns"
    return RedirectResponse(back, status_code=303)
