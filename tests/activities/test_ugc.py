"""UGC contests end to end: participants send photos and video links from their phones,
moderators work the queue, the public votes, jurors score, the published rule ranks, winners."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload, take_live

SLUG = "photo-contest"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The usual test settings, with uploads in this test's own folder."""
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        run_scheduler=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        media_path=tmp_path / "media",
    )


def photo(fmt: str = "JPEG", *, size: tuple[int, int] = (120, 90), gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (220, 60, 120))
    for x in range(0, size[0], 10):
        image.putpixel((x, size[1] // 2), (255, 255, 255))
    buffer = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "Canon"
        exif[0x0110] = "EOS R6"
        exif.get_ifd(0x8825).update({1: "N", 2: (31.0, 14.0, 2.5), 3: "E", 4: (121.0, 28.0, 0.0)})
        image.save(buffer, fmt, exif=exif)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def bomb(side: int) -> bytes:
    """A tiny file that would decode to side × side pixels (a decompression bomb)."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


def make_contest(
    client: TestClient, brand: Brand, *, status: str = "live", **settings: object
) -> tuple[int, int]:
    """A campaign with one contest; returns (campaign id, activity id)."""
    auth = brand.auth(Role.OWNER)
    campaign = client.post(
        "/api/v1/campaigns",
        json=campaign_payload(slug=SLUG, starts_at="2026-03-01T10:00"),
        headers=auth,
    ).json()
    path = {"draft": [], "live": ["scheduled", "live"]}[status]
    for step in path:
        client.post(
            f"/api/v1/campaigns/{campaign['id']}/transitions", json={"status": step}, headers=auth
        ).raise_for_status()
    created = client.post(
        f"/api/v1/campaigns/{campaign['id']}/ugcs",
        json={"title": "晒出你的春日咖啡", "hashtag": "山野春日", **settings},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    return int(campaign["id"]), int(created.json()["id"])


def entries_url(contest: int, slug: str = SLUG) -> str:
    return f"/api/v1/public/campaigns/{slug}/ugcs/{contest}/entries"


def submit(
    client: TestClient,
    contest: int,
    *,
    image: bytes | None = None,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    consent: bool = True,
    **fields: str,
):
    data = {"consent": "true" if consent else "false", **fields}
    files = {"image": (filename, image, content_type)} if image is not None else None
    return client.post(entries_url(contest), data=data, files=files)


def approve(client: TestClient, brand: Brand, contest: int, entry_id: int) -> dict:
    response = client.post(
        f"/api/v1/ugcs/{contest}/entries/{entry_id}/moderation",
        json={"approve": True},
        headers=brand.auth(Role.EDITOR),
    )
    assert response.status_code == 200, response.text
    return response.json()


def stored_files(settings: Settings) -> list[Path]:
    root = settings.media_path
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_photo_entry_is_cleaned_moderated_and_voted(
    client: TestClient, brand: Brand, db: Database, settings: Settings, clock: ManualClock
) -> None:
    _cid, contest = make_contest(client, brand, votes_per_day=1)
    sent = submit(
        client, contest, image=photo(gps=True), caption="樱花树下的拿铁", nickname="阿May"
    )
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    assert receipt["in_gallery"] is False
    entry = receipt["entry"]
    assert entry["kind"] == "image"
    assert entry["status"] == "pending"

    # Pending: not in the gallery, and its image is not served to the public.
    assert client.get(entries_url(contest)).json() == []
    assert client.get(entry["image_url"]).status_code == 404

    approve(client, brand, contest, entry["id"])
    gallery = client.get(entries_url(contest)).json()
    assert [e["caption"] for e in gallery] == ["樱花树下的拿铁"]
    served = client.get(entry["image_url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    cleaned = Image.open(io.BytesIO(served.content))
    assert cleaned.format == "JPEG"
    assert cleaned.size == (120, 90)
    assert dict(cleaned.getexif()) == {}  # no camera, no GPS
    assert b"Canon" not in served.content
    assert b"Exif" not in served.content
    assert len(stored_files(settings)) == 1

    voter = TestClient(client.app)
    vote_url = f"{entries_url(contest)}/{entry['id']}/votes"
    first = voter.post(vote_url, json={"consent": True})
    assert first.status_code == 201, first.text
    assert first.json()["votes"] == 1
    assert first.json()["votes_left_today"] == 0
    twice = voter.post(vote_url, json={})
    assert twice.status_code == 409
    assert "already voted" in twice.json()["error"]["message"]
    own = client.post(vote_url, json={})
    assert own.status_code == 403
    assert "own entry" in own.json()["error"]["message"]

    clock.advance(timedelta(days=1))  # a new day in Shanghai: one more vote
    assert voter.post(vote_url, json={}).status_code == 201
    assert client.get(entries_url(contest)).json()[0]["votes"] == 2
    with db.session() as session:
        kinds = [e.kind for e in list_events(session, workspace_id=brand.workspace_id)]
    assert kinds.count("ugc.submitted") == 1
    assert kinds.count("ugc.moderated") == 1
    assert kinds.count("ugc.voted") == 2


def test_daily_allowance_across_entries(client: TestClient, brand: Brand) -> None:
    _cid, contest = make_contest(client, brand, votes_per_day=2, auto_approve=True)
    ids = []
    for i in range(3):
        author = TestClient(client.app)
        sent = submit(
            author, contest, image=photo("PNG"), filename=f"p{i}.png", content_type="image/png"
        )
        assert sent.json()["in_gallery"] is True  # no flags, and auto-approval is on
        ids.append(sent.json()["entry"]["id"])
    voter = TestClient(client.app)
    codes = [
        voter.post(f"{entries_url(contest)}/{i}/votes", json={"consent": True}).status_code
        for i in ids
    ]
    assert codes == [201, 201, 409]
    last = voter.post(f"{entries_url(contest)}/{ids[2]}/votes", json={})
    assert "all 2 votes" in last.json()["error"]["message"]


@pytest.mark.parametrize(
    ("make", "filename", "content_type", "message"),
    [
        (lambda: photo("GIF"), "renamed.jpg", "image/jpeg", "Only JPEG, PNG and WebP"),
        (lambda: "这不是图片\n".encode() * 40, "notes.png", "image/png", "not an image"),
        (
            lambda: b"\xff\xd8\xff\xe0" + b"\0" * (8 * 1024 * 1024 + 10),
            "huge.jpg",
            "image/jpeg",
            "too large",
        ),
        (lambda: b"", "empty.jpg", "image/jpeg", "Choose a photo"),
        (lambda: bomb(9500), "bomb.png", "image/png", "too many pixels"),
        (lambda: bomb(14000), "bigger-bomb.png", "image/png", "too many pixels"),
        (lambda: photo("PNG")[:60], "cut.png", "image/png", "not an image"),
    ],
)
def test_bad_uploads_write_nothing(
    client: TestClient,
    brand: Brand,
    db: Database,
    settings: Settings,
    make,
    filename: str,
    content_type: str,
    message: str,
) -> None:
    _cid, contest = make_contest(client, brand)
    response = submit(client, contest, image=make(), filename=filename, content_type=content_type)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    assert response.json()["error"]["field"] == "image"
    assert stored_files(settings) == []
    with db.session() as session:
        assert list_events(session, kinds=["ugc.submitted", "participant.joined"]) == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://www.bilibili.com/video/BV1xx",
        "https://evil.example.com/bilibili.com/video",
        "https://bilibili.com.evil.example/video/BV1",
        "javascript:alert(1)//bilibili.com",
        "https://user:pw@www.youtube.com/watch?v=1",
        "not a url",
    ],
)
def test_bad_video_links_are_refused(client: TestClient, brand: Brand, url: str) -> None:
    _cid, contest = make_contest(client, brand)
    response = submit(client, contest, video_url=url, caption="看我的视频")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "video_url"


def test_video_link_and_flags(client: TestClient, brand: Brand) -> None:
    _cid, contest = make_contest(client, brand, keywords=["代购", "加微信"], auto_approve=True)
    video = submit(
        client, contest, video_url="https://www.bilibili.com/video/BV1GJ411x7h7", caption="春日vlog"
    ).json()
    assert video["entry"]["kind"] == "video"
    assert video["entry"]["video_host"] == "bilibili.com"
    assert video["in_gallery"] is True
    spam = submit(TestClient(client.app), contest, caption="低价代购，加微信领券").json()
    assert spam["in_gallery"] is False
    assert "keyword: 代购, 加微信" in spam["entry"]["flags"]
    angry = submit(
        TestClient(client.app), contest, caption="太难喝了，服务态度极差，再也不来了，垃圾"
    ).json()
    assert angry["in_gallery"] is False
    assert "negative sentiment" in angry["entry"]["flags"]
    queue = client.get(
        f"/api/v1/ugcs/{contest}/entries?status=pending", headers=brand.auth(Role.VIEWER)
    ).json()
    assert [e["id"] for e in queue] == [spam["entry"]["id"], angry["entry"]["id"]]  # oldest first


def test_a_failed_commit_leaves_no_file(
    client: TestClient, brand: Brand, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from im2.activities.formats.ugc import service

    _cid, contest = make_contest(client, brand)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(service, "record_event", broken)
    with pytest.raises(RuntimeError):
        submit(client, contest, image=photo())
    monkeypatch.undo()
    assert stored_files(settings) == []
    assert (
        client.get(f"/api/v1/ugcs/{contest}/entries", headers=brand.auth(Role.OWNER)).json() == []
    )


def test_closed_draft_and_unknown(client: TestClient, brand: Brand) -> None:
    campaign_id, contest = make_contest(client, brand, status="draft")
    assert submit(client, contest, caption="草稿期投稿").status_code == 404
    assert client.get(f"/c/{SLUG}/ugc/{contest}").status_code == 404
    assert (
        client.post(entries_url(contest, "no-such-slug"), data={"caption": "你好"}).status_code
        == 404
    )

    take_live(client, brand, campaign_id)
    entry = submit(client, contest, caption="春天的第一杯咖啡").json()["entry"]
    approve(client, brand, contest, entry["id"])
    client.post(
        f"/api/v1/campaigns/{campaign_id}/transitions",
        json={"status": "ended"},
        headers=brand.auth(Role.OWNER),
    )
    late = TestClient(client.app)
    vote = late.post(f"{entries_url(contest)}/{entry['id']}/votes", json={"consent": True})
    assert vote.status_code == 409
    assert "ended" in vote.json()["error"]["message"]
    assert submit(late, contest, caption="结束后投稿").status_code == 409
    assert (
        late.post(f"{entries_url(contest)}/999999/votes", json={"consent": True}).status_code == 409
    )


def test_rate_limit_per_device(client: TestClient, brand: Brand, app) -> None:
    from im2.participation.limits import ActionLimiter

    _cid, contest = make_contest(client, brand)
    app.state.limiter = ActionLimiter(per_device="2/minute", per_ip="100/minute")
    codes = [submit(client, contest, caption=f"第{i}张").status_code for i in range(3)]
    assert codes == [201, 201, 429]
