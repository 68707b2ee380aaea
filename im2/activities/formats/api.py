"""What the formats' JSON participant routes share: the rate limit, one transaction, and the
keywords every participant write of a format's service takes (as `ParticipantPost.rules` does
for the public pages' forms).

A route asks for `ParticipantApiDep` and writes
`act.write(lambda session: service.do_x(session, slug=slug, ..., **act.rules(body.consent)))`.
The dependency only gathers the request's visitor, database, limiter, settings and time, so the
OpenAPI document is what it was when every route named them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlalchemy.orm import Session

from im2.config import Settings
from im2.db import Database
from im2.participation.limits import ActionLimiter
from im2.participation.schemas import Visitor
from im2.web.deps import DbDep, LimiterDep, NowDep, SettingsDep, VisitorDep

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParticipantApi:
    visitor: Visitor
    db: Database
    limiter: ActionLimiter
    settings: Settings
    now: datetime

    def rules(self, consented: bool) -> dict[str, Any]:
        """The keywords every participant write takes (no page, so no time on it)."""
        return {
            "visitor": self.visitor,
            "consented": consented,
            "seconds_on_page": None,
            "risk_threshold": self.settings.risk_hold_threshold,
            "identities_per_ip_hour": self.settings.risk_identities_per_ip_hour,
            "now": self.now,
        }

    def write(self, write: Callable[[Session], T]) -> T:
        """The rate limit (429 before anything is read), then `write` in one transaction."""
        self.limiter.hit(device_id=self.visitor.device_id, ip=self.visitor.ip)
        with self.db.transaction() as session:
            return write(session)


def participant_api(
    visitor: VisitorDep, db: DbDep, limiter: LimiterDep, settings: SettingsDep, now: NowDep
) -> ParticipantApi:
    return ParticipantApi(visitor=visitor, db=db, limiter=limiter, settings=settings, now=now)


ParticipantApiDep = Annotated[ParticipantApi, Depends(participant_api)]
