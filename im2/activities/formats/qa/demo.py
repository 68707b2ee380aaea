"""Demo content for live Q&A: the product manager's live session in the launch campaign, with
twenty questions from customers, their upvotes, and a moderator's work (pinned, answered,
one hidden)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from im2.activities.formats.demos import demo_rules
from im2.activities.formats.qa import service
from im2.activities.formats.qa.schemas import Moderation, QaCreate
from im2.campaigns import service as campaigns
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("樱花拿铁里的樱花风味是天然的还是香精？", "小鹿"),
    ("可以做无糖或者少糖版本吗？控糖中但很想喝！", "阿May"),
    ("燕麦奶替换要加钱吗？", ""),
    ("春季限定会卖到什么时候？怕错过", "周末喝咖啡"),
    ("樱花拿铁的咖啡豆是哪个产区的？", "豆子控"),
    ("冰的和热的哪个更推荐？", ""),
    ("门店会不会出樱花主题的周边杯子？", "收集癖"),
    ("外卖送到的时候奶泡会不会塌？", "打工人"),
    ("会员积分可以兑换新品吗？", "老会员"),
    ("孕妇可以喝吗？咖啡因大概多少？", "准妈妈"),
    ("为什么我家附近的门店还没有上新？", "杭州滨江"),
    ("第二杯半价券可以和其他优惠叠加吗？", ""),
    ("樱花酱有没有单独售卖？想在家做", "在家做咖啡"),
    ("低因咖啡可以做樱花拿铁吗？", "晚上也想喝"),
    ("去年的桂花拿铁还会回归吗？", "桂花党"),
    ("杯套上的插画是哪位设计师画的？", "画画的"),
    ("能不能出大杯装？中杯不够喝", ""),
    ("问卷填完之后多久能收到券？", "等券中"),
    ("有没有适合小朋友的不含咖啡的樱花饮品？", "宝妈"),
    ("你们怎么看待瑞幸的同款？", "吃瓜群众"),
)


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    qa = service.do_create_qa(
        session,
        actor=actor,
        campaign_id=live_id,
        data=QaCreate(
            title="产品经理直播答疑：关于樱花拿铁，你想问什么？",
            description="今晚 20:00 产品经理林晓在直播间回答大家的问题。提前提问、为你关心的问题点赞，"
            "得票最高的问题优先回答。",
        ),
        now=now - timedelta(days=2),
    )
    slug = campaigns.get_campaign(session, actor=actor, campaign_id=live_id).slug
    rng = random.Random(20260303)  # the same demo every time
    started = now - timedelta(hours=26)
    ids: list[int] = []
    for i, (text, nickname) in enumerate(QUESTIONS):
        asked = started + timedelta(minutes=70 * i + rng.randint(0, 40))
        receipt = service.do_ask(
            session,
            slug=slug,
            activity_id=qa.id,
            visitor=_visitor(rng, f"qa-asker{i:024d}"),
            text=text,
            nickname=nickname,
            **demo_rules(rng.uniform(20, 120)),
            now=asked,
        )
        ids.append(receipt.question.id)
    # Upvotes skewed towards a few crowd favourites, as real audiences do.
    weights = [rng.paretovariate(1.2) for _ in ids]
    for v in range(140):
        voter = _visitor(rng, f"qa-voter{v:024d}")
        picks = set(rng.choices(range(len(ids)), weights=weights, k=rng.randint(1, 4)))
        for index in sorted(picks):
            service.do_upvote(
                session,
                slug=slug,
                activity_id=qa.id,
                question_id=ids[index],
                visitor=voter,
                **demo_rules(rng.uniform(5, 60)),
                now=started + timedelta(hours=25, minutes=rng.randint(0, 55)),
            )
    moderated = now - timedelta(minutes=20)
    for question_id, action in (
        (ids[1], Moderation.ANSWERED),
        (ids[0], Moderation.ANSWERED),
        (ids[3], Moderation.PIN),
        (ids[19], Moderation.HIDE),
    ):
        service.do_moderate(
            session,
            actor=actor,
            activity_id=qa.id,
            question_id=question_id,
            action=action,
            now=moderated,
        )


def _visitor(rng: random.Random, device_id: str) -> Visitor:
    return Visitor(
        device_id=device_id[:40],
        ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger",
        channel=rng.choice(("wechat", "wechat", "xiaohongshu", "weibo")),
    )
