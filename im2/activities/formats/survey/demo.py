"""Demo content for surveys: a short product survey on the spring menu in the live demo
campaign, with about a hundred realistic responses and a few people still half-way."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from im2.activities.formats.demos import demo_rules
from im2.activities.formats.survey import service
from im2.activities.formats.survey.schemas import (
    QuestionKind,
    SurveyCreate,
    SurveyOptionIn,
    SurveyQuestionIn,
)
from im2.campaigns import service as campaigns
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

CHANNELS = ("wechat", "wechat", "wechat", "xiaohongshu", "xiaohongshu", "email", "weibo")
COMMENTS = (
    "樱花拿铁颜值很高，但甜度可以再低一点。",
    "希望门店能多一些插座，方便办公。",
    "周末排队太久了，小程序点单可以再快一点。",
    "抹茶冷萃很惊艳，希望常驻菜单！",
    "杯子设计很好看，拍照很出片。",
    "价格稍微有点贵，会员日能多一些优惠就好了。",
    "店员很热情，每次都记得我的口味。",
    "燕麦奶选项很棒，希望也能换成椰奶。",
    "樱花味道偏淡，喝到后面几乎没有了。",
    "外卖包装很严实，送到还是热的。",
    "希望早上七点就开门。",
    "桂花乌龙拿铁比想象中好喝，推荐给了同事。",
    "可以出一款低因的春季限定吗？",
    "座位有点挤，希望新店空间大一些。",
    "会员积分规则有点复杂，看不太懂。",
    "第一次来就被推荐了樱花拿铁，很惊喜。",
    "希望小程序能显示排队人数。",
    "能不能出一个少糖版本？",
    "门口的樱花装饰很有氛围。",
    "冷萃的冰块化得太快了，后面有点淡。",
)
# People sign off differently; the same comment reads less like a template this way.
ENDINGS = ("", "", "", "加油！", "期待夏季新品。", "会继续支持的。", "谢谢！")


def _survey() -> SurveyCreate:
    def options(*labels: str) -> list[SurveyOptionIn]:
        return [SurveyOptionIn(label=label) for label in labels]

    return SurveyCreate(
        title="春季新品体验问卷",
        description="花两分钟聊聊你对春季新品的感受，我们会认真阅读每一条建议。",
        questions=[
            SurveyQuestionIn(
                kind=QuestionKind.SINGLE,
                text="你多久来一次山野咖啡？",
                required=True,
                options=options("几乎每天", "每周两三次", "每月几次", "第一次来"),
            ),
            SurveyQuestionIn(
                kind=QuestionKind.SINGLE,
                text="你喝过樱花拿铁吗？",
                required=True,
                options=[SurveyOptionIn(label="喝过"), SurveyOptionIn(label="还没有", skip_to=5)],
            ),
            SurveyQuestionIn(kind=QuestionKind.RATING, text="你给樱花拿铁打几分？", required=True),
            SurveyQuestionIn(
                kind=QuestionKind.MULTIPLE,
                text="你喜欢它的哪些地方？",
                options=options("樱花香气", "甜度刚好", "颜值高", "价格合适", "杯子好看"),
            ),
            SurveyQuestionIn(
                kind=QuestionKind.NPS, text="你有多大可能把山野咖啡推荐给朋友？", required=True
            ),
            SurveyQuestionIn(
                kind=QuestionKind.RANKING,
                text="选咖啡店时，这些因素对你有多重要？",
                options=options("口味", "价格", "环境", "离家近"),
            ),
            SurveyQuestionIn(kind=QuestionKind.TEXT, text="还有什么想对我们说的？"),
        ],
    )


def _answers(rng: random.Random, questions: list[Any]) -> dict[int, Any]:
    q = questions
    answers: dict[int, Any] = {
        q[0].id: rng.choices([o.id for o in q[0].options], weights=[2, 4, 3, 1])[0],
    }
    tried = rng.random() < 0.72
    answers[q[1].id] = q[1].options[0 if tried else 1].id
    if tried:
        answers[q[2].id] = rng.choices([1, 2, 3, 4, 5], weights=[2, 4, 12, 40, 42])[0]
        odds = (0.6, 0.35, 0.7, 0.2, 0.45)
        liked = [o.id for o, p in zip(q[3].options, odds, strict=True) if rng.random() < p]
        if liked:
            answers[q[3].id] = liked
    answers[q[4].id] = rng.choices(range(11), weights=[1, 1, 1, 2, 2, 4, 6, 10, 16, 24, 22])[0]
    if rng.random() < 0.8:
        factors = [o.id for o in q[5].options]
        weights = {factors[0]: 4.0, factors[1]: 2.5, factors[2]: 2.0, factors[3]: 1.5}
        ranked: list[int] = []
        pool = list(factors)
        while pool:
            pick = rng.choices(pool, weights=[weights[f] for f in pool])[0]
            ranked.append(pick)
            pool.remove(pick)
        answers[q[5].id] = ranked
    if rng.random() < 0.45:
        answers[q[6].id] = rng.choice(COMMENTS) + rng.choice(ENDINGS)
    return answers


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    slug = campaigns.get_campaign(session, actor=actor, campaign_id=live_id).slug
    start = now - timedelta(days=5)
    survey = service.do_create_survey(
        session, actor=actor, campaign_id=live_id, data=_survey(), now=start
    )
    questions = service.questions_of(session, activity_id=survey.id)
    rng = random.Random(20260303)  # the same demo every time
    for i in range(112):
        answers = _answers(rng, questions)
        finished = i < 104  # a few people stopped half-way: their drafts are kept
        if not finished:
            answers = dict(list(answers.items())[:2])
        service.do_save(
            session,
            slug=slug,
            activity_id=survey.id,
            visitor=Visitor(
                device_id=f"surveydemo{i:022d}",
                ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger",
                channel=rng.choice(CHANNELS),
            ),
            answers=answers,
            submit=finished,
            **demo_rules(rng.uniform(40, 240)),
            now=start + timedelta(minutes=rng.randint(30, 5 * 24 * 60 - 30)),
        )
