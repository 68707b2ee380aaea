"""Bad input to listening: broken files, absurd counts, control characters, hostile nesting,
bad CLI files, feeds that are not feeds or lead inside the network, and settings that would
send alerts there. Each answer is a clear error (a row error, a 4xx, exit code 2), never a 500,
a traceback or a half-written record."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from im2.app import create_app
from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.i18n import use_locale
from im2.listening import alerting, feeds, reach
from im2.listening.cli import app as sentiment_cli
from im2.listening.cli import default_output
from im2.listening.formats import PRESETS_BY_KEY
from im2.listening.importers import FileFormat, read_mentions
from im2.listening.jobs import detect_spikes_job
from im2.listening.models import Feed, ListeningSettings, MentionImport
from im2.listening.schemas import MAX_COUNT, MAX_TEXT, AlertRead, ListeningSettingsRead, Platform
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.listening.conftest import loopback_server
from tests.test_auth import login
from tests.test_console import form_token

BASE = "/console/w/acme/listening"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
runner = CliRunner()


def _import(client: TestClient, brand: Brand, name: str, body: bytes) -> Any:
    response = client.post(
        "/api/v1/mentions/imports",
        files={"file": (name, body, "text/plain")},
        data={"mapping": "im2"},
        headers=brand.auth(Role.EDITOR),
    )
    assert response.status_code in (201, 422), response.text
    return response


def _texts(client: TestClient, brand: Brand) -> set[str]:
    items = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    return {m["text"] for m in items}


def _mention(post_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "platform": "weibo",
        "post_id": post_id,
        "text": "hello",
        "posted_at": "2026-03-02T01:00:00Z",
        **fields,
    }


# --- file import ------------------------------------------------------------------------------


def test_a_utf16_file_cut_in_the_middle_of_a_character_still_imports(
    client: TestClient, brand: Brand
) -> None:
    body = "text\n很好\n真不错\n".encode("utf-16")[:-1]  # an odd byte count
    response = _import(client, brand, "cut.csv", body)
    assert response.status_code == 201
    assert response.json()["encoding"] == "utf-16"
    assert "很好" in _texts(client, brand)


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("inf.jsonl", b'{"text":"too many","likes":1e400}\n{"text":"fine"}\n', "likes"),
        ("digits.csv", ("text,likes\ntoo many," + "9" * 400 + "\nfine,1\n").encode(), "likes"),
        ("e23.csv", b"text,author_followers\ntoo many,1e23\nfine,1\n", "author_followers"),
        ("big.csv", b"text,reposts\ntoo many,99999999999999999999999\nfine,1\n", "reposts"),
        ("int64.csv", b"text,comments\ntoo many,9223372036854775808\nfine,1\n", "comments"),
    ],
)
def test_counts_too_large_to_store_are_row_errors_naming_the_field_and_the_limit(
    client: TestClient, brand: Brand, name: str, body: bytes, field: str
) -> None:
    report = _import(client, brand, name, body).json()
    assert (report["imported"], report["failed"]) == (1, 1)
    [error] = report["errors"]
    assert field in error["message"]
    assert str(MAX_COUNT) in error["message"]
    assert _texts(client, brand) == {"fine"}


def test_the_largest_storable_count_is_stored(client: TestClient, brand: Brand) -> None:
    body = f"text,likes\nviral,{MAX_COUNT}\n".encode()
    assert _import(client, brand, "max.csv", body).json()["imported"] == 1
    [item] = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    assert item["likes"] == MAX_COUNT


def test_the_api_refuses_counts_too_large_to_store(client: TestClient, brand: Brand) -> None:
    response = client.post(
        "/api/v1/mentions",
        json={"mentions": [_mention("1"), _mention("2", likes=10**23)]},
        headers=brand.auth(Role.EDITOR),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "mentions.1.likes"
    assert _texts(client, brand) == set()  # the batch is all or nothing


@pytest.mark.parametrize("text", ["", "   ", "\x00"])
def test_the_api_refuses_empty_text_as_the_importer_does(
    client: TestClient, brand: Brand, text: str
) -> None:
    response = client.post(
        "/api/v1/mentions",
        json={"mentions": [_mention("1", text=text)]},
        headers=brand.auth(Role.EDITOR),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "mentions.0.text"
    assert "empty" in response.json()["error"]["message"]


def test_nul_and_control_characters_are_dropped_the_same_way_on_every_path(
    client: TestClient, brand: Brand
) -> None:
    report = _import(client, brand, "nul.csv", b"text\nhel\x00lo\x07 file\ngood row\n").json()
    assert (report["imported"], report["failed"]) == (2, 0)
    api = client.post(
        "/api/v1/mentions",
        json={"mentions": [_mention("api-1", text="a\u0000b\ttab", author="x\u0000y")]},
        headers=brand.auth(Role.EDITOR),
    )
    assert api.status_code == 200, api.text
    assert _texts(client, brand) == {"hello file", "good row", "ab\ttab"}


def test_a_deeply_nested_json_file_is_refused_whole(client: TestClient, brand: Brand) -> None:
    response = _import(client, brand, "deep.json", b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "file"
    assert "nested" in response.json()["error"]["message"]


def test_a_deeply_nested_jsonl_row_is_a_row_error(client: TestClient, brand: Brand) -> None:
    deep = '{"text": "deep", "extra": ' + "[" * 5000 + "]" * 5000 + "}"
    middling = '{"text": "middling", "extra": ' + "[" * 500 + "]" * 500 + "}"
    body = "\n".join([deep, middling, '{"text": "fine"}']).encode()
    report = _import(client, brand, "deep.jsonl", body).json()
    assert report["imported"] == 1
    assert [e["line"] for e in report["errors"]] == [1, 2]
    assert _texts(client, brand) == {"fine"}


def test_a_post_cut_to_the_longest_text_is_counted_as_truncated(
    client: TestClient, brand: Brand
) -> None:
    body = ("text\n" + "好" * 2_000_000 + "\nshort\n").encode()
    report = _import(client, brand, "long.csv", body).json()
    assert (report["imported"], report["truncated"]) == (2, 1)
    assert "好" * MAX_TEXT in _texts(client, brand)
    # Importing it again adds nothing, and cuts nothing.
    again = _import(client, brand, "long.csv", body).json()
    assert (again["imported"], again["duplicates"], again["truncated"]) == (0, 2, 0)


def test_row_errors_are_in_the_readers_language_without_exception_text() -> None:
    body = '{"text": "ok"}\n{"text": broken}\n{"text": ["a list"]}\n'
    spec = PRESETS_BY_KEY["im2"]
    rows = list(read_mentions(body, file_format=FileFormat.JSONL, spec=spec, now=NOW))
    failed = [r for r in rows if r.problem]
    assert [r.error_record()["code"] for r in failed] == ["json_invalid_at", "not_text"]
    with use_locale("zh_CN"):
        assert [r.error for r in failed] == [
            "不是有效的 JSON（第 10 列）",
            "text 必须是文本，不能是列表或对象",
        ]
    with use_locale("en"):
        assert [r.error for r in failed] == [
            "not valid JSON (column 10)",
            "text must be text, not a list or an object",
        ]


def test_import_row_errors_are_shown_in_the_readers_language(
    client: TestClient, brand: Brand, db: Database
) -> None:
    # Imported through the API (English), read in the console (Chinese).
    body = b'{"text": "ok"}\n{"text": broken}\n{"text": "x", "likes": "lots"}\n'
    report = _import(client, brand, "rows.jsonl", body).json()
    assert [(e["line"], e["code"], e["message"]) for e in report["errors"]] == [
        (2, "json_invalid_at", "not valid JSON (column 10)"),
        (3, "not_a_count", "likes “lots” is not a count"),
    ]
    with db.transaction() as session:  # a report stored before errors had codes
        old = session.get(MentionImport, report["id"])
        assert old is not None
        old.errors = [*old.errors, {"line": 9, "message": "Expecting value: line 1 column 10"}]
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(f"{BASE}/imports/{report['id']}").text
    assert "不是有效的 JSON（第 10 列）" in page
    assert "likes“lots”不是有效的数量" in page
    assert "not valid JSON" not in page
    assert "Expecting value: line 1 column 10" in page


# --- topic queries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["(" * 990 + "a" + ")" * 990, "-" * 1999 + "a", "NOT " * 499 + "a"]
)
def test_queries_nested_too_deeply_are_refused_with_the_position(
    client: TestClient, brand: Brand, query: str
) -> None:
    response = client.post(
        "/api/v1/topics", json={"name": "t", "query": query}, headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "query"
    assert "50 levels" in error["message"]
    assert "position" in error["message"]


def test_a_query_nested_a_few_levels_is_fine(client: TestClient, brand: Brand) -> None:
    query = "(" * 10 + "haier -(美的 NOT 空调)" + ")" * 10
    response = client.post(
        "/api/v1/topics", json={"name": "t", "query": query}, headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == 201, response.text


# --- im2 sentiment ----------------------------------------------------------------------------


def _run(path: Path, *extra: str) -> Any:
    return runner.invoke(sentiment_cli, [str(path), "--text-column", "text", *extra])


@pytest.mark.parametrize(
    ("name", "body", "lines"),
    [
        ("extra.csv", "id,text\n1,good,extra\n2,fine\n", ["line 2"]),
        ("short.csv", "id,text\n1,good\n2\n3,bad\n", ["line 3"]),
        ("quote.csv", 'id,text\n1,"unterminated\n2,ok\n3,fine\n', ["line 2"]),
        (
            "types.jsonl",
            '{"text": "ok"}\n{"text": null}\n{"text": ["a"]}\n{"other": 1}\n{"text": {"a": 1}}\n',
            ["line 2", "line 3", "line 4", "line 5"],
        ),
        ("broken.jsonl", '{"text": "good"}\nnot json\n', ["line 2"]),
    ],
)
def test_bad_rows_are_named_and_nothing_is_written(
    tmp_path: Path, name: str, body: str, lines: list[str]
) -> None:
    source = tmp_path / name
    source.write_text(body, encoding="utf-8")
    result = _run(source)
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "Traceback" not in output
    assert f"{len(lines)} bad row" in output
    for line in lines:
        assert line in output
    assert not default_output(source).exists()


def test_many_bad_rows_name_the_first_few_and_the_count(tmp_path: Path) -> None:
    source = tmp_path / "ragged.csv"
    source.write_text("id,text\n" + "".join(f"{i},a,b\n" for i in range(1, 21)), encoding="utf-8")
    output = " ".join(_run(source).output.split())
    assert "20 bad rows" in output
    assert "line 2:" in output
    assert "line 6:" in output
    assert "line 7:" not in output
    assert "and 15 more" in output


def test_output_into_a_missing_folder_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "ok.csv"
    source.write_text("id,text\n1,很好吃\n", encoding="utf-8")
    target = tmp_path / "nowhere" / "out.csv"
    result = _run(source, "-o", str(target))
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not target.parent.exists()


# --- feeds --------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>
<item><guid>n-1</guid><title>一条新闻</title><description>内容</description></item>
</channel></rss>"""


@pytest.fixture
def web_server() -> Iterator[str]:
    """/feed.xml (RSS), /page.html (an HTML page, status 200), /huge.xml (20 kB, no length
    given), /loop (redirects to itself), /to-metadata (redirects to the cloud metadata
    address)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in ("/loop", "/to-metadata"):
                target = "/loop" if self.path == "/loop" else "http://169.254.169.254/latest/"
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/huge.xml":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"<rss>" + b" " * 20_000 + b"</rss>")
                self.close_connection = True
                return
            bodies = {"/feed.xml": RSS, "/page.html": "<!doctype html><html><body>hi</body></html>"}
            if self.path not in bodies:
                self.send_error(404)
                return
            body = bodies[self.path].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    with loopback_server(Handler) as url:
        yield url


def _add_and_poll(client: TestClient, brand: Brand, url: str) -> dict[str, Any]:
    added = client.post(
        "/api/v1/listening/feeds", json={"url": url}, headers=brand.auth(Role.EDITOR)
    )
    assert added.status_code == 201, added.text
    polled = client.post(
        f"/api/v1/listening/feeds/{added.json()['id']}/poll", headers=brand.auth(Role.EDITOR)
    )
    assert polled.status_code == 200, polled.text
    result: dict[str, Any] = polled.json()
    return result


def test_an_html_page_is_not_an_ok_feed(client: TestClient, brand: Brand, web_server: str) -> None:
    polled = _add_and_poll(client, brand, web_server + "/page.html")
    assert polled["imported"] == 0
    assert polled["feed"]["last_error"] == "not_a_feed"
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(f"{BASE}/feeds").text
    assert "不是 RSS 或 Atom 订阅源" in page
    assert "正常" not in page


def test_feed_entries_with_nothing_but_control_characters_are_skipped() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>a</guid><title>\x07</title></item>"
        b"<item><guid>b</guid><title>ok \x00news</title></item></channel></rss>"
    )
    mentions = feeds.parse_entries(body, Platform.RSS, NOW)
    assert mentions is not None
    assert [(m.post_id, m.text) for m in mentions] == [("b", "ok news")]
    assert feeds.parse_entries(b'{"items": []}', Platform.RSS, NOW) is None


def test_a_feed_larger_than_the_cap_is_not_read(
    client: TestClient, brand: Brand, web_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 10_000)
    polled = _add_and_poll(client, brand, web_server + "/huge.xml")
    assert polled["feed"]["last_error"].startswith("too_large")
    assert login(client, brand.emails[Role.EDITOR]) == 303
    assert "订阅源大于" in client.get(f"{BASE}/feeds").text


def test_redirects_are_checked_and_limited(
    web_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a server whose loopback test site stood for a public one: only the metadata
    # address counts as inside the network.
    monkeypatch.setattr(
        reach, "refused", lambda host, port: host if host.startswith("169.254.") else None
    )

    def due(path: str) -> feeds.DueFeed:
        return feeds.DueFeed(1, 1, web_server + path, Platform.RSS, None, None)

    assert feeds.fetch(due("/feed.xml"), private_networks=False).error is None
    led = feeds.fetch(due("/to-metadata"), private_networks=False)
    assert (led.status, led.error) == (0, "refused: 169.254.169.254")
    assert feeds.fetch(due("/loop"), private_networks=True).error == "too_many_redirects"


def test_a_strict_server_refuses_feeds_and_alert_receivers_inside_its_network(
    brand: Brand, db: Database, clock: ManualClock, settings: Settings
) -> None:
    strict = create_app(
        settings.model_copy(update={"webhook_allow_private_networks": False}), db=db, clock=clock
    )
    owner = brand.auth(Role.OWNER)
    with TestClient(strict) as api:
        for url in ("http://169.254.169.254/latest/", "http://127.0.0.1:8080/feed.xml"):
            refused = api.post("/api/v1/listening/feeds", json={"url": url}, headers=owner)
            assert refused.status_code == 422, url
            assert refused.json()["error"]["field"] == "url"
            assert "not a public internet address" in refused.json()["error"]["message"]
        assert api.get("/api/v1/listening/feeds", headers=owner).json() == []

        for body, field in (
            ({"webhook_url": "http://169.254.169.254/latest"}, "webhook_url"),
            ({"smtp_host": "10.0.0.7", "alert_emails": ["ops@example.com"]}, "smtp_host"),
            ({"smtp_host": "localhost"}, "smtp_host"),
        ):
            response = api.put("/api/v1/listening/settings", json=body, headers=owner)
            assert response.status_code == 422, body
            assert response.json()["error"]["field"] == field
        kept = api.get("/api/v1/listening/settings", headers=owner).json()
        assert (kept["webhook_url"], kept["smtp_host"]) == (None, None)

        public = api.put(
            "/api/v1/listening/settings",
            json={"webhook_url": "https://93.184.215.14/hook", "smtp_host": "smtp.example.com"},
            headers=owner,
        )
        assert public.status_code == 200, public.text

    # Console form: the same refusal shown next to the field.
    with TestClient(strict) as console:
        assert login(console, brand.emails[Role.OWNER]) == 303
        page = f"{BASE}/settings"
        token = form_token(console, page, page)
        response = console.post(
            page,
            data={
                "csrf_token": token,
                "webhook_url": "http://169.254.169.254/latest",
                "vip_followers": "100000",
                "smtp_port": "25",
                "smtp_sender": "im2@example.com",
                "ladder_name_0": "Public reply",
                "ladder_minutes_0": "60",
            },
        )
        assert response.status_code == 422
        assert "不是公网地址" in response.text


def test_a_mail_server_name_with_a_scheme_is_refused(client: TestClient, brand: Brand) -> None:
    response = client.put(
        "/api/v1/listening/settings",
        json={"smtp_host": "smtp://mail.example.com"},
        headers=brand.auth(Role.OWNER),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "smtp_host"


# --- settings -------------------------------------------------------------------------------


def test_alert_emails_must_be_addresses(client: TestClient, brand: Brand, db: Database) -> None:
    owner = brand.auth(Role.OWNER)
    response = client.put(
        "/api/v1/listening/settings",
        json={"alert_emails": ["ops@example.com", "not an email"]},
        headers=owner,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "alert_emails.1"
    assert client.get("/api/v1/listening/settings", headers=owner).json()["alert_emails"] == []

    # An address saved before addresses were checked still loads (and can be corrected).
    client.put("/api/v1/listening/settings", json={}, headers=owner).raise_for_status()
    with db.transaction() as session:
        row = session.get(ListeningSettings, brand.workspace_id)
        assert row is not None
        row.alert_emails = ["not an email"]
    loaded = client.get("/api/v1/listening/settings", headers=owner)
    assert loaded.status_code == 200
    assert loaded.json()["alert_emails"] == ["not an email"]


# --- delivery outcomes and feed errors in the console ----------------------------------------


def _raise_an_alert(client: TestClient, brand: Brand, clock: ManualClock, db: Database) -> None:
    now = clock.now()
    calm = [
        _mention(
            f"calm-{i}",
            text="海尔冰箱很好用",
            posted_at=(now - timedelta(hours=2 + i % 10, minutes=i)).isoformat(),
        )
        for i in range(20)
    ]
    burst = [
        _mention(
            f"burst-{i}",
            text=f"海尔冰箱爆炸了，太差了 #{i}",
            posted_at=(now - timedelta(minutes=1 + i)).isoformat(),
        )
        for i in range(30)
    ]
    client.post(
        "/api/v1/mentions", json={"mentions": calm + burst}, headers=brand.auth(Role.OWNER)
    ).raise_for_status()
    assert detect_spikes_job(db, clock)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_delivery_outcomes_are_shown_in_the_readers_language(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database, web_server: str
) -> None:
    client.put(
        "/api/v1/listening/settings",
        json={
            "webhook_url": web_server + "/no-such-hook",  # answers 404 (501 for a POST)
            "alert_emails": ["ops@example.com"],
            "smtp_host": "127.0.0.1",
            "smtp_port": _closed_port(),
        },
        headers=brand.auth(Role.OWNER),
    ).raise_for_status()
    _raise_an_alert(client, brand, clock, db)
    [alert, *_rest] = client.get("/api/v1/alerts", headers=brand.auth(Role.ANALYST)).json()
    delivery = alert["delivery"]
    assert delivery["console"] == "shown"
    assert delivery["webhook"].startswith("failed: HTTP ")
    assert delivery["email"] == "failed: ConnectionRefusedError"

    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(f"{BASE}/alerts").text
    assert "控制台：已显示" in page
    assert "Webhook：失败（HTTP " in page
    assert "电子邮件：失败（ConnectionRefusedError）" in page
    assert "email: failed" not in page

    # A strict sender refuses receivers inside the network, and says so.
    outcome = alerting.deliver(
        AlertRead.model_validate(alert),
        ListeningSettingsRead(
            webhook_url=web_server + "/hook",
            alert_emails=["ops@example.com"],
            smtp_host="127.0.0.1",
        ),
        private_networks=False,
    )
    assert outcome == {
        "console": "shown",
        "webhook": "refused: 127.0.0.1",
        "email": "refused: 127.0.0.1",
    }


def test_feed_errors_old_and_new_are_shown_in_the_readers_language(
    client: TestClient, brand: Brand, db: Database
) -> None:
    stored = {
        "https://a.example.com/rss": "HTTP 404",  # as stored before codes
        "https://b.example.com/rss": "ConnectError: [Errno 111] Connection refused",
        "https://c.example.com/rss": "not_a_feed",
        "https://d.example.com/rss": "refused: 10.0.0.7",
    }
    for url in stored:
        client.post(
            "/api/v1/listening/feeds", json={"url": url}, headers=brand.auth(Role.EDITOR)
        ).raise_for_status()
    with db.transaction() as session:
        for feed in session.query(Feed).all():
            feed.last_error = stored[feed.url]
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(f"{BASE}/feeds").text
    assert "服务器返回了 HTTP 404 状态码" in page
    assert "无法抓取订阅源（ConnectError: [Errno 111] Connection refused）" in page
    assert "不是 RSS 或 Atom 订阅源" in page
    assert "订阅源指向 10.0.0.7，这不是公网地址" in page
    assert "not_a_feed" not in page
