"""The participant's own page of a campaign (/c/<slug>/me): nickname and verified identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error, InvalidInput, NotFound
from im2.i18n import _, get_locale, normalize_locale
from im2.messaging import service as messaging
from im2.messaging.schemas import DeliveryStatus
from im2.participation import comments, service
from im2.people import service as people
from im2.people.consent import service as consents
from im2.people.consent.schemas import OPTIONAL, PURPOSE_NAMES, ConsentChannel, Purpose
from im2.web.deps import CsrfForm, DbDep, LimiterDep, NowDep, SettingsDep, VisitorDep
from im2.web.participant_forms import check_consent_text, consent_box_values, field_errors
from im2.web.participant_pages import (
    OnCampaign,
    check_first,
    code_values,
    on_campaign,
    public_campaign,
    send_code,
)
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


def _page(
    request: Request,
    *,
    db: DbDep,
    slug: str,
    device_id: str,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    sent: str | None = None,
    failed: str | None = None,
    status_code: int = 200,
) -> Response:
    campaign, workspace_id = public_campaign(db, slug)
    with db.session() as session:
        participant = service.get_participant(
            session, workspace_id=workspace_id, device_id=device_id
        )
        profile = (
            service.get_profile(session, participant_id=participant.id) if participant else None
        )
        texts = consents.current_texts(
            session,
            workspace_id=workspace_id,
            language=get_locale(),
            fallback=_default_locale(campaign),
        )
        person_id = (
            people.person_of_participant(
                session, workspace_id=workspace_id, participant_id=participant.id
            )
            if participant
            else None
        )
        states = (
            consents.states(session, workspace_id=workspace_id, person_id=person_id)
            if person_id is not None
            else []
        )
        sent = sent or request.query_params.get("sent")
        trouble = (
            _sms_trouble(session, participant_id=participant.id)
            if sent == "phone" and participant is not None and not errors
            else None
        )
        if trouble is not None:
            # The text never left: no "we sent you a code", the request form says why.
            errors, sent, failed = trouble, None, "code"
            values = {"channel": "phone", **(values or {})}
    return render(
        request,
        "participation/me.html",
        {
            "campaign": campaign,
            "profile": profile,
            "errors": errors or {},
            # What was typed, shown again when it was refused (never lost to an error).
            "values": values or {},
            "notice": notice,
            "failed": failed,  # the form whose errors these are, when it is not the only one
            # The brand's "taking part" text (the join forms' boxes record it).
            "consent_text": texts[Purpose.TAKING_PART].text,
            # What the nickname and code forms' boxes post back (check_consent_text).
            "consent_sha256": texts[Purpose.TAKING_PART].sha256,
            "sent": sent,
            # Consent by purpose: the join form (each purpose on its own, only taking part
            # required) and, once joined, where the participant stands on each.
            "texts": texts,
            "optional": OPTIONAL,
            "purpose_names": PURPOSE_NAMES,
            "states": states,
            "minors_gate": campaign.minors_gate,
        },
        status_code=status_code,
    )


def _sms_trouble(session: Session, *, participant_id: int) -> dict[str, str] | None:
    """What to tell a participant whose text message could not be sent (the provider failed
    after every retry): ask again. None while it is on its way or once it was sent."""
    status = messaging.code_delivery_status(session, participant_id=participant_id)
    if status is DeliveryStatus.FAILED:
        return {
            "destination": _(
                "We could not send the text message; request a new code and try again."
            )
        }
    return None


@router.get("/c/{slug}/me")
def me(request: Request, slug: str, db: DbDep, visitor: VisitorDep) -> Response:
    notice = {
        "nickname": _("Your nickname is saved."),
        "verified": _("Verified, thank you."),
        "joined": _("You have joined. Your choices are saved."),
        "granted": _("Your consent is saved."),
        "withdrawn": _("Your consent is withdrawn; it takes effect now."),
    }.get(request.query_params.get("done", ""))
    return _page(request, db=db, slug=slug, device_id=visitor.device_id, notice=notice)


def _default_locale(campaign: CampaignRead) -> str | None:
    """The campaign's default language, where consent texts fall back to (docs/languages.md)."""
    return normalize_locale(campaign.default_language.value)


def _join_consent(form: CsrfForm, campaign: CampaignRead) -> service.JoinConsent:
    """The join form's answers: the optional purposes ticked, the text versions shown (hidden
    fields), the age answer and the guardian's confirmation (when the campaign asks)."""
    ticked = {str(v) for v in form.getlist("purpose")}
    age = str(form.get("age", ""))
    return service.JoinConsent(
        language=get_locale(),
        fallback_language=_default_locale(campaign),
        versions={p: str(form.get(f"version_{p.value}", "")) for p in Purpose},
        optional=frozenset(p for p in OPTIONAL if p.value in ticked),
        under_14={"under_14": True, "14_plus": False}.get(age),
        guardian=form.get("guardian") == "yes",
    )


@router.post("/c/{slug}/me/join")
def join(
    request: Request, slug: str, form: CsrfForm, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    """Join from the participant's page: taking part (required), the other purposes each on
    its own, and the minors gate. Refused answers store nothing."""
    campaign, workspace_id = public_campaign(db, slug)
    try:
        with db.transaction() as session:
            service.do_join(
                session,
                workspace_id=workspace_id,
                campaign_id=campaign.id,
                visitor=visitor,
                consented=form.get("consent") == "yes",
                consent=_join_consent(form, campaign),
                now=now,
            )
    except IM2Error as exc:
        return _page(
            request,
            db=db,
            slug=slug,
            device_id=visitor.device_id,
            errors={exc.field or "consent": exc.message},
            values={k: str(v) for k, v in form.items() if k in ("age", "guardian")},
            failed="join",
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/c/{slug}/me?done=joined", status_code=303)


@router.post("/c/{slug}/me/consents")
def change_consent(
    request: Request, slug: str, form: CsrfForm, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    """Grant or withdraw one purpose (one button each, as easy one way as the other); a
    withdrawal takes effect for the next query that asks (segments, exports, webhooks)."""
    campaign, workspace_id = public_campaign(db, slug)
    try:
        purpose = Purpose(str(form.get("purpose", "")))
    except ValueError:
        raise InvalidInput(_("Choose one of the options."), field="purpose") from None
    if purpose not in OPTIONAL:
        raise InvalidInput(
            _("Taking part is needed to take part; to stop, ask for your data to be deleted."),
            field="purpose",
        )
    grant = form.get("action") == "grant"
    with db.transaction() as session:
        participant = service.get_participant(
            session, workspace_id=workspace_id, device_id=visitor.device_id
        )
        person_id = (
            None
            if participant is None
            else people.person_of_participant(
                session, workspace_id=workspace_id, participant_id=participant.id
            )
        )
        if participant is None or person_id is None:
            raise NotFound(_("Join first."))
        if grant:
            text = consents.find_text(
                session,
                workspace_id=workspace_id,
                purpose=purpose,
                language=get_locale(),
                version=str(form.get("version", "")),
                fallback=_default_locale(campaign),
            )
            if text is None:
                raise InvalidInput(
                    _("The text you agreed to has changed; please read it again."),
                    field="version",
                )
            consents.do_grant(
                session,
                workspace_id=workspace_id,
                person_id=person_id,
                participant_id=participant.id,
                purpose=purpose,
                text=text,
                channel=ConsentChannel.MY_PAGE,
                now=now,
            )
        else:
            consents.do_withdraw(
                session,
                workspace_id=workspace_id,
                person_id=person_id,
                purpose=purpose,
                channel=ConsentChannel.MY_PAGE,
                now=now,
            )
    done = "granted" if grant else "withdrawn"
    return RedirectResponse(f"/c/{slug}/me?done={done}#consents", status_code=303)


@router.post("/c/{slug}/me/nickname")
def set_nickname(
    request: Request, slug: str, form: CsrfForm, db: DbDep, visitor: VisitorDep, now: NowDep
) -> Response:
    campaign, workspace_id = public_campaign(db, slug)
    try:
        check_consent_text(request, form)
        check_first(
            db,
            workspace_id=workspace_id,
            visitor=visitor,
            consented=form.get("consent") == "yes",
            required={},  # a blank nickname is the nickname check's first fault
            checks=[lambda: service.check_nickname(str(form.get("nickname", "")))],
        )
        _as_participant(
            db,
            OnCampaign(campaign, workspace_id, visitor, now),
            form,
            write=lambda session, participant_id: service.do_set_nickname(
                session, participant_id=participant_id, nickname=str(form.get("nickname", ""))
            ),
        )
    except IM2Error as exc:
        return _page(
            request,
            db=db,
            slug=slug,
            device_id=visitor.device_id,
            errors=field_errors(exc, default="nickname"),
            values={"nickname": str(form.get("nickname", ""))},
            failed="nickname",
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/c/{slug}/me?done=nickname", status_code=303)


@router.post("/c/{slug}/me/code")
def request_code(
    request: Request,
    slug: str,
    form: CsrfForm,
    db: DbDep,
    visitor: VisitorDep,
    limiter: LimiterDep,
    now: NowDep,
) -> Response:
    here = on_campaign(db, slug, visitor, now)
    try:
        limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
        # By SMS: queued with the code, sent by the messaging job (retried). Otherwise
        # sent only once the code is stored: a failed write never mails a dead code.
        channel = send_code(request, db, here, form)
    except IM2Error as exc:
        return _page(
            request,
            db=db,
            slug=slug,
            device_id=visitor.device_id,
            errors=field_errors(exc, default="destination"),
            values=code_values(form),
            failed="code",
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/c/{slug}/me?sent={channel}", status_code=303)


@router.post("/c/{slug}/me/verify")
def verify(
    request: Request,
    slug: str,
    form: CsrfForm,
    db: DbDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    campaign, workspace_id = public_campaign(db, slug)
    channel = str(form.get("channel", ""))
    with db.transaction() as session:
        participant = service.get_participant(
            session, workspace_id=workspace_id, device_id=visitor.device_id
        )
        if participant is None:
            raise NotFound(_("Request a code first."))
        result = service.do_confirm_code(
            session,
            participant_id=participant.id,
            workspace_id=workspace_id,
            campaign_id=campaign.id,
            channel=channel,
            code=str(form.get("code", "")),
            secret=settings.secret_key.get_secret_value(),
            now=now,
        )
    if not result.ok:
        return _page(
            request,
            db=db,
            slug=slug,
            device_id=visitor.device_id,
            errors={"code": result.error or ""},
            sent=channel,
            status_code=422,
        )
    return RedirectResponse(f"/c/{slug}/me?done=verified", status_code=303)


def _as_participant(
    db: DbDep, here: OnCampaign, form: CsrfForm, *, write: Callable[[Session, int], T]
) -> T:
    """`write(session, participant_id)` in one transaction with joining first (the form's
    consent box) when this device has not joined the workspace yet."""
    with db.transaction() as session:
        participant = service.do_join(
            session,
            workspace_id=here.workspace_id,
            campaign_id=here.campaign.id,
            visitor=here.visitor,
            consented=form.get("consent") == "yes",
            now=here.now,
        )
        return write(session, participant.id)


def _refused(request: Request, exc: IM2Error) -> Response:
    """A refused comment or like: the participant's error page, with a way back."""
    return render(
        request,
        "error.html",
        {"status": exc.status_code, "message": exc.message},
        status_code=exc.status_code,
    )


def _target(here: OnCampaign, form: CsrfForm, participant_id: int) -> dict[str, Any]:
    """Who comments on or likes what (the form's target), as the comments service takes it."""
    return {
        "workspace_id": here.workspace_id,
        "campaign_id": here.campaign.id,
        "target_type": str(form.get("target_type", "")),
        "target_id": _int(form.get("target_id")),
        "participant_id": participant_id,
    }


def _back(slug: str, value: object) -> str:
    """Only back to a page of this campaign: the form cannot be used as an open redirect."""
    back = str(value or "")
    return back if back.startswith(f"/c/{slug}") and "//" not in back else f"/c/{slug}"


@router.post("/c/{slug}/comments")
def post_comment(
    request: Request,
    slug: str,
    form: CsrfForm,
    db: DbDep,
    visitor: VisitorDep,
    limiter: LimiterDep,
    now: NowDep,
) -> Response:
    here = on_campaign(db, slug, visitor, now)
    back = _back(slug, form.get("back"))
    text = str(form.get("text", ""))
    try:
        limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
        if here.campaign.status != "live":
            raise IM2Error(_("Comments are open while the campaign is live."))
        check_consent_text(request, form)
        posted = _as_participant(
            db,
            here,
            form,
            write=lambda session, participant_id: comments.do_comment(
                session, **_target(here, form, participant_id), text=text, now=now
            ),
        )
    except IM2Error as exc:
        if isinstance(exc, InvalidInput) and exc.field in ("text", "consent"):
            return _comment_again(request, here, form, exc)
        return _refused(request, exc)
    note = "pending" if posted.status is comments.CommentStatus.PENDING else "posted"
    return RedirectResponse(f"{back}{'&' if '?' in back else '?'}comment={note}", status_code=303)


def _comment_again(
    request: Request, here: OnCampaign, form: CsrfForm, exc: InvalidInput
) -> Response:
    """The comment form again after a refused post: what was typed, the message by its field,
    and the consent box (with the brand's current text) while the device has not joined."""
    db = request.app.state.db
    with db.session() as session:
        joined = service.get_participant(
            session, workspace_id=here.workspace_id, device_id=here.visitor.device_id
        )
        box = consent_box_values(
            request, session, workspace_id=here.workspace_id, campaign=here.campaign
        )
    slug = here.campaign.slug
    return render(
        request,
        "participation/comment_again.html",
        {
            "slug": slug,
            "target_type": str(form.get("target_type", "")),
            "target_id": str(form.get("target_id", "")),
            "back": _back(slug, form.get("back")),
            "campaign_url": f"/c/{slug}",
            "needs_consent": joined is None,
            **box,
            "values": {"text": str(form.get("text", ""))},
            "errors": {exc.field or "text": exc.message},
        },
        status_code=exc.status_code,
    )


@router.post("/c/{slug}/likes")
def like(
    request: Request,
    slug: str,
    form: CsrfForm,
    db: DbDep,
    visitor: VisitorDep,
    limiter: LimiterDep,
    now: NowDep,
) -> Response:
    here = on_campaign(db, slug, visitor, now)
    back = _back(slug, form.get("back"))
    try:
        limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
        _as_participant(
            db,
            here,
            form,
            write=lambda session, participant_id: comments.do_like(
                session, **_target(here, form, participant_id), now=now
            ),
        )
    except IM2Error as exc:
        return _refused(request, exc)
    return RedirectResponse(back, status_code=303)


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput(_("The value is not valid."), field="target_id") from None
