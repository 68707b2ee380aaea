"""Demo content for quizzes: a coffee quiz with a time bonus and 60 players in the live demo
campaign, and a prediction on the spring menu waiting for its outcome."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from im2.activities.formats.quiz import outcomes, reports, service
from im2.activities.formats.quiz.schemas import QuizCreate, QuizMode, QuizQuestionIn
from im2.campaigns import service as campaigns
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

CHANNELS = ("wechat", "wechat", "wechat", "xiaohongshu", "weibo")
NICKNAMES = (
    "小林",
    "阿豆",
    "拿铁控",
    "早八人",
    "冷萃星人",
    "Mia",
    "咖啡猫",
    "周周",
    "一杯美式",
    "豆子",
)
COFFEE = [
    ("咖啡豆其实是咖啡树的什么？", ["果实里的种子", "豆科植物的豆子", "树根"], 0),
    ("一份意式浓缩大约有多少毫升？", ["约 30 毫升", "约 150 毫升", "约 300 毫升"], 0),
    ("拿铁（Latte）在意大利语里是什么意思？", ["咖啡", "牛奶", "泡沫"], 1),
    ("云南是中国最大的咖啡产区吗？", ["是", "不是"], 0),
    ("冷萃咖啡通常要萃取多久？", ["2 分钟", "30 分钟", "12 小时以上"], 2),
]
# How likely a player gets each question right, so the demo has a believable spread.
ODDS = (0.85, 0.7, 0.55, 0.6, 0.45)


def _coffee_quiz(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    slug: str,
    start: datetime,
    rng: random.Random,
) -> None:
    """The coffee quiz with a time bonus, and its 60 players over four days."""
    quiz = service.do_create_quiz(
        session,
        actor=actor,
        campaign_id=campaign_id,
        data=QuizCreate(
            title="咖啡冷知识挑战",
            description="五道题，答得越快得分越高。排行榜前十名可获得樱花拿铁兑换券一张。",
            questions=[
                QuizQuestionIn(text=text, options=options, correct=correct)
                for text, options, correct in COFFEE
            ],
            time_bonus=True,
            bonus_seconds=20,
        ),
        now=start,
    )
    for i in range(60):
        device = f"quizdemo{i:024d}"
        visitor = Visitor(
            device_id=device,
            ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger",
            channel=rng.choice(CHANNELS),
        )
        moment = start + timedelta(minutes=rng.randint(10, 4 * 24 * 60 - 60))
        nickname = rng.choice(NICKNAMES) if rng.random() < 0.5 else None
        for position in range(len(COFFEE)):
            state = service.view_quiz(
                session, slug=slug, activity_id=quiz.id, device_id=device, now=moment
            ).state
            question = next(q for q in state.questions if q.id == state.current_question_id)
            service.do_mark_shown(session, question_id=question.id, device_id=device, now=moment)
            right = COFFEE[position][2]
            pick = (
                right
                if rng.random() < ODDS[position]
                else rng.choice([n for n in range(len(question.options)) if n != right])
            )
            moment += timedelta(seconds=rng.uniform(3, 25))
            service.do_answer(
                session,
                slug=slug,
                activity_id=quiz.id,
                visitor=visitor,
                question_id=question.id,
                option_id=question.options[pick][0],
                consented=True,
                nickname=nickname,
                seconds_on_page=rng.uniform(3, 25),
                risk_threshold=0.8,
                identities_per_ip_hour=50,
                now=moment,
            )


def _prediction(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    slug: str,
    start: datetime,
    rng: random.Random,
) -> int:
    """The prediction on the spring menu and its 40 guesses; returns its activity id."""
    prediction = service.do_create_quiz(
        session,
        actor=actor,
        campaign_id=campaign_id,
        data=QuizCreate(
            title="春季新品销量竞猜",
            description="猜猜首发周哪款卖得最好？结果公布后，猜中的朋友每题得 10 分。",
            mode=QuizMode.PREDICTION,
            questions=[
                QuizQuestionIn(
                    text="首发周销量冠军是哪一款？",
                    options=["樱花拿铁", "抹茶冷萃", "桂花乌龙拿铁"],
                ),
                QuizQuestionIn(text="樱花拿铁首发周能卖出一万杯吗？", options=["能", "不能"]),
            ],
        ),
        now=start,
    )
    for i in range(40):
        device = f"predictdemo{i:021d}"
        visitor = Visitor(
            device_id=device,
            ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            user_agent="Mozilla/5.0 (Linux; Android 15) MicroMessenger",
            channel=rng.choice(CHANNELS),
        )
        moment = start + timedelta(minutes=rng.randint(10, 3 * 24 * 60))
        state = service.view_quiz(
            session, slug=slug, activity_id=prediction.id, device_id=device, now=moment
        ).state
        for question, weights in zip(state.questions, ([5, 3, 2], [6, 4]), strict=True):
            option_id = rng.choices([o[0] for o in question.options], weights=weights)[0]
            moment += timedelta(seconds=rng.uniform(4, 30))
            service.do_answer(
                session,
                slug=slug,
                activity_id=prediction.id,
                visitor=visitor,
                question_id=question.id,
                option_id=option_id,
                consented=True,
                nickname=None,
                seconds_on_page=rng.uniform(4, 30),
                risk_threshold=0.8,
                identities_per_ip_hour=50,
                now=moment,
            )
    return prediction.id


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    slug = campaigns.get_campaign(session, actor=actor, campaign_id=live_id).slug
    start = now - timedelta(days=4)
    rng = random.Random(20260302)  # the same demo every time
    _coffee_quiz(session, actor=actor, campaign_id=live_id, slug=slug, start=start, rng=rng)
    prediction_id = _prediction(
        session, actor=actor, campaign_id=live_id, slug=slug, start=start, rng=rng
    )
    # The first question's outcome is in; the second is still open.
    first = reports.quiz_results(session, actor=actor, activity_id=prediction_id).questions[0]
    outcomes.do_settle(
        session,
        actor=actor,
        activity_id=prediction_id,
        question_id=first.id,
        option_id=first.options[0].id,
        now=now - timedelta(hours=6),
    )
