"""The brand's side of a UGC contest in the console (queue, jury, ranking, winners, export)
and the participant's plain-HTML form with a multipart upload."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from im2.activities.formats.ugc.schemas import RuleInput, apply_rule
from im2.config import Settings
from im2.workspaces.schemas import Role
from tests.activities.console_forms import field_error_text, post_form
from tests.activities.test_ugc import SLUG, approve, make_contest, photo, stored_files, submit
from tests.activities.test_ugc import settings as settings  # uploads in the test's folder
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_console import form_token

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_the_published_rule() -> None:
    items = [
        RuleInput(entry_id=1, votes=100, scores=(6, 8), created_at=T0),  # 0.6×0.7 + 0.4×1.0
        RuleInput(entry_id=2, votes=20, scores=(10, 10), created_at=T0),  # 0.6×1.0 + 0.4×0.2
        RuleInput(entry_id=3, votes=50, scores=(), created_at=T0),  # 0.6×0 + 0.4×0.5
        RuleInput(entry_id=4, votes=50, scores=(), created_at=T0 + timedelta(hours=1)),
    ]
    ranked = apply_rule(items, jury_weight=0.6)
    assert [r.entry_id for r in ranked] == [1, 2, 3, 4]  # a tie goes to the earlier entry
    assert [r.total for r in ranked] == [0.82, 0.68, 0.2, 0.2]
    assert ranked[0].jury_average == 7.0
    assert ranked[2].jury_average is None
    public_only = apply_rule(items, jury_weight=0.0)
    assert [r.entry_id for r in public_only][:2] == [1, 3]
    assert apply_rule([], jury_weight=0.5) == []


def _two_entries_with_votes(client: TestClient, brand: Brand) -> tuple[int, int, list[int]]:
    campaign_id, contest = make_contest(client, brand, votes_per_day=2, jury_weight=0.6)
    ids = []
    for caption in ("窗边的樱花拿铁", "和朋友的春日野餐"):
        entry = submit(TestClient(client.app), contest, image=photo(), caption=caption).json()
        approve(client, brand, contest, entry["entry"]["id"])
        ids.append(entry["entry"]["id"])
    for _ in range(3):  # three voters for the picnic, one of them for the latte too
        TestClient(client.app).post(
            f"/api/v1/public/campaigns/{SLUG}/ugcs/{contest}/entries/{ids[1]}/votes",
            json={"consent": True},
        )
    return campaign_id, contest, ids


def test_jury_scores_ranking_and_winners(client: TestClient, brand: Brand) -> None:
    campaign_id, contest, ids = _two_entries_with_votes(client, brand)
    base = f"/console/w/acme/ugc/{contest}"
    for role, scores in ((Role.OWNER, (10, 4)), (Role.EDITOR, (8, 6))):
        juror = TestClient(client.app)
        login(juror, brand.emails[role])
        for entry_id, score in zip(ids, scores, strict=True):
            url = f"{base}/entries/{entry_id}/score"
            token = form_token(juror, base, url)
            response = juror.post(
                url, data={"csrf_token": token, "score": str(score)}, follow_redirects=False
            )
            assert response.status_code == 303, response.text
    # A juror may change their mind: the score is replaced, not added.
    editor = TestClient(client.app)
    login(editor, brand.emails[Role.EDITOR])
    url = f"{base}/entries/{ids[0]}/score"
    editor.post(url, data={"csrf_token": form_token(editor, base, url), "score": "8"})
    bad = editor.post(url, data={"csrf_token": form_token(editor, base, url), "score": "11"})
    assert bad.status_code == 422

    ranking = client.get(f"/api/v1/ugcs/{contest}/ranking", headers=brand.auth(Role.ANALYST)).json()
    # latte: jury 9.0 → 0.54, votes 0 → 0; picnic: jury 5.0 → 0.30, votes 3/3 → 0.40
    assert [(r["entry"]["id"], r["total"]) for r in ranking["entries"]] == [
        (ids[1], 0.7),
        (ids[0], 0.54),
    ]
    assert ranking["entries"][1]["jurors"] == 2

    early = client.post(
        f"/api/v1/ugcs/{contest}/winners", json={"count": 1}, headers=brand.auth(Role.OWNER)
    )
    assert early.status_code == 409
    assert "ended" in early.json()["error"]["message"]
    client.post(
        f"/api/v1/campaigns/{campaign_id}/transitions",
        json={"status": "ended"},
        headers=brand.auth(Role.OWNER),
    )
    page = editor.get(base)
    assert "将排名靠前的作品评为获奖" in page.text
    url = f"{base}/winners"
    marked = editor.post(
        url,
        data={"csrf_token": form_token(editor, base, url), "count": "1"},
        follow_redirects=False,
    )
    assert marked.status_code == 303
    # The ranking rule is fixed now: the rules form says so, above the form, with what was typed.
    refused = post_form(editor, base, f"{base}/settings", {"jury_percent": "30"})
    assert refused.status_code == 409
    assert "获奖作品已评定，排名规则不能再修改。" in refused.text
    assert 'min="0" max="100" value="30"' in refused.text
    again = client.post(
        f"/api/v1/ugcs/{contest}/winners", json={"count": 1}, headers=brand.auth(Role.OWNER)
    )
    assert again.status_code == 409
    public = TestClient(client.app).get(f"/c/{SLUG}/ugc/{contest}")
    assert "获奖作品" in public.text
    assert "第 1 名" in public.text
    assert "60% × 评委平均分 ÷ 10 + 40% × 票数 ÷ 最高票数" in public.text

    export = editor.get(f"{base}/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [(r["caption"], r["votes"], r["jury_average"], r["winner_rank"]) for r in rows] == [
        ("窗边的樱花拿铁", "0", "9.00", ""),
        ("和朋友的春日野餐", "3", "5.00", "1"),
    ]


def test_console_creates_a_contest_and_works_the_queue(
    client: TestClient,
    brand: Brand,
    settings: Settings,
) -> None:
    campaign_id, _old = make_contest(client, brand)
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign_id}/ugc/new"
    action = f"/console/w/acme/campaigns/{campaign_id}/ugc"
    bad = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "春日",
            "jury_percent": "150",
        },
    )
    assert bad.status_code == 422
    # In the form's own terms (a percentage), not the model's "at most 1".
    assert field_error_text(bad.text, "jury_percent") == "请输入 0 到 100 之间的百分比。"
    made = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "门店打卡挑战",
            "hashtag": "#山野打卡",
            "allow_images": "on",
            "keywords": "代购，广告\n加微信",
            "flag_negative": "on",
            "votes_per_day": "5",
            "jury_percent": "70",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    base = made.headers["location"]
    contest = int(base.rsplit("/", 1)[1])
    detail = client.get(base)
    assert "门店打卡挑战" in detail.text
    assert "评委 70% + 大众投票 30%" in detail.text

    phone = TestClient(client.app)
    entry = submit(
        phone,
        contest,
        image=photo("PNG"),
        filename="a.png",
        content_type="image/png",
        caption="加微信有优惠",
    ).json()["entry"]
    queue = client.get(f"{base}/queue")
    assert "待审核" in queue.text
    assert "关键词：加微信" in queue.text
    image_url = f"{base}/media/{entry['image_name']}"
    assert image_url in queue.text
    assert client.get(image_url).headers["content-type"] == "image/png"  # moderators see it
    assert phone.get(image_url, follow_redirects=False).status_code in (303, 401)  # not the public

    url = f"{base}/entries/{entry['id']}/moderate"
    rejected = client.post(
        url,
        data={"csrf_token": form_token(client, base, url), "decision": "reject"},
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    assert "没有待审核的内容" in client.get(f"{base}/queue").text
    assert phone.get(entry["image_url"]).status_code == 404  # rejected: never public
    assert len(stored_files(settings)) == 1


def _fields(client: TestClient, url: str) -> dict[str, str]:
    html = client.get(url).text
    fields = dict(re.findall(r'name="(csrf_token|shown)" value="([^"]+)"', html))
    assert "csrf_token" in fields, html[:800]
    return fields


def test_the_public_form_works_without_javascript(
    client: TestClient,
    brand: Brand,
    settings: Settings,
) -> None:
    _cid, contest = make_contest(client, brand)
    url = f"/c/{SLUG}/ugc/{contest}"
    page = client.get(url)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert "#山野春日#" in page.text
    fields = _fields(client, url)
    gif = client.post(
        f"{url}/submit",
        data={**fields, "caption": "动图", "consent": "yes"},
        files={"image": ("spring.jpg", photo("GIF"), "image/jpeg")},
    )
    assert gif.status_code == 422
    assert "只接受 JPEG、PNG 和 WebP 格式的照片" in gif.text
    assert "动图" in gif.text  # the caption is kept
    bad_link = client.post(
        f"{url}/submit",
        data={**fields, "video_url": "https://example.com/v.mp4", "consent": "yes"},
        files={"image": ("", b"", "application/octet-stream")},  # an empty file input
    )
    assert bad_link.status_code == 422
    assert "抖音" in bad_link.text
    assert stored_files(settings) == []

    sent = client.post(
        f"{url}/submit",
        data={**fields, "caption": "阳光正好", "nickname": "小林", "consent": "yes"},
        files={"image": ("IMG_0001.HEIC", photo(gps=True), "image/heic")},  # the name lies
        follow_redirects=False,
    )
    assert sent.status_code == 303
    after = client.get(sent.headers["location"])
    assert "审核通过后就会出现在作品墙上" in after.text
    assert "我的作品" in after.text
    assert len(stored_files(settings)) == 1

    entry_id = client.get(f"/api/v1/ugcs/{contest}/entries", headers=brand.auth(Role.OWNER)).json()[
        0
    ]["id"]
    approve(client, brand, contest, entry_id)
    voter = TestClient(client.app)
    voter_fields = _fields(voter, url)
    vote_url = f"{url}/entries/{entry_id}/vote"
    needs_consent = voter.post(vote_url, data=voter_fields)
    assert needs_consent.status_code == 422
    assert "我同意" in needs_consent.text
    voted = voter.post(vote_url, data={**voter_fields, "consent": "yes"}, follow_redirects=False)
    assert voted.status_code == 303
    gallery = voter.get(f"{url}/gallery").text
    assert "♥ 1" in gallery
    assert "已投票" in gallery
    own = client.post(vote_url, data=_fields(client, url))
    assert own.status_code == 403
    assert "不能给自己的作品投票" in own.text


def test_honeypot_writes_nothing(
    client: TestClient,
    brand: Brand,
    settings: Settings,
) -> None:
    _cid, contest = make_contest(client, brand)
    url = f"/c/{SLUG}/ugc/{contest}"
    bot = client.post(
        f"{url}/submit",
        data={
            **_fields(client, url),
            "caption": "广告",
            "consent": "yes",
            "website": "http://spam",
        },
        files={"image": ("a.jpg", photo(), "image/jpeg")},
    )
    assert bot.status_code == 400
    assert stored_files(settings) == []
    forged = client.post(f"{url}/submit", data={"caption": "伪造", "consent": "yes"})
    assert forged.status_code == 403


def test_media_names_cannot_escape(client: TestClient, brand: Brand, tmp_path: Path) -> None:
    _cid, contest = make_contest(client, brand)
    for name in ("..%2F..%2Fetc%2Fpasswd", "x.jpg", "AAAAAAAAAAAAAAAAAAAA.gif"):
        assert client.get(f"/media/ugc/{contest}/{name}").status_code == 404


def test_htmx_votes_swap_the_gallery_and_show_errors(client: TestClient, brand: Brand) -> None:
    _cid, contest = make_contest(client, brand, auto_approve=True)
    entry = submit(TestClient(client.app), contest, caption="春日第一杯").json()["entry"]
    url = f"/c/{SLUG}/ugc/{contest}"
    fields = _fields(client, url)
    htmx = {"HX-Request": "true"}
    vote_url = f"{url}/entries/{entry['id']}/vote"
    first = client.post(vote_url, data=fields, headers=htmx)
    assert first.status_code == 422
    assert "<html" not in first.text  # a fragment for the gallery, with the consent to give
    assert f'action="{vote_url}"' in first.text
    voted = client.post(vote_url, data={**fields, "consent": "yes"}, headers=htmx)
    assert voted.status_code == 200
    assert "投票成功" in voted.text
    assert "♥ 1" in voted.text
    twice = client.post(vote_url, data=fields, headers=htmx)
    assert twice.status_code == 409
    assert "你今天已经给这件作品投过票了" in twice.text
    assert "<html" not in twice.text


def test_risky_entries_and_votes_are_held(client: TestClient, brand: Brand, app) -> None:
    _cid, contest = make_contest(client, brand, auto_approve=True)
    app.state.settings = app.state.settings.model_copy(update={"risk_hold_threshold": 0.1})
    sent = submit(TestClient(client.app), contest, caption="第一次来").json()
    assert sent["in_gallery"] is False  # a risky entry waits, even with auto-approval
    assert "risky action" in sent["entry"]["flags"]
    entry_id = sent["entry"]["id"]
    approve(client, brand, contest, entry_id)
    vote = TestClient(client.app).post(
        f"/api/v1/public/campaigns/{SLUG}/ugcs/{contest}/entries/{entry_id}/votes",
        json={"consent": True},
    )
    assert vote.json()["held_for_review"] is True
    assert vote.json()["votes"] == 0

    login(client, brand.emails[Role.EDITOR])
    base = f"/console/w/acme/ugc/{contest}"
    assert "(+1 存疑待复核)" in client.get(base).text
    url = f"{base}/entries/{entry_id}/count-held"
    counted = client.post(url, data={"csrf_token": form_token(client, base, url)})
    assert counted.status_code == 200  # after the redirect
    assert "存疑待复核" not in counted.text
    ranking = client.get(f"/api/v1/ugcs/{contest}/ranking", headers=brand.auth(Role.OWNER))
    assert ranking.json()["entries"][0]["entry"]["votes"] == 1


def test_an_entry_has_a_page_to_share(client: TestClient, brand: Brand) -> None:
    _cid, contest = make_contest(client, brand)
    author = TestClient(client.app)
    entry = submit(author, contest, image=photo(), caption="樱花树下", nickname="小林").json()
    entry_id = entry["entry"]["id"]
    page_url = f"/c/{SLUG}/ugc/{contest}/entries/{entry_id}"
    assert client.get(page_url).status_code == 404  # not public before approval
    approve(client, brand, contest, entry_id)
    assert f'href="{page_url}"' in author.get(f"/c/{SLUG}/ugc/{contest}").text  # "share it"

    friend = TestClient(client.app)
    page = friend.get(page_url + "?ch=wechat")
    assert page.status_code == 200
    assert f'property="og:image" content="http://testserver{entry["entry"]["image_url"]}"' in (
        page.text
    )
    assert "樱花树下" in page.text
    fields = _fields(friend, page_url)
    voted = friend.post(
        f"/c/{SLUG}/ugc/{contest}/entries/{entry_id}/vote",
        data={**fields, "consent": "yes", "back": "entry"},
        follow_redirects=False,
    )
    assert voted.headers["location"] == page_url + "?done=voted"
    after = friend.get(voted.headers["location"]).text
    assert "投票成功" in after
    assert "♥ 1" in after
    assert friend.get(f"/c/{SLUG}/ugc/{contest}/entries/999999").status_code == 404


def test_the_rules_form_shows_each_error_by_its_field(client: TestClient, brand: Brand) -> None:
    _campaign_id, contest = make_contest(client, brand, votes_per_day=3, jury_weight=0.6)
    login(client, brand.emails[Role.EDITOR])
    base = f"/console/w/acme/ugc/{contest}"
    url = f"{base}/settings"

    def rules() -> dict:
        activity = client.get(f"/api/v1/activities/{contest}", headers=brand.auth(Role.ANALYST))
        return activity.json()["settings"]

    typed = {"keywords": "广告，刷票", "jury_percent": "150", "votes_per_day": "0"}
    bad = post_form(client, base, url, {**typed, "auto_approve": "on"})
    assert bad.status_code == 422
    assert "请修改标出的字段。" in bad.text
    assert field_error_text(bad.text, "jury_percent") == "请输入 0 到 100 之间的百分比。"
    assert field_error_text(bad.text, "votes_per_day") == "不能小于 1。"
    assert field_error_text(bad.text, "keywords") is None
    # What was typed is shown again, the rules open, the box still ticked.
    assert '<details id="rules" open>' in bad.text
    assert ">广告，刷票</textarea>" in bad.text
    assert 'name="jury_percent" type="number" min="0" max="100" value="150"' in bad.text
    assert 'name="votes_per_day" type="number" min="1" max="50" value="0"' in bad.text
    assert '<input type="checkbox" name="auto_approve" checked>' in bad.text
    assert (rules()["jury_weight"], rules()["votes_per_day"]) == (0.6, 3)  # nothing stored

    words = post_form(client, base, url, {"jury_percent": "六十"})
    assert words.status_code == 422
    assert field_error_text(words.text, "jury_percent") == "请输入 0 到 100 之间的百分比。"
    assert 'value="六十"' in words.text

    good = post_form(client, base, url, {**typed, "jury_percent": "70", "votes_per_day": "5"})
    assert good.status_code == 303
    assert good.headers["location"] == base
    assert (rules()["jury_weight"], rules()["votes_per_day"]) == (0.7, 5)
    assert sorted(rules()["keywords"]) == ["刷票", "广告"]
    assert rules()["auto_approve"] is False  # the box was not sent: unticked
    page = client.get(base)
    assert page.status_code == 200
    assert "field-error" not in page.text
    assert 'name="jury_percent" type="number" min="0" max="100" value="70"' in page.text
