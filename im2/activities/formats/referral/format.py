"""The referral format's declaration (`im2.activities.protocol`): its page is the shared public
frame and its export the shared console route; its create/edit form and detail are its own."""

from __future__ import annotations

from im2.activities.formats.declare import json_api
from im2.activities.formats.referral import (
    reads,
    service,
)
from im2.activities.formats.referral.demo import load_demo
from im2.activities.formats.referral.schemas import ReferralCreate, ReferralSettings, ReferralUpdate
from im2.activities.protocol import ActivityFormat, Export, PeopleData, PublicAction
from im2.activities.schemas import ActivityKind

FORMAT = ActivityFormat(
    kind=ActivityKind.REFERRAL,
    settings=ReferralSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(
            table="referral_invites",
            participant_columns=("inviter_id", "level2_id", "invitee_id"),
            code_columns=("share_code",),
            personal_columns=("evidence",),
        ),
        PeopleData(table="referral_milestones", participant_columns=("inviter_id",)),
        PeopleData(
            table="referral_clicks",
            participant_columns=("sharer_id",),
            device_columns=("device_id",),
        ),
    ),
    actions=(PublicAction(path="link", summary="Join and get one's own invite link"),),
    export=Export(
        columns=tuple(reads.EXPORT_COLUMNS),
        rows=reads.export_rows,
        filename="referral-{id}-invites.csv",
    ),
    api=json_api(
        "referrals",
        (
            ReferralCreate,
            service.do_create_referral,
            "Add a referral (invite-a-friend) activity; at most 2 reward levels",
        ),
        (
            ReferralUpdate,
            service.do_update_referral,
            "Change the texts or rules; new rules apply to invites qualifying from now on",
        ),
    ),
    demo=load_demo,
)
