"""The UGC contest format's declaration (`im2.activities.protocol`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.ugc.demo import load_demo
from im2.activities.protocol import ActivityFormat, PeopleData
from im2.activities.schemas import ActivityKind


class UgcSettings(BaseModel):
    """`Activity.settings` of a UGC contest."""

    model_config = ConfigDict(extra="forbid")

    hashtag: str = ""
    allow_images: bool = True
    allow_videos: bool = True
    entries_per_participant: int = 3
    votes_per_day: int = 3
    jury_weight: float = 0.6
    keywords: list[str] = []
    flag_negative: bool = True
    auto_approve: bool = False
    winners: int = 3


FORMAT = ActivityFormat(
    kind=ActivityKind.UGC,
    settings=UgcSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(
            table="ugc_entries",
            person_columns=("participant_id",),
            personal_columns=("nickname", "caption", "image_name", "video_url"),
        ),
        PeopleData(table="ugc_votes", person_columns=("participant_id",)),
    ),
    demo=load_demo,
)
