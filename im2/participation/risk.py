"""Risk signals of a participant's action: simple, explainable, each capped so that no single
one holds a reward or a ballot on its own."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.crypto import ip_hashes
from im2.participation.models import Participant
from im2.participation.schemas import ParticipantRead, Risk, Visitor

MIN_SECONDS_TO_ACT = 1.5


def assess_risk(
    session: Session,
    *,
    workspace_id: int,
    participant: ParticipantRead,
    visitor: Visitor,
    seconds_on_page: float | None,
    identities_per_ip_hour: int,
    now: datetime,
) -> Risk:
    """Simple, explainable signals: many new identities from one IP, faster-than-human form
    submission, a new device acting without having seen the page. Each adds to a score capped
    at 1; no single signal reaches the default hold threshold (0.8), because one IP is often a
    whole venue or a carrier's NAT, and a fast thumb is not a crime."""
    recent = None
    if visitor.ip:
        recent = identities_from_ips(
            session, workspace_id=workspace_id, ips=[visitor.ip], since=now - RISK_IP_WINDOW
        ).get(visitor.ip, 0)
    return score_risk(
        identities_from_ip=recent,
        is_new=participant.is_new,
        seconds_on_page=seconds_on_page,
        identities_per_ip_hour=identities_per_ip_hour,
    )


RISK_IP_WINDOW = timedelta(hours=1)


def identities_from_ips(
    session: Session, *, workspace_id: int, ips: list[str], since: datetime
) -> dict[str, int]:
    """How many participants first came from each of these IPs since `since` (one query, by
    the IPs' keyed hashes: the IPs themselves are encrypted)."""
    by_hash = {h: ip for ip in ips for h in ip_hashes(ip)}
    rows = session.execute(
        select(Participant.first_ip_hash, func.count())
        .where(
            Participant.workspace_id == workspace_id,
            Participant.first_ip_hash.in_(by_hash),
            Participant.created_at >= since,
        )
        .group_by(Participant.first_ip_hash)
    ).all()
    counts: dict[str, int] = {}
    for found, n in rows:
        ip = by_hash[str(found)]
        counts[ip] = counts.get(ip, 0) + int(n)
    return counts


def score_risk(
    *,
    identities_from_ip: int | None,
    is_new: bool,
    seconds_on_page: float | None,
    identities_per_ip_hour: int,
) -> Risk:
    """The score of `assess_risk` from its signals (`identities_from_ip`: new identities from
    the visitor's IP in the last hour, None without an IP), for callers that count in bulk."""
    score = 0.0
    reasons: list[str] = []
    if identities_from_ip is not None and identities_from_ip > identities_per_ip_hour:
        score += 0.4
        reasons.append(f"{identities_from_ip} new identities from this IP in the last hour")
    if seconds_on_page is not None and seconds_on_page < MIN_SECONDS_TO_ACT:
        score += 0.5
        reasons.append(f"form sent {seconds_on_page:.1f} s after the page was shown")
    if is_new and seconds_on_page is None:
        score += 0.2
        reasons.append("new device acting without having seen the page")
    return Risk(score=min(score, 1.0), reasons=tuple(reasons))
