"""Risk signals of a participant's action: simple, explainable, each capped so that no single
one holds a reward or a ballot on its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, func, select
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
            session,
            workspace_id=workspace_id,
            ips=[visitor.ip],
            since=now - RISK_IP_WINDOW,
            at_most=identities_per_ip_hour + 1,
        ).get(visitor.ip, 0)
    return score_risk(
        identities_from_ip=recent,
        is_new=participant.is_new,
        seconds_on_page=seconds_on_page,
        identities_per_ip_hour=identities_per_ip_hour,
    )


RISK_IP_WINDOW = timedelta(hours=1)


_PARTICIPANT = cast(Table, Participant.__table__)
# Built once: every vote batch runs it, and building it cost more than running it.
_CAPPED_COUNT = select(func.count()).select_from(
    select(_PARTICIPANT.c.id)
    .where(
        _PARTICIPANT.c.workspace_id == bindparam("workspace_id"),
        _PARTICIPANT.c.created_at >= bindparam("since"),
        _PARTICIPANT.c.first_ip_hash == bindparam("hash"),
    )
    .limit(bindparam("cap"))
    .subquery()
)


def identities_from_ips(
    session: Session,
    *,
    workspace_id: int,
    ips: list[str],
    since: datetime,
    at_most: int | None = None,
) -> dict[str, int]:
    """How many participants first came from each of these IPs since `since` (by the IPs'
    keyed hashes: the IPs themselves are encrypted).

    With `at_most`, each count stops there: the risk signal only asks whether an IP is over its
    limit, and counting every identity a busy IP (a venue, a carrier's NAT) brought in the last
    hour would read ever more index entries per action as the hour fills."""
    by_hash = {h: ip for ip in ips for h in ip_hashes(ip)}
    if not by_hash:
        return {}
    recent = (
        Participant.workspace_id == workspace_id,
        Participant.created_at >= since,
    )
    rows: Sequence[tuple[str | None, int | None]]
    if at_most is None:
        rows = [
            (found, n)
            for found, n in session.execute(
                select(Participant.first_ip_hash, func.count())
                .where(*recent, Participant.first_ip_hash.in_(by_hash))
                .group_by(Participant.first_ip_hash)
            )
        ]
    else:
        # One capped count per hash (a LIMIT inside the count), by a statement built once.
        rows = [
            (
                h,
                session.scalar(
                    _CAPPED_COUNT,
                    {"workspace_id": workspace_id, "since": since, "hash": h, "cap": at_most},
                ),
            )
            for h in by_hash
        ]
    counts: dict[str, int] = {}
    for found, n in rows:
        if n:
            ip = by_hash[str(found)]
            counts[ip] = counts.get(ip, 0) + int(n)
    if at_most is not None:
        counts = {ip: min(n, at_most) for ip, n in counts.items()}
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
        reasons.append(f"over {identities_per_ip_hour} new identities from this IP in an hour")
    if seconds_on_page is not None and seconds_on_page < MIN_SECONDS_TO_ACT:
        score += 0.5
        reasons.append(f"form sent {seconds_on_page:.1f} s after the page was shown")
    if is_new and seconds_on_page is None:
        score += 0.2
        reasons.append("new device acting without having seen the page")
    return Risk(score=min(score, 1.0), reasons=tuple(reasons))
