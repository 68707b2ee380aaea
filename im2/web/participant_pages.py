"""What the participant's own pages of a campaign share: 我的 (/c/<slug>/me) and 我的数据
(/c/<slug>/my-data). Both find the campaign the same way and send a one-time code to a phone
or e-mail the same way (joining first, with consent, when the device has not joined yet);
a refused request lists every field at fault at once (im2.web.participant_forms.FieldErrors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from starlette.datastructures import FormData

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.db import Database
from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.participation.senders import CodeSender, queue_code
from im2.web.participant_forms import FieldErrors, check_consent_text, consent_error

HIDDEN_STATUSES = ("draft", "archived")


def public_campaign(db: Database, slug: str) -> tuple[CampaignRead, int]:
    """The campaign at /c/<slug> and its workspace id; 404 for none, a draft or an archive."""
    with db.session() as session:
        found = campaigns.get_public_campaign(session, slug=slug)
    if found is None or found.campaign.status in HIDDEN_STATUSES:
        raise NotFound(_("There is no campaign at this address."))
    return found.campaign, found.workspace_id


@dataclass(frozen=True, slots=True)
class OnCampaign:
    """A visitor on a campaign's public page: the campaign, its workspace, the time."""

    campaign: CampaignRead
    workspace_id: int
    visitor: Visitor
    now: datetime


def on_campaign(db: Database, slug: str, visitor: Visitor, now: datetime) -> OnCampaign:
    campaign, workspace_id = public_campaign(db, slug)
    return OnCampaign(campaign, workspace_id, visitor, now)


def check_first(
    db: Database,
    *,
    workspace_id: int,
    visitor: Visitor,
    consented: bool,
    required: Mapping[str, str],
    checks: Sequence[Callable[[], object]] = (),
) -> None:
    """The faults seen before any write, raised together when there are several: a required
    field left blank, a field the participation service refuses (`checks`: its own check
    functions, which the write runs again, e.g. a malformed e-mail address), and the consent
    box left unticked by a device that has not joined (the service asks consent first, so
    without this it would be the only fault shown). A single one is left to the write, which
    says the same."""
    errors = {name: _("This field is required.") for name, v in required.items() if not v.strip()}
    for check in checks:
        try:
            check()
        except InvalidInput as exc:
            errors.setdefault(exc.field or "", exc.message)  # a blank field says so
    if not consented and errors:
        with db.session() as session:
            joined = participation.get_participant(
                session, workspace_id=workspace_id, device_id=visitor.device_id
            )
        if joined is None:
            errors["consent"] = consent_error()
    if len(errors) > 1:
        raise FieldErrors(errors)


def code_values(form: FormData) -> dict[str, str]:
    """What the code form had typed, to show again when it is refused."""
    return {name: str(form.get(name, "")) for name in ("destination", "channel")}


def send_code(request: Request, db: Database, here: OnCampaign, form: FormData) -> str:
    """Join (with consent) when the device has not, then a new code for `destination`: by SMS
    through the workspace's provider (queued, sent by the job), or after the commit by the
    deployment's sender (im2.participation.senders). Raises `FieldErrors` with every fault;
    returns the channel."""
    channel, destination = str(form.get("channel", "")), str(form.get("destination", ""))
    consented = form.get("consent") == "yes"
    campaign, workspace_id, visitor, now = here.campaign, here.workspace_id, here.visitor, here.now
    check_consent_text(request, form)
    check_first(
        db,
        workspace_id=workspace_id,
        visitor=visitor,
        consented=consented,
        required={"destination": destination},
        checks=[lambda: participation.check_destination(channel, destination)],
    )
    settings = request.app.state.settings
    sender: CodeSender = request.app.state.code_sender
    with db.transaction() as session:
        participant = participation.do_join(
            session,
            workspace_id=workspace_id,
            campaign_id=campaign.id,
            visitor=visitor,
            consented=consented,
            now=now,
        )
        sent_to, code = participation.do_request_code(
            session,
            participant_id=participant.id,
            channel=channel,
            destination=destination,
            secret=settings.secret_key.get_secret_value(),
            now=now,
        )
        queue_code(
            session,
            sender=sender,
            caps=request.app.state.sms_caps,
            workspace_id=workspace_id,
            participant_id=participant.id,
            channel=channel,
            destination=sent_to,
            code=code,
            brand=campaign.name,
            ip=visitor.ip,
            now=now,
        )
    return channel
