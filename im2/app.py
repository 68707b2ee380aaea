"""App assembly: the one place that names every router, in the order requests meet them.

`im2.web.app.build_app` makes the HTTP shell (settings, middleware, error pages, the health
check, the API docs); this module adds every domain's routes to it. Routes are matched in
order, and each route tried costs a request about 1.5 us (FastAPI walks the included routers
per request; benchmarks/README.md, "Participation"), so they come in order of traffic: the
participant's vote, the participant pages, the API, and the console last.

It is also where a higher layer hooks into a lower one (docs/architecture.md, "Layers"): the
experiments hook runs on the activity formats' participant pages, so that `activities`
never imports `experiments`; and the analytics figures that sharing's and conversions' pages
show are provided here (`app.state.figures`), so neither imports `analytics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from im2.activities import api as activities_api
from im2.activities import pages as activities_pages
from im2.activities import public as activities_public
from im2.activities.formats.poll.api import votes_router
from im2.activities.presenter import pages as presenter_pages
from im2.activities.routes import format_routers
from im2.activities.starters import make_preset_activity
from im2.analytics import api as analytics_api
from im2.analytics import pages as analytics_pages
from im2.analytics import service as analytics
from im2.campaigns import api as campaigns_api
from im2.campaigns import pages as campaigns_pages
from im2.campaigns import presets as campaign_presets
from im2.campaigns import service as campaigns_service
from im2.campaigns.figures import FiguresReader
from im2.clock import Clock
from im2.config import Settings
from im2.conversions import api as conversions_api
from im2.conversions import pages as conversions_pages
from im2.db import Database
from im2.embed import api as embed_api
from im2.embed import pages as embed_pages
from im2.embed import public as embed_public
from im2.experiments import api as experiments_api
from im2.experiments import pages as experiments_pages
from im2.experiments.hook import experiment_hook
from im2.incentives import api as incentives_api
from im2.incentives import pages as incentives_pages
from im2.incentives import public as incentives_public
from im2.incentives.models import PointEntry
from im2.influence import api as influence_api
from im2.influence import pages as influence_pages
from im2.listening import api as listening_api
from im2.listening import pages as listening_pages
from im2.messaging import pages as messaging_pages
from im2.messaging.caps import SmsCaps
from im2.participation import pages as participation_pages
from im2.participation import public as participation_public
from im2.participation.models import Participant
from im2.people import api as people_api
from im2.people import pages as people_pages
from im2.people.consent import api as consent_api
from im2.people.consent import pages as consent_pages
from im2.people.directory import PeopleSources
from im2.people.ladder import api as ladder_api
from im2.people.ladder import pages as ladder_pages
from im2.people.segments import api as segments_api
from im2.people.segments import pages as segments_pages
from im2.people.segments import service as segments_service
from im2.privacy import api as privacy_api
from im2.privacy import pages as privacy_pages
from im2.privacy import public as privacy_public
from im2.privacy.retention import api as retention_api
from im2.privacy.retention import pages as retention_pages
from im2.reports import api as reports_api
from im2.reports import pages as reports_pages
from im2.sharing import pages as sharing_pages
from im2.sharing import public as sharing_public
from im2.web.app import STATIC_DIR, build_app
from im2.webhooks import api as webhooks_api
from im2.webhooks import pages as webhooks_pages
from im2.wechat import pages as wechat_pages
from im2.wechat import public as wechat_public
from im2.workspaces import api as workspaces_api
from im2.workspaces import pages as workspaces_pages
from im2.workspaces.schemas import Actor

# Each group in order of traffic. The activity formats' API and console routers are included
# by the activities routers, from the format registry (`im2.activities.registry`); their
# participant pages are included here, after `activities_public`, with the page hooks.
VOTE: tuple[APIRouter, ...] = (votes_router,)  # a participant's vote: the hottest write
SHARE_LINKS: tuple[APIRouter, ...] = (sharing_public.router,)  # `/s/<code>`: every shared click
PARTICIPANT: tuple[APIRouter, ...] = (  # the other participant pages, `/c/<slug>/...`
    participation_public.router,
    incentives_public.router,
    privacy_public.router,
    presenter_pages.router,  # `/j/<code>` and the big screen
    embed_public.router,  # `/e/<slug>/<id>`: an activity framed on a brand's own site
    wechat_public.router,  # the share card inside WeChat, WeChat sign-in
)
API: tuple[APIRouter, ...] = (  # `/api/v1`
    activities_api.router,
    analytics_api.router,
    campaigns_api.router,
    conversions_api.router,
    embed_api.router,
    experiments_api.router,
    incentives_api.router,
    influence_api.router,
    listening_api.router,
    ladder_api.router,  # before people's: its `/{person_id}` would take "ladder"
    people_api.router,
    consent_api.router,
    segments_api.router,
    retention_api.router,  # before privacy's: its paths would take "retention"
    privacy_api.router,
    reports_api.router,
    webhooks_api.router,
    workspaces_api.router,
)
CONSOLE: tuple[APIRouter, ...] = (  # `/console`, last
    activities_pages.router,
    analytics_pages.router,
    campaigns_pages.router,
    conversions_pages.router,
    embed_pages.router,
    experiments_pages.router,
    incentives_pages.router,
    influence_pages.router,
    listening_pages.router,
    messaging_pages.router,
    participation_pages.router,
    segments_pages.router,  # before people's: its `/{person_id}` would take "segments"
    ladder_pages.router,  # before people's: its `/{person_id}` would take "ladder"
    people_pages.router,
    retention_pages.router,  # before privacy's: its `/{request_id}` would take "retention"
    consent_pages.router,  # before privacy's: its `/{request_id}` would take "consent-texts"
    privacy_pages.router,
    reports_pages.router,
    sharing_pages.router,
    webhooks_pages.router,
    wechat_pages.router,
    workspaces_pages.router,
)


def _read_figures(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    keys: list[str],
    lake_path: Path,
    now: datetime,
) -> Mapping[str, Any]:
    found = analytics.get_metrics(
        session, actor=actor, campaign_id=campaign_id, keys=keys, lake_path=lake_path, now=now
    )
    return found.metrics


def _describe_metric(key: str) -> str:
    return next(m.description for m in analytics.list_metrics() if m.key == key)


# The analytics registry's figures for the pages of domains below analytics (sharing,
# conversions), which may not import it: `im2.campaigns.figures.FiguresDep`.
FIGURES = FiguresReader(read=_read_figures, describe=_describe_metric)

# Campaign templates create their activities, which live a layer above campaigns.
campaign_presets.use_activity_maker(make_preset_activity)

# A campaign's eligibility names a segment, in people (a layer above campaigns): its check.
campaigns_service.use_segment_check(segments_service.check_segment_version)


def _points_by_participant(workspace_id: int) -> Select[int, int]:
    """(participant id, points held): the sum of their ledger entries (the expiry job writes
    expired credit as entries, so this is the balance as of its last run)."""
    return (
        select(PointEntry.participant_id, func.sum(PointEntry.delta))
        .where(PointEntry.workspace_id == workspace_id)
        .group_by(PointEntry.participant_id)
    )


def _nicknames(session: Session, participant_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(Participant.id, Participant.nickname).where(
            Participant.id.in_(list(participant_ids)), Participant.nickname.is_not(None)
        )
    )
    return {int(pid): str(name) for pid, name in rows}


def _named(session: Session, workspace_id: int, text: str) -> list[int]:
    """Participants whose nickname starts with `text` (exact case), read as a range of
    ix_participants_workspace_nickname: a LIKE on SQLite ignores ASCII case and so no index
    serves it (every participant read on each search: ≈ 0.3 s at 1 M people)."""
    nickname = Participant.nickname
    starts: ColumnElement[bool]
    if session.get_bind().dialect.name == "postgresql":
        pattern = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        starts = nickname.like(pattern, escape="\\")  # text_pattern_ops: an index range
    else:
        # Code point order is SQLite's (binary, UTF-8) order: the prefix's range ends where
        # its last character is one higher.
        starts = nickname >= text
        if text and ord(text[-1]) < 0x10FFFF:
            after = ord(text[-1]) + 1
            after = 0xE000 if 0xD800 <= after < 0xE000 else after  # no surrogates in UTF-8
            starts = and_(starts, nickname < text[:-1] + chr(after))
    return list(
        session.scalars(
            select(Participant.id)
            .where(Participant.workspace_id == workspace_id, starts)
            .limit(500)
        )
    )


# What the people console shows from domains above people (points, nicknames), which people
# may not import: `im2.people.directory.PeopleSources`, read by its routes from app.state.
PEOPLE_SOURCES = PeopleSources(points=_points_by_participant, nicknames=_nicknames, named=_named)


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The whole app: the HTTP shell from `im2.web.app` plus every router, in traffic order."""
    app = build_app(settings, db=db, clock=clock)
    app.state.figures = FIGURES
    app.state.people_sources = PEOPLE_SOURCES
    # Participants' texts: the caps per number and per network (`im2.messaging.caps`).
    app.state.sms_caps = SmsCaps(
        per_ip=app.state.settings.sms_per_ip, redis_url=app.state.settings.redis_url
    )
    for router in (*VOTE, *SHARE_LINKS):
        app.include_router(router)
    app.include_router(activities_public.router)
    # Hooks of higher layers into the formats' pages: a running experiment on the activity
    # shows the visitor their variant (`experiments.hook`), and every activity page records
    # its view (`activities.public.activity_view_hook`).
    page_hooks = [Depends(experiment_hook), Depends(activities_public.activity_view_hook)]
    for router in format_routers("public"):
        app.include_router(router, dependencies=page_hooks)
    for router in (*PARTICIPANT, *API, *CONSOLE):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
