"""The UGC contest format's declaration (`im2.activities.protocol`): the shared console makes its
create, edit and export routes from it; moderation, jury scores and winners are its own pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from im2.activities.formats.declare import json_api, texts
from im2.activities.formats.ugc import review
from im2.activities.formats.ugc.demo import load_demo
from im2.activities.formats.ugc.schemas import UgcCreate, UgcSettings, UgcUpdate
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import ENTRIES_HINT, ActivityKind
from im2.campaigns.schemas import CampaignRead
from im2.errors import InvalidInput
from im2.i18n import N_, _

# The jury's weight is a fraction in the model and a percentage in the forms (create, rules).
JURY_FIELD = {"jury_weight": "jury_percent"}
JURY_MESSAGE = {"jury_percent": N_("Enter a percentage from 0 to 100.")}


def keywords_of(raw: str) -> list[str]:
    return [k.strip() for k in re.split(r"[,，、\n]", raw) if k.strip()]


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    """The console's create form as `UgcCreate` input (the jury's weight entered in %)."""
    try:
        jury_weight = float(raw.get("jury_percent") or 60) / 100
    except ValueError:
        raise InvalidInput(_("Enter a percentage from 0 to 100."), field="jury_percent") from None
    return {
        **texts(raw),
        "hashtag": raw.get("hashtag", ""),
        "allow_images": raw.get("allow_images") == "on",
        "allow_videos": raw.get("allow_videos") == "on",
        "entries_per_participant": raw.get("entries_per_participant") or 3,
        "votes_per_day": raw.get("votes_per_day") or 3,
        "jury_weight": jury_weight,
        "keywords": keywords_of(raw.get("keywords", "")),
        "flag_negative": raw.get("flag_negative") == "on",
        "auto_approve": raw.get("auto_approve") == "on",
        "winners": raw.get("winners") or 3,
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.UGC,
    settings=UgcSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(
            table="ugc_entries",
            participant_columns=("participant_id",),
            personal_columns=("nickname", "caption", "image_name", "video_url"),
            media="ugc/{activity_id}/{image_name}",
        ),
        PeopleData(table="ugc_votes", participant_columns=("participant_id",)),
        # The jury's scores of the person's entries (the jurors are staff).
        PeopleData(table="ugc_scores", via="entry_id->ugc_entries.id"),
    ),
    actions=(
        PublicAction(path="submit", summary="Send an entry (a photo or a video link)"),
        PublicAction(path="entries/{entry_id}/vote", summary="Vote for an entry"),
    ),
    create=CreateForm(
        template="activities/ugc/ugc_form.html",
        model=UgcCreate,
        parse=parse_form,
        create=review.do_create_ugc,
        defaults={
            "allow_images": "on",
            "allow_videos": "on",
            "flag_negative": "on",
            "entries_per_participant": "3",
            "votes_per_day": "3",
            "jury_percent": "60",
            "winners": "3",
        },
        error_fields=JURY_FIELD,
        error_messages=JURY_MESSAGE,
    ),
    export=Export(
        columns=tuple(review.EXPORT_COLUMNS),
        rows=review.export_rows,
        filename="ugc-{id}-entries.csv",
    ),
    text_editor_hint=ENTRIES_HINT,
    api=json_api(
        "ugcs",
        (UgcCreate, review.do_create_ugc, "Add a UGC contest / hashtag challenge to a campaign"),
        (UgcUpdate, review.do_update_ugc, "Edit a UGC contest"),
        tag="ugc",
    ),
    demo=load_demo,
)
