"""What every participant's form POST shares, whatever the activity format.

A public action (vote, answer, check-in, entry, question, submission …) is a plain form POST that
works without JavaScript and is swapped in place by HTMX when it is there. Every one of them goes
through the same steps: the CSRF check (`CsrfForm`), the honeypot field only bots fill, the rate
limit per device and IP, then one transaction in which the format's service validates and writes,
given the same "rules" keywords (the visitor, the consent box, how long the page was shown, the
risk settings, the time). `ParticipantPostDep` gathers them so a route states only what differs.

A refused submit lists every field at fault at once, each next to its field (`Refusal`,
templates/participant_form.html): the one the service found, and the consent box's when it was
left unticked by a visitor who has not joined (a service stops at its first error).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from im2.activities.live import announce_on_commit
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.config import Settings
from im2.db import Database
from im2.errors import IM2Error, InvalidInput, NotFound
from im2.i18n import _
from im2.incentives import service as incentives
from im2.live.hub import Hub
from im2.participation import service as participation
from im2.participation.limits import ActionLimiter
from im2.participation.schemas import CONSENT_TEXT, Visitor
from im2.people.consent import service as consents
from im2.people.consent.schemas import ConsentTextRead
from im2.web.deps import (
    CsrfForm,
    DbDep,
    HubDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    VisitorDep,
    seconds_on_page,
    shown_token,
)
from im2.web.params import Id

HONEYPOT = "website"
# The query flag of the page after an action: the points it earned (im2.web.points_flash).
POINTS_FLAG = "points"
T = TypeVar("T")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def as_int(value: object) -> int:
    """A posted or queried whole number, -1 when it is not one (the service then refuses it)."""
    try:
        return int(str(value))
    except ValueError:
        return -1


@dataclass(frozen=True, slots=True)
class PageAt:
    """One visitor on one activity's public page, for a format whose routes render their own
    page (not the shared frame): the request, the database, the activity, the device, the
    time."""

    request: Request
    db: Database
    slug: str
    activity_id: int
    device_id: str
    now: datetime

    @property
    def htmx(self) -> bool:
        return is_htmx(self.request)

    def keywords(self) -> dict[str, Any]:
        """The activity and device, as a format's read takes them."""
        return {"slug": self.slug, "activity_id": self.activity_id, "device_id": self.device_id}


def page_at(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep, now: NowDep
) -> PageAt:
    return PageAt(request, db, slug, activity_id, visitor.device_id, now)


PageAtDep = Annotated[PageAt, Depends(page_at)]


# The hidden field of the consent box: the hash of the text it showed (`ParticipantPost.guard`).
CONSENT_SHA_FIELD = "consent_sha256"


def _box(
    request: Request, session: Session, *, workspace_id: int, campaign: CampaignRead
) -> ConsentTextRead:
    shown: ConsentTextRead | None = getattr(request.state, "consent_box", None)
    if shown is None:
        shown = consents.taking_part_text(
            session, workspace_id=workspace_id, default_language=campaign.default_language.value
        )
        request.state.consent_box = shown
    return shown


def consent_box_values(
    request: Request, session: Session, *, workspace_id: int, campaign: CampaignRead
) -> dict[str, str]:
    """The template values of a first action's consent box on a page that reads the campaign
    itself: what the box says (the brand's current "taking part" text in the page's language,
    falling back as `consents.current_text` does: the campaign's default language, then IM2's
    shipped text; the text the first action then records, `participation.joining`) and the
    hash its form posts back (`check_consent_text`). Read once per request, however many
    forms the page has."""
    shown = _box(request, session, workspace_id=workspace_id, campaign=campaign)
    return {"consent_text": shown.text, CONSENT_SHA_FIELD: shown.sha256}


def _page_box(request: Request) -> ConsentTextRead | None:
    """The box's text for a page under /c/<slug>/… with no session open; None where there is
    no public campaign."""
    shown: ConsentTextRead | None = getattr(request.state, "consent_box", None)
    slug = request.path_params.get("slug")
    if shown is not None or not slug:
        return shown
    db: Database = request.app.state.db
    with db.session() as session:
        found = campaigns.get_public_campaign(session, slug=str(slug))
        if found is None:
            return None
        return _box(request, session, workspace_id=found.workspace_id, campaign=found.campaign)


def form_context(request: Request, *, needs_consent: bool) -> dict[str, Any]:
    """The template values every participant form needs (consent box, honeypot, shown stamp,
    and no errors until a submit is refused). The consent box's text is read only for a
    visitor who has not joined (the only one shown the box)."""
    shown = _page_box(request) if needs_consent else None
    return {
        "consent_text": CONSENT_TEXT if shown is None else shown.text,
        "consent_sha256": None if shown is None else shown.sha256,
        "needs_consent": needs_consent,
        "shown": shown_token(request),
        "honeypot": HONEYPOT,
        "error": None,
        "errors": {},
    }


class FieldErrors(InvalidInput):
    """Several fields at fault in one submit (field -> message, in the form's order)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()), field=next(iter(self.errors), None))


def field_errors(exc: IM2Error, *, default: str) -> dict[str, str]:
    """Every message of a refused form by field (`default` for one about the whole form)."""
    return dict(getattr(exc, "errors", None) or {exc.field or default: exc.message})


def consent_error() -> str:
    return _("Please agree to how your data is used before taking part.")


def consent_text_changed() -> str:
    return _("The text you agreed to has changed; please read it again.")


def check_consent_text(
    request: Request, form: Mapping[str, Any], *, field: str = "consent"
) -> None:
    """A consent box ticked under a text the brand has replaced since the page was shown is
    refused (the page then shows the new one): the first action records the current text, so
    it must be the one the person read. Every consent box posts the hash of the text it showed
    (`CONSENT_SHA_FIELD`); the current text is read only for a ticked box that says what it
    showed. Raises `InvalidInput` on `field`. A page under /c/<slug>/… or an API path with a
    `slug` (the widget's JSON vote, whose body is `form` there)."""
    posted = str(form.get(CONSENT_SHA_FIELD) or "")
    if not posted or form.get("consent") not in ("yes", True):
        return
    shown = _page_box(request)
    if shown is not None and shown.sha256 != posted:
        raise InvalidInput(consent_text_changed(), field=field)


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a refused submit shows: a message about the form as a whole (`error`), or one
    next to each field at fault (`errors`), with the status to answer."""

    status_code: int
    error: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, exc: IM2Error, *, consent: str | None = None) -> Refusal:
        """From the error raised; `consent` adds the consent box's message to a field error."""
        errors = dict(getattr(exc, "errors", None) or {})
        if not errors and exc.field:
            errors[exc.field] = exc.message
        if errors and consent and "consent" not in errors:
            errors["consent"] = consent
        return cls(exc.status_code, None if errors else exc.message, errors)

    def context(self) -> dict[str, Any]:
        return {"error": self.error, "errors": self.errors}


# What a page shows before any submit: nothing refused.
NOTHING_REFUSED = Refusal(200)


def needs_consent(db: Database, *, slug: str, device_id: str) -> bool:
    """Whether this device has not joined the workspace of campaign `slug` yet (its first
    action then needs the consent box ticked)."""
    with db.session() as session:
        found = campaigns.get_public_campaign(session, slug=slug)
        if found is None:
            return False
        joined = participation.get_participant(
            session, workspace_id=found.workspace_id, device_id=device_id
        )
    return joined is None


@dataclass(frozen=True, slots=True)
class ParticipantPost:
    request: Request
    form: FormData
    db: Database
    limiter: ActionLimiter
    visitor: Visitor
    settings: Settings
    hub: Hub
    now: datetime

    @property
    def htmx(self) -> bool:
        return is_htmx(self.request)

    def text(self, name: str, *, limit: int | None = None) -> str:
        """A stripped text field ('' when absent), cut to `limit` characters."""
        value = str(self.form.get(name) or "").strip()
        return value[:limit] if limit is not None else value

    def rules(self) -> dict[str, Any]:
        """The keywords every participant write of a format's service takes."""
        return {
            "visitor": self.visitor,
            "consented": self.form.get("consent") == "yes",
            "seconds_on_page": seconds_on_page(self.request, str(self.form.get("shown") or "")),
            "risk_threshold": self.settings.risk_hold_threshold,
            "identities_per_ip_hour": self.settings.risk_identities_per_ip_hour,
            "now": self.now,
        }

    def at(self, slug: str, activity_id: int) -> PageAt:
        """This visitor on the activity's page (to show it again, or the next step)."""
        return PageAt(self.request, self.db, slug, activity_id, self.visitor.device_id, self.now)

    def refusal(self, exc: IM2Error, *, slug: str) -> Refusal:
        """Every field error of a refused submit: the service's, and the consent box's when it
        was left unticked by a visitor who has not joined (the service stops at its first).
        A 404 stays a 404."""
        if isinstance(exc, NotFound):
            raise exc
        consent = None
        if (
            isinstance(exc, InvalidInput)
            and exc.field not in (None, "consent")
            and self.form.get("consent") != "yes"
            and needs_consent(self.db, slug=slug, device_id=self.visitor.device_id)
        ):
            consent = consent_error()
        return Refusal.of(exc, consent=consent)

    def again(
        self,
        exc: IM2Error,
        *,
        slug: str,
        values: Mapping[str, str] | None = None,
        consent_for: str | None = None,
    ) -> dict[str, Any]:
        """The keywords of a format's page shown again after a refused submit: what was typed,
        every error, and the action to ask consent for when consent is what was missing."""
        return {
            "values": dict(values or {}),
            "refusal": self.refusal(exc, slug=slug),
            "consent_for": consent_for if exc.field == "consent" else None,
        }

    def guard(self, *, refused: str) -> None:
        """The honeypot, then the rate limit; raises `IM2Error` with `refused` for a bot."""
        if self.form.get(HONEYPOT):
            # Only bots fill the hidden field; tell them nothing useful and write nothing.
            raise IM2Error(refused)
        self.limiter.hit(device_id=self.visitor.device_id, ip=self.visitor.ip)
        self._check_consent_text()

    def _check_consent_text(self) -> None:
        check_consent_text(self.request, self.form)

    def run(
        self, write: Callable[[Session], T], *, refused: str, activity_id: int | None = None
    ) -> T:
        """`guard`, then `write` in one transaction. An `IM2Error` (from here or from the
        service) propagates so that the route can show it on the page; nothing is written.
        With `activity_id`, the activity's live channel announces the change after the commit
        (console pages refresh on it)."""
        self.guard(refused=refused)
        return self.write(write, activity_id=activity_id)

    def write(self, write: Callable[[Session], T], *, activity_id: int | None = None) -> T:
        """`write` in one transaction, without `guard` (for a route that has guarded). The
        points the campaign's rules give for what it wrote are paid in the same transaction, so
        the participant's page shows them at once (`points_earned`)."""
        with self.db.transaction() as session:
            result = write(session)
            session.flush()
            earned = incentives.award_at_once(session, occurred_at=self.now)
            if activity_id is not None:
                announce_on_commit(session, hub=self.hub, activity_id=activity_id)
        self.request.state.points_earned = self._earned() + earned
        return result

    def _earned(self) -> int:
        return int(getattr(self.request.state, "points_earned", 0))

    def points_earned(self) -> int:
        """The points this request's actions earned. A write that did not go through `write`
        (the poll's group commit) is paid here, after its commit, in a transaction of its own
        taken only when a rule pays something."""
        if hasattr(self.request.state, "points_earned"):
            return self._earned()
        with self.db.session() as session:
            due = incentives.points_due_at(session, occurred_at=self.now)
        earned = 0
        if due:
            with self.db.transaction() as session:
                earned = incentives.award_at_once(session, occurred_at=self.now)
        self.request.state.points_earned = earned
        return earned


def participant_post(
    request: Request,
    form: CsrfForm,
    db: DbDep,
    limiter: LimiterDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    hub: HubDep,
    now: NowDep,
) -> ParticipantPost:
    return ParticipantPost(
        request=request,
        form=form,
        db=db,
        limiter=limiter,
        visitor=visitor,
        settings=settings,
        hub=hub,
        now=now,
    )


ParticipantPostDep = Annotated[ParticipantPost, Depends(participant_post)]
