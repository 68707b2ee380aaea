"""The participant's "my rewards" page of a campaign (/c/<slug>/rewards): points and their
history, coupons with a QR code, prizes, rewards under review, and the points store. Works
without JavaScript: the store's buttons are plain POST forms with the CSRF token."""

from __future__ import annotations

import base64
import io
import secrets

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.incentives import service
from im2.incentives.schemas import LEDGER_KIND_LABELS, reason_label
from im2.participation import service as participation
from im2.web.deps import CsrfForm, DbDep, NowDep, VisitorDep
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
HIDDEN_STATUSES = ("draft", "archived")


def _campaign(db: DbDep, slug: str) -> tuple[CampaignRead, int]:
    with db.session() as session:
        found = campaigns.get_public_campaign(session, slug=slug)
    if found is None or found.campaign.status in HIDDEN_STATUSES:
        raise NotFound(_("There is no campaign at this address."))
    return found.campaign, found.workspace_id


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a data: URI, so the page needs no second request."""
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _page(
    request: Request,
    *,
    db: DbDep,
    slug: str,
    device_id: str,
    now: NowDep,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    campaign, workspace_id = _campaign(db, slug)
    context: dict[str, object] = {
        "campaign": campaign,
        "participant": None,
        "error": error,
        "notice": notice,
    }
    with db.session() as session:
        participant = participation.get_participant(
            session, workspace_id=workspace_id, device_id=device_id
        )
        pools, prizes = service.store_items(
            session, workspace_id=workspace_id, campaign_id=campaign.id
        )
        context.update(store_pools=pools, store_prizes=prizes)
        if participant is not None:
            ids = {"workspace_id": workspace_id, "participant_id": participant.id}
            coupons = service.participant_coupons(session, campaign_id=campaign.id, now=now, **ids)
            context.update(
                participant=participant,
                balance=service.get_balance(session, now=now, **ids),
                history=service.list_ledger(session, limit=50, **ids),
                coupons=[
                    (ref, name, service.format_code(ref.code), qr_data_uri(ref.code))
                    for ref, name in coupons
                ],
                prizes=service.participant_prizes(session, campaign_id=campaign.id, **ids),
                pending=service.participant_pending(session, campaign_id=campaign.id, **ids),
            )
    context.update(
        nonce=secrets.token_urlsafe(12),
        kind_labels=LEDGER_KIND_LABELS,
        reason_label=reason_label,
    )
    return render(request, "incentives/rewards.html", context, status_code=status_code)


@router.get("/c/{slug}/rewards")
def rewards(request: Request, slug: str, db: DbDep, visitor: VisitorDep, now: NowDep) -> Response:
    notice = _("Done! Your reward is below.") if request.query_params.get("done") else None
    return _page(request, db=db, slug=slug, device_id=visitor.device_id, now=now, notice=notice)


@router.post("/c/{slug}/rewards/buy")
def buy(
    request: Request, slug: str, form: CsrfForm, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    campaign, workspace_id = _campaign(db, slug)
    item = str(form.get("item", ""))
    raw_id = str(form.get("item_id", ""))
    nonce = str(form.get("nonce", ""))[:40]
    try:
        if not raw_id.isdigit() or not nonce:
            raise NotFound(_("This item is not in the store."), field="item")
        with db.transaction() as session:
            participant = participation.get_participant(
                session, workspace_id=workspace_id, device_id=visitor.device_id
            )
            if participant is None:
                raise NotFound(_("Take part in the campaign first to collect points."))
            service.do_buy(
                session,
                workspace_id=workspace_id,
                campaign_id=campaign.id,
                participant_id=participant.id,
                item=item,
                item_id=int(raw_id),
                # The page's one-time nonce: a double tap or a resent form buys once.
                key=f"web:{participant.id}:{nonce}",
                now=now,
            )
    except IM2Error as exc:
        return _page(
            request,
            db=db,
            slug=slug,
            device_id=visitor.device_id,
            now=now,
            error=exc.message,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/c/{slug}/rewards?done=1", status_code=303)
