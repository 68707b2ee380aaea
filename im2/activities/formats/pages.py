"""Console routes several formats share, made from what each names (as `im2.activities.console`
makes the create, detail, edit and export routes from the format's declaration).

    POST /console/w/<ws>/<kind>/<activity id>/review/<row id>   count or discard a held row

The review form posts `decision=approve` (anything else discards); the editor goes back to the
activity's page."""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.common import HeldReview
from im2.db import Database
from im2.live.hub import Hub
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep
from im2.web.params import Id


class Refresh(Protocol):
    """What to push to the live views once the review is committed."""

    def __call__(self, session: Session, *, db: Database, hub: Hub, activity_id: int) -> None: ...


def add_review(router: APIRouter, review: HeldReview, *, refresh: Refresh | None = None) -> None:
    """POST `/<kind>/{activity_id}/review/{row_id}`: the format's `review` (its `do_review_*`)
    of one held row, in one transaction."""
    kind = review.kind.value

    @router.post(f"/{kind}/{{activity_id}}/review/{{row_id}}", name=f"review_{kind}")
    def review_route(
        activity_id: Id,
        row_id: Id,
        form: CsrfForm,
        actor: ConsoleActor,
        db: DbDep,
        hub: HubDep,
        now: NowDep,
    ) -> Response:
        keywords = {review.row: row_id}
        with db.transaction() as session:
            review(
                session,
                actor=actor,
                activity_id=activity_id,
                approve=form.get("decision") == "approve",
                now=now,
                **keywords,
            )
            if refresh is not None:
                refresh(session, db=db, hub=hub, activity_id=activity_id)
        return RedirectResponse(
            f"/console/w/{actor.workspace_slug}/{kind}/{activity_id}", status_code=303
        )
