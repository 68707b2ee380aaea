"""JSON API of polls: the brand's side and the participant's vote."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from im2.activities.formats.api import add_console_read
from im2.activities.formats.poll import service
from im2.activities.formats.poll.live import cast_vote
from im2.activities.formats.poll.schemas import (
    PollResults,
    VoteIn,
    VoteReceipt,
)
from im2.activities.formats.poll.votes import VoteRequest
from im2.config import Settings
from im2.i18n import get_locale
from im2.web.deps import get_visitor
from im2.web.json_route import JsonBodyRoute
from im2.web.params import Id
from im2.web.participant_forms import check_consent_text

router = APIRouter(prefix="/api/v1", tags=["polls"])
# The participant's vote is the app's hottest route. Routes are matched in order and every
# route tried costs, so the app factory serves this router before all the others.
# Its body is validated straight from the bytes (`JsonBodyRoute`), FastAPI's way on any refusal.
votes_router = APIRouter(prefix="/api/v1", tags=["polls"], route_class=JsonBodyRoute)


add_console_read(
    router,
    "/polls/{activity_id}/results",
    service.poll_results,
    name="results",
    response_model=PollResults,
    summary="Results as the brand sees them (held votes excluded and counted apart)",
)


@votes_router.post(
    "/public/campaigns/{slug}/polls/{activity_id}/votes",
    response_model=VoteReceipt,
    status_code=201,
    tags=["participants"],
    summary="Vote as the participant whose device cookie comes with the request",
)
async def vote(slug: str, activity_id: Id, body: VoteIn, request: Request) -> Response:
    """The hot path: everything cheap happens on the event loop (no thread hand-over per
    dependency), the writes go to the database's group commit, and the answer is sent once
    the batch holding this vote has committed. The receipt is serialized once, here (the
    response model above documents it)."""
    state = request.app.state
    settings: Settings = state.settings
    visitor = get_visitor(request, settings)
    await state.limiter.ahit(device_id=visitor.device_id, ip=visitor.ip)
    if body.consent and body.consent_sha256:
        # One read, off the event loop, only for a first vote that says what it showed.
        await asyncio.to_thread(
            check_consent_text, request, body.model_dump(), field="consent_sha256"
        )
    receipt = await cast_vote(
        state.db,
        state.hub,
        VoteRequest(
            slug=slug,
            activity_id=activity_id,
            visitor=visitor,
            option_ids=body.options,
            consented=body.consent,
            seconds_on_page=None,
            risk_threshold=settings.risk_hold_threshold,
            identities_per_ip_hour=settings.risk_identities_per_ip_hour,
            now=state.clock.now(),
            locale=get_locale(),
        ),
    )
    return Response(receipt.model_dump_json(), status_code=201, media_type="application/json")
