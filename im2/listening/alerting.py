"""Spike and crisis alerts: running the detector over stored mentions, building the alert
(top terms, sample posts, most-followed authors, the crisis plan) and delivering it.

Raising is transactional (the alert row and its event commit together); delivery (webhook,
e-mail) happens after the commit and records its outcome in a second transaction, so a slow
mail server never holds the database and a failed delivery never loses the alert.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Final

import httpx
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from im2 import outbound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.listening import outcomes, reach
from im2.listening.alerts import Bucket, DetectorSettings, Spike, detect
from im2.listening.models import Alert, Mention, Topic, TopicMatch
from im2.listening.schemas import AlertKind, AlertRead, ListeningSettingsRead, Sensitivity
from im2.listening.terms import top_terms
from im2.listening.workspace_settings import load_settings
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, require

log = logging.getLogger("im2.listening.alerts")

WINDOW_MINUTES: Final = 60
BASELINE_WINDOWS: Final = 12
TEXT_SAMPLE: Final = 1500
# The workspace-wide stream (all mentions, no topic) uses these.
ALL_MENTIONS = DetectorSettings(Sensitivity.MEDIUM, timedelta(hours=6))


@dataclass(frozen=True, slots=True)
class Scope:
    workspace_id: int
    topic_id: int | None
    settings: DetectorSettings


def _scopes(session: Session, workspace_id: int) -> list[Scope]:
    scopes = [Scope(workspace_id, None, ALL_MENTIONS)]
    for topic in session.scalars(
        select(Topic).where(Topic.workspace_id == workspace_id, Topic.alerts_enabled)
    ):
        scopes.append(
            Scope(
                workspace_id,
                topic.id,
                DetectorSettings(
                    Sensitivity(topic.sensitivity), timedelta(minutes=topic.cooldown_minutes)
                ),
            )
        )
    return scopes


def _buckets(session: Session, scope: Scope, now_minute: int) -> tuple[Bucket, list[Bucket]]:
    table: Any = TopicMatch if scope.topic_id is not None else Mention
    where = (
        TopicMatch.topic_id == scope.topic_id
        if scope.topic_id is not None
        else Mention.workspace_id == scope.workspace_id
    )
    k = ((now_minute - table.posted_minute) // WINDOW_MINUTES).label("k")
    negative = func.sum(case((table.sentiment == "negative", 1), else_=0))
    rows = session.execute(
        select(k, func.count(), negative)
        .where(
            where,
            table.posted_minute > now_minute - WINDOW_MINUTES * (BASELINE_WINDOWS + 1),
            table.posted_minute <= now_minute,
        )
        .group_by(k)
    ).all()
    counts = {int(i): Bucket(int(n), int(neg or 0)) for i, n, neg in rows}
    window = counts.get(0, Bucket(0, 0))
    baseline = [counts.get(i, Bucket(0, 0)) for i in range(BASELINE_WINDOWS, 0, -1)]
    return window, baseline


def _mentions_between(
    session: Session, scope: Scope, lo: int, hi: int, limit: int
) -> list[Mention]:
    query = select(Mention).where(
        Mention.workspace_id == scope.workspace_id,
        Mention.posted_minute > lo,
        Mention.posted_minute <= hi,
    )
    if scope.topic_id is not None:
        query = query.join(
            TopicMatch,
            and_(TopicMatch.mention_id == Mention.id, TopicMatch.topic_id == scope.topic_id),
        )
    return list(session.scalars(query.order_by(Mention.id.desc()).limit(limit)))


def _contents(session: Session, scope: Scope, spike: Spike, now_minute: int) -> dict[str, Any]:
    window = _mentions_between(session, scope, now_minute - WINDOW_MINUTES, now_minute, TEXT_SAMPLE)
    if spike.kind is AlertKind.NEGATIVE:
        focus = [m for m in window if m.sentiment == "negative"] or window
    else:
        focus = window
    baseline = _mentions_between(
        session,
        scope,
        now_minute - WINDOW_MINUTES * (BASELINE_WINDOWS + 1),
        now_minute - WINDOW_MINUTES,
        TEXT_SAMPLE,
    )
    samples = sorted(focus, key=lambda m: -(m.likes + m.reposts + m.comments))[:5]
    authors: dict[str, Mention] = {}
    for m in sorted(focus, key=lambda m: -m.author_followers):
        if m.author and m.author not in authors:
            authors[m.author] = m
    return {
        "top_terms": [
            [t, n] for t, n in top_terms([m.text for m in focus], [m.text for m in baseline])
        ],
        "samples": [
            {
                "mention_id": m.id,
                "platform": m.platform,
                "author": m.author,
                "text": m.text[:280],
                "url": m.url,
                "sentiment": m.sentiment,
                "engagement": m.likes + m.reposts + m.comments,
            }
            for m in samples
        ],
        "top_authors": [
            {"author": a, "followers": m.author_followers, "platform": m.platform}
            for a, m in list(authors.items())[:5]
        ],
    }


def _last_fired(session: Session, scope: Scope) -> dict[AlertKind, datetime]:
    topic_clause = (
        Alert.topic_id.is_(None) if scope.topic_id is None else Alert.topic_id == scope.topic_id
    )
    rows = session.execute(
        select(Alert.kind, func.max(Alert.raised_at))
        .where(Alert.workspace_id == scope.workspace_id, topic_clause)
        .group_by(Alert.kind)
    )
    return {AlertKind(kind): when for kind, when in rows if when is not None}


def _crisis_plan(settings: ListeningSettingsRead) -> dict[str, Any]:
    return {
        "contacts": [c.model_dump() for c in settings.crisis_contacts],
        "steps": list(settings.crisis_steps),
    }


def do_detect_spikes(session: Session, *, workspace_id: int, now: datetime) -> list[int]:
    """Run the detector for the workspace and each of its topics; returns new alert ids."""
    now_minute = int(now.timestamp() // 60)
    settings = load_settings(session, workspace_id=workspace_id)
    raised: list[int] = []
    for scope in _scopes(session, workspace_id):
        window, baseline = _buckets(session, scope, now_minute)
        if window.total == 0:
            continue
        spikes = detect(
            window,
            baseline,
            settings=scope.settings,
            now=now,
            last_fired=_last_fired(session, scope),
        )
        for spike in spikes:
            alert = Alert(
                workspace_id=workspace_id,
                topic_id=scope.topic_id,
                kind=spike.kind.value,
                window_start=now - timedelta(minutes=WINDOW_MINUTES),
                window_end=now,
                observed=spike.observed,
                baseline=spike.baseline,
                score=round(spike.score, 3),
                mentions=spike.mentions,
                negative_share=spike.negative_share,
                crisis_plan=_crisis_plan(settings),
                delivery={},
                raised_at=now,
                **_contents(session, scope, spike, now_minute),
            )
            session.add(alert)
            session.flush()
            record_event(
                session,
                kind=EventKind.ALERT_RAISED,
                occurred_at=now,
                workspace_id=workspace_id,
                actor_type=ActorType.SYSTEM,
                actor_id=None,
                properties={
                    "alert_id": alert.id,
                    "topic_id": scope.topic_id,
                    "kind": spike.kind.value,
                    "score": alert.score,
                    "mentions": spike.mentions,
                },
            )
            raised.append(alert.id)
    return raised


def workspaces_with_recent_mentions(session: Session, *, now: datetime) -> list[int]:
    lo = int(now.timestamp() // 60) - WINDOW_MINUTES
    return list(
        session.scalars(select(Mention.workspace_id).where(Mention.posted_minute > lo).distinct())
    )


# --- reading --------------------------------------------------------------------------------


def _read(alert: Alert, topic_name: str | None) -> AlertRead:
    read = AlertRead.model_validate(alert)
    read.topic_name = topic_name
    return read


def list_alerts(session: Session, *, actor: Actor, limit: int = 50) -> list[AlertRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.execute(
        select(Alert, Topic.name)
        .outerjoin(Topic, Topic.id == Alert.topic_id)
        .where(Alert.workspace_id == actor.workspace_id)
        .order_by(Alert.raised_at.desc(), Alert.id.desc())
        .limit(limit)
    ).all()
    return [_read(a, name) for a, name in rows]


def get_alert(session: Session, *, actor: Actor, alert_id: int) -> AlertRead:
    require(actor, Permission.READ_CAMPAIGNS)
    alert = owned_row(session, Alert, alert_id, actor=actor, missing=_("Alert not found."))
    name = session.scalar(select(Topic.name).where(Topic.id == alert.topic_id))
    return _read(alert, name)


def do_acknowledge_alert(
    session: Session, *, actor: Actor, alert_id: int, now: datetime
) -> AlertRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    alert = owned_row(session, Alert, alert_id, actor=actor, missing=_("Alert not found."))
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
    return get_alert(session, actor=actor, alert_id=alert_id)


# --- delivery -------------------------------------------------------------------------------


def alert_payload(alert: AlertRead) -> dict[str, Any]:
    return {"event": "alert.raised", "alert": alert.model_dump(mode="json")}


def _subject(alert: AlertRead) -> str:
    what = _("Volume spike") if alert.kind is AlertKind.VOLUME else _("Negative sentiment surge")
    scope = alert.topic_name or _("all mentions")
    return f"[IM2] {what}: {scope} ({alert.mentions})"


def _email_body(alert: AlertRead) -> str:
    lines = [_subject(alert), ""]
    lines.append(_("Top terms") + ": " + ", ".join(str(t[0]) for t in alert.top_terms))
    lines.append("")
    for sample in alert.samples:
        lines.append(f"- @{sample['author']}: {sample['text']}")
    if alert.crisis_plan.get("steps"):
        lines += ["", _("Crisis plan") + ":"]
        lines += [f"{i}. {s}" for i, s in enumerate(alert.crisis_plan["steps"], 1)]
    for contact in alert.crisis_plan.get("contacts", []):
        lines.append(
            f"  {contact['name']} {contact.get('role', '')} "
            f"{contact.get('phone', '')} {contact.get('email', '')}".rstrip()
        )
    return "\n".join(lines)


def deliver(
    alert: AlertRead, settings: ListeningSettingsRead, *, private_networks: bool | None = None
) -> dict[str, str]:
    """Send the alert to the workspace's webhook and e-mail recipients; never raises.

    Each channel's outcome is a code with details (`outcomes`), put into words by the console.
    Receivers that resolve to non-public addresses are refused unless `private_networks`
    (default: the settings' choice); redirects are not followed."""
    allow_private = reach.private_networks_allowed(private_networks)
    outcome: dict[str, str] = {"console": outcomes.SHOWN}
    if settings.webhook_url:
        outcome["webhook"] = _post_webhook(alert, settings.webhook_url, allow_private)
    if settings.alert_emails and settings.smtp_host:
        outcome["email"] = _send_email(alert, settings, allow_private)
    return outcome


def _post_webhook(alert: AlertRead, url: str, allow_private: bool) -> str:
    try:
        target = outbound.parse_url(url)
    except outbound.UnusableUrl as exc:
        return f"{outcomes.FAILED}: {exc.problem}"
    address = None if allow_private else reach.refused(target.host, target.port)
    if address:
        return outcomes.refused(address)
    try:
        response = httpx.post(
            target.url,
            content=json.dumps(alert_payload(alert), ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "X-IM2-Event": "alert.raised"},
            timeout=10,
        )
    except (httpx.HTTPError, ValueError) as exc:
        return f"{outcomes.FAILED}: {exc.__class__.__name__}"
    if response.is_success:
        return outcomes.SENT
    return f"{outcomes.FAILED}: HTTP {response.status_code}"


def _send_email(alert: AlertRead, settings: ListeningSettingsRead, allow_private: bool) -> str:
    try:
        host, _address = outbound.parse_host(settings.smtp_host or "")
    except outbound.UnusableUrl as exc:
        return f"{outcomes.FAILED}: {exc.problem}"
    address = None if allow_private else reach.refused(host, settings.smtp_port)
    if address:
        return outcomes.refused(address)
    message = EmailMessage()
    message["Subject"] = _subject(alert)
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(settings.alert_emails)
    message.set_content(_email_body(alert))
    try:
        with smtplib.SMTP(host, settings.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        return f"{outcomes.FAILED}: {exc.__class__.__name__}"
    return outcomes.SENT


def do_record_delivery(session: Session, *, alert_id: int, outcome: dict[str, str]) -> None:
    alert = session.get(Alert, alert_id)
    if alert is not None:
        alert.delivery = outcome


def alert_for_delivery(
    session: Session, *, alert_id: int
) -> tuple[AlertRead, ListeningSettingsRead] | None:
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    name = session.scalar(select(Topic.name).where(Topic.id == alert.topic_id))
    return _read(alert, name), load_settings(session, workspace_id=alert.workspace_id)
