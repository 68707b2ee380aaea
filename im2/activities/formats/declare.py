"""Small helpers for the formats' declarations (`format.py`), so that one says only what is
its own: the fields of its create form beyond the title and description, and what its detail
page shows.

A detail page's context is read from a `Shown` (the session, the console user, the activity,
its campaign and the time): `detail_page(template, context)` makes the `DetailPage` the
shared console route calls, and `shown.read(fn)` calls one of the format's console reads
(`fn(session, actor=, activity_id=)`, which checks the user may read the activity)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from im2.activities.protocol import Api, CreateActivity, DetailPage, UpdateActivity
from im2.activities.schemas import ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.workspaces.schemas import Actor


def texts(raw: Mapping[str, str]) -> dict[str, Any]:
    """The title and description every create form posts, as the create model's input."""
    return {"title": raw.get("title", ""), "description": raw.get("description", "")}


@dataclass(frozen=True, slots=True)
class Shown:
    """What a detail page is shown for."""

    session: Session
    actor: Actor
    activity: ActivityRead
    campaign: CampaignRead
    now: datetime

    def read(self, fn: Callable[..., Any], **more: Any) -> Any:
        return fn(self.session, actor=self.actor, activity_id=self.activity.id, **more)


def detail_page(template: str, context: Callable[[Shown], dict[str, Any]]) -> DetailPage:
    def read(
        session: Session,
        *,
        actor: Actor,
        activity: ActivityRead,
        campaign: CampaignRead,
        now: datetime,
    ) -> dict[str, Any]:
        return context(Shown(session, actor, activity, campaign, now))

    return DetailPage(template=template, context=read)


def json_api(
    plural: str,
    create: tuple[type[BaseModel], CreateActivity, str],
    update: tuple[type[BaseModel], UpdateActivity, str],
    *,
    tag: str | None = None,
) -> Api:
    """The JSON create and edit routes (`im2.activities.api`), each given as (model, service
    call, summary), under /api/v1/…/`plural`, listed under `tag` (the plural unless given)."""
    create_model, create_call, create_summary = create
    update_model, update_call, update_summary = update
    return Api(
        plural=plural,
        tag=tag or plural,
        create_model=create_model,
        create=create_call,
        create_summary=create_summary,
        update_model=update_model,
        update=update_call,
        update_summary=update_summary,
    )
