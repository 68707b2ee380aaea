"""我的数据: the participant's own data page on a campaign (/c/<slug>/my-data).

The participant first proves control of a phone or e-mail with a one-time code (the
participation service's codes: sent after commit, five tries, ten minutes). Confirming the code
makes the number one of their person's identities, so the person it opens is the one who holds
that number (docs/people.md); a number nobody holds opens only what this device did. The answer
to "send me a code" is the same whether or not anyone holds the number, so the page never tells
whether a person exists. The proof is a signed cookie bound to this device and person, valid
for 30 minutes. Codes and requests are rate-limited per device and per network.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse
from starlette.responses import FileResponse, RedirectResponse, Response

from im2.errors import IM2Error, InvalidInput, NotFound, TooManyAttempts
from im2.i18n import _
from im2.participation import service as participation
from im2.participation.schemas import CONSENT_TEXT
from im2.people import service as people
from im2.people.consent.schemas import OPTIONAL, PURPOSE_NAMES, ConsentChannel
from im2.privacy import service
from im2.privacy.jobs import build_soon
from im2.privacy.schemas import KIND_LABELS, STATUS_LABELS, RequestKind
from im2.web.deps import CsrfForm, DbDep, NowDep, SettingsDep, VisitorDep
from im2.web.participant_forms import consent_box_values, field_errors
from im2.web.participant_pages import code_values, on_campaign, public_campaign, send_code
from im2.web.templating import render
from im2.workspaces.throttle import Counters

router = APIRouter(include_in_schema=False)
PROOF_COOKIE = "im2_my_data"
PROOF_LIFETIME = timedelta(minutes=30)
# Codes and data requests from one device and one network (the participation limits are for
# votes; asking for one's data is rare, and each code costs an SMS or e-mail).
PER_DEVICE = parse("10/hour")
PER_NETWORK = parse("60/hour")


def _limit(request: Request, visitor: Any) -> None:
    counters: Counters | None = getattr(request.app.state, "privacy_counters", None)
    if counters is None:
        counters = Counters(request.app.state.settings.redis_url)
        request.app.state.privacy_counters = counters
    if not counters.hit(PER_DEVICE, "my-data-device", visitor.device_id):
        raise TooManyAttempts(_("Too many requests; wait an hour and try again."))
    if visitor.ip and not counters.hit(PER_NETWORK, "my-data-ip", visitor.ip):
        raise TooManyAttempts(_("Too many requests from your network; wait an hour and try again."))


def _signer(request: Request) -> URLSafeSerializer:
    secret = request.app.state.settings.secret_key.get_secret_value()
    return URLSafeSerializer(secret, salt="im2-my-data")


def _proof(request: Request, *, workspace_id: int, device_id: str, now: datetime) -> int | None:
    """The person this device proved to be (by a code, in the last 30 minutes), else None."""
    token = request.cookies.get(PROOF_COOKIE)
    if not token:
        return None
    try:
        data = _signer(request).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("w") != workspace_id or data.get("d") != device_id:
        return None
    proved_at = datetime.fromisoformat(str(data.get("t")))
    if not (now - PROOF_LIFETIME <= proved_at <= now + timedelta(minutes=1)):
        return None
    person = data.get("p")
    return person if isinstance(person, int) else None


def _page(
    request: Request,
    *,
    db: DbDep,
    slug: str,
    device_id: str,
    now: datetime,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    campaign, workspace_id = public_campaign(db, slug)
    person_id = _proof(request, workspace_id=workspace_id, device_id=device_id, now=now)
    with db.session() as session:
        participant = participation.get_participant(
            session, workspace_id=workspace_id, device_id=device_id
        )
        # The code form's consent box: its text and the hash it posts back.
        box = (
            {"consent_text": CONSENT_TEXT}
            if participant is not None
            else consent_box_values(request, session, workspace_id=workspace_id, campaign=campaign)
        )
        requests = (
            service.list_person_requests(
                session, workspace_id=workspace_id, person_id=person_id, now=now
            )
            if person_id is not None
            else []
        )
    notices = {
        "verified": _("Verified. Here is what you can do with your data."),
        "export": _("We are preparing your file; reload this page in a minute."),
        "delete": _("Your request is recorded. The brand deletes your data by the date shown."),
        "withdraw": _("Your consent is withdrawn from now on."),
        "correct": _("Your request is recorded. The brand corrects it by the date shown."),
    }
    return render(
        request,
        "privacy/my_data.html",
        {
            "campaign": campaign,
            "proved": person_id is not None,
            "is_participant": participant is not None,
            "requests": requests,
            "kind_labels": KIND_LABELS,
            "status_labels": STATUS_LABELS,
            "purposes": [(p.value, _(PURPOSE_NAMES[p])) for p in OPTIONAL],
            **box,
            "errors": errors or {},
            "values": values or {},
            "sent": request.query_params.get("sent"),
            "notice": notices.get(request.query_params.get("done", "")),
        },
        status_code=status_code,
    )


def _again(
    request: Request,
    db: DbDep,
    slug: str,
    visitor: Any,
    now: datetime,
    exc: IM2Error,
    *,
    default: str,
    values: dict[str, str],
) -> Response:
    """The page again with every error of a refused form (`default` names the field of one
    about the whole form) and what was typed."""
    return _page(
        request,
        db=db,
        slug=slug,
        device_id=visitor.device_id,
        now=now,
        errors=field_errors(exc, default=default),
        values=values,
        status_code=exc.status_code,
    )


@router.get("/c/{slug}/my-data")
def my_data(request: Request, slug: str, db: DbDep, visitor: VisitorDep, now: NowDep) -> Response:
    return _page(request, db=db, slug=slug, device_id=visitor.device_id, now=now)


@router.post("/c/{slug}/my-data/code")
def request_code(
    request: Request,
    slug: str,
    form: CsrfForm,
    db: DbDep,
    visitor: VisitorDep,
    now: NowDep,
) -> Response:
    here = on_campaign(db, slug, visitor, now)
    try:
        _limit(request, visitor)
        channel = send_code(request, db, here, form)
    except IM2Error as exc:
        values = code_values(form)
        return _again(request, db, slug, visitor, now, exc, default="destination", values=values)
    return RedirectResponse(f"/c/{slug}/my-data?sent={channel}", status_code=303)


@router.post("/c/{slug}/my-data/verify")
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
    error: str | None = None
    person_id: int | None = None
    try:
        _limit(request, visitor)
        with db.transaction() as session:
            participant = participation.get_participant(
                session, workspace_id=workspace_id, device_id=visitor.device_id
            )
            if participant is None:
                raise InvalidInput(_("Request a code first."), field="code")
            result = participation.do_confirm_code(
                session,
                participant_id=participant.id,
                workspace_id=workspace_id,
                campaign_id=campaign.id,
                channel=channel,
                code=str(form.get("code", "")),
                secret=settings.secret_key.get_secret_value(),
                now=now,
            )
            if result.ok:
                person_id = people.person_of_participant(
                    session, workspace_id=workspace_id, participant_id=participant.id
                )
            else:
                error = result.error
    except IM2Error as exc:
        error = exc.message
    if person_id is None:
        return _page(
            request,
            db=db,
            slug=slug,
            device_id=visitor.device_id,
            now=now,
            errors={"code": error or _("Request a code first.")},
            status_code=429 if error and "wait" in error else 422,
        )
    response = RedirectResponse(f"/c/{slug}/my-data?done=verified", status_code=303)
    token = _signer(request).dumps(
        {"w": workspace_id, "d": visitor.device_id, "p": person_id, "t": now.isoformat()}
    )
    response.set_cookie(
        PROOF_COOKIE,
        token,
        max_age=int(PROOF_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=f"/c/{slug}/my-data",
    )
    return response


def _proved(request: Request, db: DbDep, slug: str, visitor: Any, now: datetime) -> tuple[int, int]:
    _campaign_row, workspace_id = public_campaign(db, slug)
    person_id = _proof(request, workspace_id=workspace_id, device_id=visitor.device_id, now=now)
    if person_id is None:
        # Without a fresh code nothing is shown or done, and nothing says whether anyone exists.
        raise NotFound(_("Confirm a code first; the page is open for 30 minutes after it."))
    return workspace_id, person_id


@router.post("/c/{slug}/my-data/{kind}")
def ask(
    request: Request,
    slug: str,
    kind: str,
    form: CsrfForm,
    db: DbDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
    tasks: BackgroundTasks,
) -> Response:
    """One request of the person: export, delete, withdraw, correct."""
    if kind not in ("export", "delete", "withdraw", "correct"):
        raise NotFound(_("Not found."))
    workspace_id, person_id = _proved(request, db, slug, visitor, now)
    try:
        _limit(request, visitor)
        person: dict[str, Any] = {"workspace_id": workspace_id, "person_id": person_id, "now": now}
        with db.transaction() as session:
            if kind == "export":
                row = service.do_self_service_request(session, **person, kind=RequestKind.ACCESS)
                service.start_export(session, row, doer=service.PERSON, now=now)
                request_id = row.id
            elif kind == "delete":
                if form.get("confirm") != "yes":
                    raise InvalidInput(_("Tick the box to confirm."), field="confirm")
                service.do_self_service_request(session, **person, kind=RequestKind.DELETION)
            elif kind == "withdraw":
                purposes = [str(p) for p in form.getlist("purposes")]
                row = service.do_self_service_request(
                    session, **person, kind=RequestKind.WITHDRAWAL, purposes=purposes
                )
                service.withdraw(
                    session, row, doer=service.PERSON, channel=ConsentChannel.MY_PAGE, now=now
                )
            else:
                fields = {"nickname": str(form.get("nickname", ""))}
                service.do_self_service_request(
                    session, **person, kind=RequestKind.CORRECTION, fields=fields
                )
    except IM2Error as exc:
        values = {"nickname": str(form.get("nickname", ""))}
        return _again(request, db, slug, visitor, now, exc, default=kind, values=values)
    if kind == "export":
        tasks.add_task(
            build_soon,
            db,
            request_id=request_id,
            now=now,
            lake_path=settings.lake_path,
            media_path=settings.media_path,
        )
    return RedirectResponse(f"/c/{slug}/my-data?done={kind}", status_code=303)


@router.get("/c/{slug}/my-data/download/{request_id}")
def download(
    request: Request,
    slug: str,
    request_id: int,
    db: DbDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    now: NowDep,
) -> FileResponse:
    workspace_id, person_id = _proved(request, db, slug, visitor, now)
    if not 1 <= request_id < 2**31:
        raise NotFound(_("Request not found."))
    with db.transaction() as session:
        path = service.export_file(
            session,
            workspace_id=workspace_id,
            request_id=request_id,
            doer=service.PERSON,
            now=now,
            media_path=settings.media_path,
            person_id=person_id,
        )
    return FileResponse(path, media_type="application/zip", filename="my-data.zip")
