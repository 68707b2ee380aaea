"""The referral format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from im2.activities.formats.referral.demo import load_demo
from im2.activities.formats.referral.schemas import ReferralSettings
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind

FORMAT = ActivityFormat(
    kind=ActivityKind.REFERRAL,
    settings=ReferralSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(
            table="referral_invites", person_columns=("inviter_id", "level2_id", "invitee_id")
        ),
        PeopleData(table="referral_milestones", person_columns=("inviter_id",)),
        PeopleData(
            table="referral_clicks", person_columns=("sharer_id",), device_columns=("device_id",)
        ),
    ),
    demo=load_demo,
)
