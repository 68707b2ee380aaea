"""The group-buy format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from im2.activities.formats.groupbuy.demo import load_demo
from im2.activities.formats.groupbuy.schemas import Offer
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind

FORMAT = ActivityFormat(
    kind=ActivityKind.GROUPBUY,
    settings=Offer,
    package=__package__ or "",
    people_data=(
        PeopleData(table="groupbuy_teams", person_columns=("leader_id",)),
        PeopleData(table="groupbuy_members", person_columns=("participant_id",)),
    ),
    demo=load_demo,
)
