"""Shapes of retention: the policy, its update, and the record of a run."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# The bounds of the policy's limits, in days (422 naming the field outside them).
INACTIVE_DAYS = (30, 3650)
IP_DAYS = (1, 365)
MEDIA_DAYS = (0, 3650)


class IpKeep(StrEnum):
    # After the risk window nothing of the IP is kept: its only use in IM2 is the anti-fraud
    # count of new participants per IP in the last hour, which a /24 kept for months would not
    # serve (PIPL Art. 6: the minimum necessary). "prefix" is not offered.
    NONE = "none"


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"  # stopped at the run's limit of people; the next tick goes on
    FAILED = "failed"


class RetentionPolicyRead(BaseModel):
    inactive_days: int | None
    ip_days: int | None
    ip_keep: IpKeep
    media_days: int | None
    updated_at: datetime | None
    updated_by: str | None


class RetentionPolicyUpdate(BaseModel):
    """Each limit in days; null turns it off."""

    model_config = ConfigDict(extra="forbid")

    inactive_days: int | None = Field(
        default=None, description="Anonymise people inactive for this many days (30-3650)."
    )
    ip_days: int | None = Field(
        default=None, description="Clear raw IPs this many days after they were seen (1-365)."
    )
    ip_keep: IpKeep = IpKeep.NONE
    media_days: int | None = Field(
        default=None, description="Delete UGC media this many days after the campaign ended."
    )


class RetentionRunRead(BaseModel):
    id: int
    started_at: datetime
    finished_at: datetime | None
    people_anonymised: int
    ips_truncated: int
    media_deleted: int
    failures: int
    errors: str
    status: RunStatus
