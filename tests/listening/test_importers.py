"""Reading mention files: encodings, ready mappings, broken rows, the shared real data sets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from im2.listening.formats import PRESETS_BY_KEY
from im2.listening.importers import (
    FileFormat,
    FileProblem,
    decode,
    guess_format,
    parse_count,
    read_mentions,
)
from im2.listening.schemas import MAX_TEXT, Platform

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DATA = Path("/work/shared/data")
WEIBO_HEADER = "id,微博正文,用户昵称,粉丝数,发布时间,点赞数,转发数,评论数\n"


def read(text: str, mapping: str, fmt: FileFormat = FileFormat.CSV) -> list:  # type: ignore[type-arg]
    return list(read_mentions(text, file_format=fmt, spec=PRESETS_BY_KEY[mapping], now=NOW))


def test_gbk_file_is_detected_and_read() -> None:
    body = WEIBO_HEADER + "1001,冰箱门关不上，太差了,小王,1.2万,2026-03-01 10:00,3,1,2\n"
    text, encoding = decode(body.encode("gbk"))
    assert encoding == "gb18030"
    rows = read(text, "weibo")
    mention = rows[0].mention
    assert mention.text == "冰箱门关不上，太差了"
    assert mention.author_followers == 12_000
    assert mention.posted_at == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # Beijing time


def test_utf8_with_bom_keeps_the_first_header() -> None:
    text, encoding = decode(("\ufeff" + WEIBO_HEADER + "1,好,a,0,2026-03-01,0,0,0\n").encode())
    assert encoding == "utf-8-sig"
    assert read(text, "weibo")[0].mention.post_id == "1"


def test_missing_columns_are_named() -> None:
    with pytest.raises(FileProblem) as caught:
        read("id,内容\n1,冰箱\n", "weibo")
    assert "posted_at" in caught.value.message
    assert "完整日期" in caught.value.message


def test_broken_rows_are_reported_with_line_numbers_and_good_rows_kept() -> None:
    text = (
        WEIBO_HEADER
        + "1,第一条,a,10,2026-03-01 10:00,1,0,0\n"
        + "2,少了列,a\n"
        + "3,时间坏了,a,10,昨天下午,1,0,0\n"
        + '4,"多行\n的正文",a,10,2026-03-01 11:00,1,0,0\n'
        + "5,粉丝不是数,a,很多,2026-03-01 12:00,1,0,0\n"
        + "6,最后一条,a,10,2026-03-01 13:00,1,0,0\n"
    )
    rows = read(text, "weibo")
    good = [r.mention.post_id for r in rows if r.mention]
    errors = {r.line: r.error for r in rows if r.error}
    assert good == ["1", "4", "6"]
    assert set(errors) == {3, 4, 7}
    assert "expected 8 columns, found 3" in errors[3]
    assert "昨天下午" in errors[4]
    assert "很多" in errors[7]


def test_enormous_post_is_truncated() -> None:
    text = WEIBO_HEADER + f"1,{'长' * (MAX_TEXT * 30)},a,0,2026-03-01,0,0,0\n"
    row = read(text, "weibo")[0]
    assert row.truncated
    assert len(row.mention.text) == MAX_TEXT
    assert row.mention.raw["_original_length"] == MAX_TEXT * 30


def test_counts_as_exports_write_them() -> None:
    assert [parse_count(v) for v in ("1,234", "1.2万", "3亿", "10w+", "1.5k", 7, "")] == [
        1234,
        12_000,
        300_000_000,
        100_000,
        1500,
        7,
        0,
    ]


def test_twitter_archive_and_jsonl_with_nested_fields() -> None:
    archive = "window.YTD.tweets.part0 = " + json.dumps(
        [
            {
                "tweet": {
                    "id_str": "9",
                    "full_text": "RT @x: hi",
                    "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                    "favorite_count": "5",
                }
            }
        ]
    )
    rows = read(archive, "twitter", guess_format("tweets.js", archive))
    assert rows[0].mention.posted_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    assert rows[0].mention.likes == 5
    lines = "\n".join(
        [
            json.dumps(
                {
                    "id": "1",
                    "text": "hello",
                    "created_at": "2026-03-01T00:00:00Z",
                    "author": {"username": "jo", "public_metrics": {"followers_count": 7}},
                    "public_metrics": {"like_count": 2},
                }
            ),
            "{not json",
        ]
    )
    rows = read(lines, "twitter", FileFormat.JSONL)
    assert rows[0].mention.author == "jo"
    assert rows[0].mention.author_followers == 7
    assert rows[1].line == 2
    assert "not valid JSON" in (rows[1].error or "")


@pytest.mark.parametrize("mapping", ["wechat", "douyin", "xiaohongshu", "facebook"])
def test_platform_presets_read_their_headers(mapping: str) -> None:
    spec = PRESETS_BY_KEY[mapping]
    header = [names[0] for names in spec.columns.values()]
    values = {"posted_at": "2026-03-01 09:00"}
    row = [
        values.get(
            f.value,
            "42"
            if "count" in f.value or f.value in ("likes", "reposts", "comments", "author_followers")
            else f"v-{f.value}",
        )
        for f in spec.columns
    ]
    rows = read(",".join(header) + "\n" + ",".join(row) + "\n", mapping)
    assert rows[0].error is None
    assert rows[0].mention.platform is spec.platform


def test_weibo_senti_100k_file_reads_whole() -> None:
    path = DATA / "weibo_senti_100k_subset" / "dev.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    text, _enc = decode(path.read_bytes())
    rows = read(text, "weibo_senti_100k", guess_format(path.name, text))
    assert sum(r.mention is not None for r in rows) == 11_999
    assert rows[0].mention.platform is Platform.WEIBO


def test_sentiment140_file_reads_ids_users_and_times() -> None:
    path = DATA / "en_sentiment140_test" / "testdata.manual.2009.06.14.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    text, _enc = decode(path.read_bytes())
    rows = read(text, "sentiment140")
    first = rows[0].mention
    assert (first.post_id, first.author) == ("3", "tpryan")
    assert first.posted_at == datetime(2009, 5, 11, 3, 17, 40, tzinfo=UTC)
    assert sum(r.mention is not None for r in rows) == 498
