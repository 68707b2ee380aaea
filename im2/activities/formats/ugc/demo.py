"""Demo content for UGC contests: a spring photo challenge in the launch campaign with a dozen
entries (pictures drawn here with Pillow, nothing downloaded), public votes, jury scores, and
two entries still waiting in the moderation queue, one of them flagged."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from im2 import fonts
from im2.activities.formats.demos import demo_rules
from im2.activities.formats.ugc import review, service
from im2.activities.formats.ugc.media import ImageStore, clean_image
from im2.activities.formats.ugc.schemas import UgcCreate
from im2.campaigns import service as campaigns
from im2.config import get_settings
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

ENTRIES: tuple[tuple[str, str, tuple[int, int, int]], ...] = (
    ("窗边的第一杯樱花拿铁，阳光刚好", "阿May", (249, 168, 212)),
    ("和闺蜜的春日野餐，必须有山野", "小鹿", (134, 239, 172)),
    ("加班夜的续命神器，粉粉的很治愈", "打工人小王", (196, 181, 253)),
    ("樱花树下拍的，杯子和花一个颜色", "摄影爱好者", (253, 186, 116)),
    ("带爸妈去公园，他们也爱上了", "周末喝咖啡", (147, 197, 253)),
    ("拉花师傅画了一朵樱花，舍不得喝", "拉花控", (252, 211, 77)),
    ("雨天的门店也很好看", "杭州滨江", (165, 243, 252)),
    ("骑车路过买一杯，春天的味道", "骑行日记", (190, 242, 100)),
    ("第一次喝就爱上了，已经第五杯", "老会员", (244, 114, 182)),
    ("办公室下午茶，同事人手一杯", "行政小姐姐", (253, 164, 175)),
)
WAITING: tuple[tuple[str, str], ...] = (
    ("低价代购山野券，加微信私聊", "优惠多多"),
    ("今天排队好久，不过值得", "晚上也想喝"),
)


def _font(size: int) -> ImageFont.FreeTypeFont:
    # The bundled Noto Sans SC, never the machine's fonts: a server without CJK fonts drew the
    # caption band as "#□□□□#".
    return ImageFont.truetype(str(fonts.BOLD), size)


def draw_picture(rng: random.Random, colour: tuple[int, int, int], label: str) -> bytes:
    """A square, colourful picture: sky, a few blossoms, a cup, and a caption band."""
    size = 720
    image = Image.new("RGB", (size, size), colour)
    pen = ImageDraw.Draw(image)
    for y in range(size // 2, size):  # a soft ground gradient
        shade = tuple(max(0, c - (y - size // 2) // 6) for c in colour)
        pen.line([(0, y), (size, y)], fill=shade)
    for _ in range(14):
        x, y, r = rng.randint(0, size), rng.randint(0, size // 2), rng.randint(14, 46)
        pen.ellipse([x - r, y - r, x + r, y + r], fill=(255, rng.randint(200, 240), 235))
    cup = (size // 2 - 110, size // 2 - 20, size // 2 + 110, size // 2 + 230)
    pen.rounded_rectangle(cup, radius=28, fill=(255, 250, 245), outline=(90, 60, 50), width=6)
    pen.ellipse([cup[0] + 20, cup[1] + 10, cup[2] - 20, cup[1] + 60], fill=(236, 150, 170))
    pen.arc(
        [cup[2] - 40, cup[1] + 70, cup[2] + 60, cup[1] + 170], 270, 90, fill=(90, 60, 50), width=10
    )
    pen.rectangle([0, size - 90, size, size], fill=(30, 30, 40))
    pen.text((28, size - 72), label, font=_font(44), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _visitor(rng: random.Random, device_id: str) -> Visitor:
    return Visitor(
        device_id=device_id[:40],
        ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger",
        channel=rng.choice(("wechat", "xiaohongshu", "xiaohongshu", "weibo", "douyin")),
    )


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    contest = review.do_create_ugc(
        session,
        actor=actor,
        campaign_id=live_id,
        data=UgcCreate(
            title="#山野春日# 晒出你的樱花拿铁",
            description="拍下你和樱花拿铁的春日瞬间，上传照片或视频链接。评委和大家一起选出 3 位获奖者，"
            "每人送一个月的免费咖啡。",
            hashtag="山野春日",
            votes_per_day=3,
            jury_weight=0.6,
            keywords=["代购", "加微信", "广告"],
            winners=3,
        ),
        now=now - timedelta(days=5),
    )
    slug = campaigns.get_campaign(session, actor=actor, campaign_id=live_id).slug
    rng = random.Random(20260304)  # the same demo every time
    started = now - timedelta(days=4)
    ids: list[int] = []
    items = [(c, n, colour) for c, n, colour in ENTRIES] + [
        (c, n, (200, 200, 200)) for c, n in WAITING
    ]
    with ImageStore(get_settings().media_path, activity_id=contest.id) as store:
        for i, (caption, nickname, colour) in enumerate(items):
            picture = clean_image(draw_picture(rng, colour, f"#山野春日# {i + 1:02d}"))
            receipt = service.do_submit(
                session,
                slug=slug,
                activity_id=contest.id,
                visitor=_visitor(rng, f"ugc-author{i:022d}"),
                caption=caption,
                nickname=nickname,
                image=picture,
                video_url="",
                store=store.save,
                **demo_rules(rng.uniform(30, 200)),
                now=started + timedelta(hours=7 * i + rng.randint(0, 5)),
            )
            ids.append(receipt.entry.id)
    video = service.do_submit(
        session,
        slug=slug,
        activity_id=contest.id,
        visitor=_visitor(rng, "ugc-author-video0000000000000000"),
        caption="做了一条樱花拿铁开箱 vlog",
        nickname="B站UP主",
        image=None,
        video_url="https://www.bilibili.com/video/BV1GJ411x7h7",
        store=lambda _image: "",
        **demo_rules(90.0),
        now=started + timedelta(hours=40),
    )
    shown = [*ids[: len(ENTRIES)], video.entry.id]
    for entry_id in shown:
        review.do_moderate_entry(
            session, actor=actor, activity_id=contest.id, entry_id=entry_id, approve=True, now=now
        )
    weights = [rng.paretovariate(1.1) for _ in shown]
    for v in range(90):
        voter = _visitor(rng, f"ugc-voter{v:023d}")
        picks = set(rng.choices(range(len(shown)), weights=weights, k=rng.randint(1, 3)))
        for index in sorted(picks):
            service.do_vote(
                session,
                slug=slug,
                activity_id=contest.id,
                entry_id=shown[index],
                visitor=voter,
                **demo_rules(rng.uniform(5, 60)),
                now=now - timedelta(hours=rng.randint(1, 20)),
            )
    for entry_id in shown[:8]:  # the brand's own jury has scored most of the gallery so far
        review.do_score(
            session,
            actor=actor,
            activity_id=contest.id,
            entry_id=entry_id,
            score=rng.randint(5, 10),
            now=now - timedelta(hours=2),
        )
