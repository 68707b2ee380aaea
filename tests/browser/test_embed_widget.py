"""The widget on a brand's own site: a page served from a second origin on loopback
(127.0.0.2) embeds an activity with the one script tag; a vote through it counts, the iframe
takes its content's height, and a site the workspace did not allow gets nothing in its frame."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-embed")  # noqa: S108 (the screenshots the brief asks for)


class BrandSite:
    """A brand's web page on its own origin: serves one HTML page at /."""

    def __init__(self, host: str) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.origin = f"http://{host}:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, server: LiveServer, slug: str, activity_id: int) -> str:
        return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>品牌官网</title>
<style>body {{ font-family: sans-serif; margin: 0; }} header, footer {{ padding: 16px;
background: #1f2937; color: #fff; }} main {{ padding: 16px; max-width: 720px; margin: 0 auto; }}
</style></head><body><header>樱花咖啡 · 官网</header><main><h1>春季新品，由你来选</h1>
<script src="{server.url}/static/embed.js" data-campaign="{slug}" data-activity="{activity_id}"
 data-title="投票" async></script>
<p id="after">活动规则：每人一票。</p></main><footer>© 樱花咖啡</footer></body></html>"""


@pytest.fixture
def sites() -> Iterator[tuple[BrandSite, BrandSite]]:
    allowed, other = BrandSite("127.0.0.2"), BrandSite("127.0.0.3")
    yield allowed, other
    for site in (allowed, other):
        site.server.shutdown()
        site.server.server_close()


def _frame_height(page: Any) -> float:
    return float(page.evaluate("document.querySelector('iframe').getBoundingClientRect().height"))


def test_a_vote_through_the_widget_counts_and_the_frame_fits_its_content(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    site, stranger = sites
    owner = brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand)
    with httpx.Client(base_url=live_server.url, headers=owner, timeout=60) as api:
        poll = api.post(f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL).json()
        api.post("/api/v1/embed/origins", json={"origin": site.origin}).raise_for_status()
    slug, poll_id = campaign["slug"], poll["id"]
    site.html = site.page(live_server, slug, poll_id)
    stranger.html = stranger.page(live_server, slug, poll_id)
    SHOTS.mkdir(exist_ok=True)
    problems: list[str] = []

    for name, viewport in (("phone", (390, 844)), ("desktop", (1366, 900))):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN"
        )
        page = context.new_page()
        # The page's and the frame's messages: no policy violation, no script error.
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if "Content Security Policy" in m.text or "Refused to" in m.text
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(site.origin + "/")
        widget = page.frame_locator("iframe[data-im2-frame]")
        widget.locator("h1", has_text=POLL["title"]).wait_for()
        # The frame takes its content's height (420 px before the first message).
        page.wait_for_function("document.querySelector('iframe').style.height !== '420px'")
        content = widget.locator("#im2-widget").evaluate("e => e.getBoundingClientRect().bottom")
        assert abs(_frame_height(page) - content) <= 2
        page.screenshot(path=str(SHOTS / f"widget-{name}-before.png"), full_page=True)
        if name == "desktop":
            break  # one vote per visitor: the phone voted already
        widget.locator("label.choice", has_text="抹茶冷萃").click()
        widget.locator("input[name=consent]").check()
        widget.locator("button[type=submit]").click()
        widget.locator("text=感谢参与，投票成功！").wait_for()
        assert widget.locator(".mine").inner_text() == "抹茶冷萃"
        # The results replace the form: the frame follows the new height.
        page.wait_for_function(
            "Math.abs(document.querySelector('iframe').getBoundingClientRect().height - "
            f"{content}) > 2"
        )
        after = widget.locator("#im2-widget").evaluate("e => e.getBoundingClientRect().bottom")
        assert abs(_frame_height(page) - after) <= 2
        page.screenshot(path=str(SHOTS / f"widget-{name}-voted.png"), full_page=True)

        # Someone votes in an app: the widget's results move without a reload.
        with httpx.Client(base_url=live_server.url, timeout=60) as app:
            token = app.post(f"/api/v1/public/campaigns/{slug}/tokens").json()["token"]
            option = widget.locator("[data-option]").first.get_attribute("data-option")
            app.post(
                f"/api/v1/public/campaigns/{slug}/polls/{poll_id}/votes",
                json={"options": [int(str(option))], "consent": True},
                headers={"X-IM2-Token": token},
            ).raise_for_status()
        widget.locator("[data-total]", has_text="2").wait_for()

        # A message from anywhere but the frame does not move it.
        before = _frame_height(page)
        page.evaluate(
            "window.postMessage({type: 'im2:height', height: 3000, frame: "
            "document.querySelector('iframe').dataset.im2Frame}, '*')"
        )
        page.wait_for_timeout(200)
        assert _frame_height(page) == before

        # The widget keeps its token: a reload shows this visitor's vote, not a fresh form.
        page.reload()
        page.frame_locator("iframe[data-im2-frame]").locator(".mine").wait_for()
        assert page.frame_locator("iframe[data-im2-frame]").locator("form").count() == 0
        # The identity lives in the brand page's own storage (this Chromium gives a
        # third-party frame no storage), and no third-party cookie was needed for any of it.
        stored = page.evaluate("JSON.stringify(localStorage)")
        assert f"im2:tokens:{live_server.url}" in stored
        assert [c for c in context.cookies() if c["name"] == "im2_device"] == []
        context.close()
    assert problems == []

    with httpx.Client(base_url=live_server.url, headers=owner, timeout=60) as api:
        results = api.get(f"/api/v1/polls/{poll_id}/results").json()
    assert results["voters"] == 2
    assert {o["label"]: o["votes"] for o in results["options"]} == {
        "樱花拿铁": 1,
        "抹茶冷萃": 1,
        "桂花乌龙": 0,
    }

    # A site that is not allowed: the browser refuses to show the page in its frame.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(stranger.origin + "/")
    page.wait_for_selector("iframe[data-im2-frame]", state="attached")
    page.wait_for_timeout(1500)
    frame = page.frame_locator("iframe[data-im2-frame]")
    assert frame.locator("#im2-widget").count() == 0
    # Chromium's own word for it: the framing violates the page's frame-ancestors.
    assert any("blocked" in text and site.origin in text for text in refused), refused
    page.screenshot(path=str(SHOTS / "widget-refused.png"), full_page=True)
    context.close()


def test_a_marketer_allows_a_site_and_copies_the_code(
    browser: Any, live_server: LiveServer, brand: Brand
) -> None:
    campaign = live_server.live_campaign(brand)
    with httpx.Client(base_url=live_server.url, headers=brand.auth(Role.OWNER), timeout=60) as api:
        poll = api.post(f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL).json()
    SHOTS.mkdir(exist_ok=True)
    problems: list[str] = []
    for name, viewport in (("desktop", (1366, 900)), ("phone", (390, 844))):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN"
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        _login(page, live_server, brand.emails[Role.OWNER])
        page.click("nav.mainnav >> text=嵌入")
        page.wait_for_url("**/console/w/acme/embed")
        if name == "desktop":
            page.fill("#origin", "https://www.example.com/shop")
            page.click("text=允许此网站")
            assert (
                page.locator(".field-error, .error, [role=alert]")
                .filter(has_text="不含路径")
                .count()
                >= 1
            )
            assert page.input_value("#origin") == "https://www.example.com/shop"
            page.fill("#origin", "https://www.example.com")
            page.click("text=允许此网站")
            page.wait_for_selector("td >> text=https://www.example.com")
        snippet = page.input_value("#snippet-script")
        assert snippet == (
            f'<script src="{live_server.url}/static/embed.js" data-campaign="{campaign["slug"]}"'
            f' data-activity="{poll["id"]}" async></script>'
        )
        page.locator("button.copy").first.click()
        page.wait_for_selector("text=已复制")
        assert page.evaluate("navigator.clipboard.readText()") == snippet
        page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)
        assert problems == []
        context.close()
