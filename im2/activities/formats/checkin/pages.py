"""Console pages of daily check-ins that are their own: review held check-ins, edit the texts
and milestones (adding one, its page with today's numbers and the streak leaderboard, and the
export are the shared console routes, made from `format.FORMAT`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from im2.activities.editing import add_editor, texts_of
from im2.activities.formats.checkin import service
from im2.activities.formats.checkin.format import FORMAT, parse_milestones
from im2.activities.formats.checkin.schemas import CheckinUpdate
from im2.activities.formats.declare import texts
from im2.activities.formats.pages import add_review
from im2.activities.schemas import ActivityKind, ActivityRead

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


add_review(router, service.do_review_checkin)


def _values(activity: ActivityRead) -> dict[str, Any]:
    milestones = FORMAT.settings_of(activity.settings).milestones
    return {**texts_of(activity), "milestones": ", ".join(str(m) for m in milestones)}


def _parse(raw: Mapping[str, str]) -> dict[str, Any]:
    return {**texts(raw), "milestones": parse_milestones(raw.get("milestones", ""))}


add_editor(
    router,
    ActivityKind.CHECKIN,
    template="activities/checkin/edit_form.html",
    model=CheckinUpdate,
    values=_values,
    parse=_parse,
    update=service.do_update_checkin,
)
