"""Demo content for 集卡: five 福 cards (one of them rare) in the live campaign next to the
morning check-in, whose check-ins have drawn their cards."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from im2.activities.formats.cards import draws, service
from im2.activities.formats.cards.schemas import CardsCreate, CardSpec
from im2.workspaces.schemas import Actor

CARDS = (("爱国福", 30), ("富强福", 30), ("和谐福", 25), ("友善福", 14), ("敬业福", 1))


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    service.do_create_cards(
        session,
        actor=actor,
        campaign_id=campaign_ids["feedback_live"],
        data=CardsCreate(
            title="集五福：打卡、投票都能抽福卡",
            description="每次打卡、投票或邀请好友都能抽一张福卡，集齐五福得 200 积分；多余的卡可以送给好友。",
            cards=[
                CardSpec(key=f"c{i + 1}", name=name, weight=weight)
                for i, (name, weight) in enumerate(CARDS)
            ],
            set_points=200,
            gift_hours=72,
        ),
        now=now - timedelta(days=15),
    )
    # The campaign's earlier taking part draws its cards, as the job would have.
    while draws.process_events(session, now=now, settle=timedelta(0)) == draws.BATCH:
        pass
