"""A live campaign in the `acme` workspace with participants, made through the services."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignCreate, CampaignStatus
from im2.clock import ManualClock
from im2.db import Database
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Actor
from tests.conftest import Brand, campaign_payload


@dataclass
class Setup:
    workspace_id: int
    campaign_id: int
    slug: str
    actor: Actor

    def join(self, db: Database, clock: ManualClock, device: str, email: str | None = None) -> int:
        with db.transaction() as session:
            p = participation.do_join(
                session,
                workspace_id=self.workspace_id,
                campaign_id=self.campaign_id,
                visitor=Visitor(device_id=device, ip="203.0.113.9", user_agent="test"),
                consented=True,
                now=clock.now(),
            )
            if email is not None:
                from sqlalchemy import update

                from im2.db import Base

                table = Base.metadata.tables["participants"]
                session.execute(
                    update(table).where(table.c.id == p.id).values(verified_email=email)
                )
            return p.id


def make_setup(db: Database, clock: ManualClock, brand: Brand, slug: str = "spring-vote") -> Setup:
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
        campaign = campaigns.do_create_campaign(
            session,
            actor=actor,
            data=CampaignCreate.model_validate(
                campaign_payload(slug=slug, starts_at="2026-03-01T10:00")
            ),
            now=clock.now(),
        )
        for status in (CampaignStatus.SCHEDULED, CampaignStatus.LIVE):
            campaigns.do_transition_campaign(
                session, actor=actor, campaign_id=campaign.id, to=status, now=clock.now()
            )
    return Setup(
        workspace_id=brand.workspace_id, campaign_id=campaign.id, slug=campaign.slug, actor=actor
    )


@pytest.fixture
def setup(db: Database, clock: ManualClock, brand: Brand) -> Setup:
    return make_setup(db, clock, brand)
