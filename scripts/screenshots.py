"""Screenshots of every console page and every public page of the demo, phone and desktop.

    python scripts/screenshots.py [--out build/screenshots] [--url http://127.0.0.1:8000]

Without --url it loads the demo into a fresh SQLite file under the output folder, serves it on
a free port and stops it at the end. It signs in as the demo owner, follows every console link
from the campaign list (ids folded: at most a few pages of each shape, downloads and sign-out
skipped) and every public link those pages show, and saves each page at 390×844 and 1366×900
(full page) as ``<out>/<phone|desktop>/<NNN>-<path>.png``. ``<out>/index.json`` lists the pages
with what a person should look at first: a page wider than the screen, a raw UTC timestamp, an
English sentence in the Chinese UI, a raw event key, a big number without separators or
half-width punctuation between Chinese characters. Needs Chromium at /usr/bin/chromium
(scripts/system-deps).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

from im2.demo import DEMO_PASSWORD, DEMO_USERS, DEMO_WORKSPACE
from im2.web.context import PUBLIC_LANG_COOKIE

SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
PER_SHAPE = 2  # pages kept per path shape (/campaigns/N/polls/N ...)
MAX_PAGES = 260
SKIP = re.compile(
    r"(\.(csv|xlsx|parquet|pdf|png|svg|jpg|json|zip)$)|/export|/stream|/data$|/logout|/download"
    r"|/api/|/static/|/media/|/qr|/poster|/s/|/report\.html$|^/console/lang/"
)
UNFOLDED = re.compile(r"^/console/w/[^/]+/campaigns/\d+(/activities)?$|^/c/[^/]+$")
RAW_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
ENGLISH = re.compile(r"\b[A-Z][a-z]+(?: [a-z]+){3,}")
# An event or audit key shown as it is stored (vote.cast, campaign.status).
RAW_KEY = re.compile(
    r"\b(?:campaign|activity|vote|share|participant|quiz|survey|ugc|question|checkin|draw"
    r"|groupbuy|comment|like|poster|referral|coupon|prize|conversion|points)\.[a-z_]{3,}\b"
)
# A big number without thousands separators (ids and codes are mostly letters and digits).
BARE_NUMBER = re.compile(r"(?<![\w.,:/#-])\d{5,}(?![\w.,:%/-])")
HALF_WIDTH = re.compile(r"[\u3400-\u9fff][,:;?!][\u3400-\u9fff]")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(out: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    db = out / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(out / "lake", ignore_errors=True)
    env = {
        **os.environ,
        "IM2_DATABASE_URL": f"sqlite:///{db}",
        # Its own lake and media: the defaults are relative to the working folder.
        "IM2_LAKE_PATH": str(out / "lake"),
        "IM2_MEDIA_PATH": str(out / "media"),
    }
    log = (out / "server.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 (our own command line)
        [str(Path(sys.executable).parent / "im2"), "demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the demo server stopped; see {out / 'server.log'}")
        try:
            if httpx.get(f"{url}/console/login", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    server.terminate()
    raise SystemExit("the demo server did not answer within 15 minutes")


def _shape(path: str) -> str:
    """The page's shape, ids (and public slugs) folded; each campaign's console page, its
    activity list and its public page are kept, so every campaign's activities are reached."""
    if UNFOLDED.match(path):
        return path
    return re.sub(r"/\d+", "/N", re.sub(r"^/c/[^/]+", "/c/S", path))


def _name(index: int, path: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path.strip("/"))[:90].strip("-") or "home"
    return f"{index:03d}-{slug}.png"


def _links(page: Page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    found = []
    host = urlsplit(base).netloc
    for href in hrefs:
        if not href or href.startswith(("#", "mailto:", "javascript:")):
            continue
        absolute = urljoin(page.url, href)
        parts = urlsplit(absolute)
        # Public links may name the configured public address: follow them on this server.
        if parts.netloc != host and not parts.path.startswith("/c/"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith(("/console/", "/c/")) and not SKIP.search(parts.path):
            found.append(path)
    return found


def _login(page: Page, url: str) -> None:
    page.goto(f"{url}/console/login")
    page.fill("#email", DEMO_USERS[0][0])
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/console/w/{DEMO_WORKSPACE}/**")


def _crawl(page: Page, url: str) -> list[str]:
    start = f"/console/w/{DEMO_WORKSPACE}/campaigns"
    queue, seen, shapes = [start], {start}, Counter[str]()
    pages: list[str] = []
    while queue and len(pages) < MAX_PAGES:
        path = queue.pop(0)
        shape = _shape(urlsplit(path).path)
        if shapes[shape] >= PER_SHAPE:
            continue
        try:
            response = page.goto(url + path)
        except PlaywrightError:  # a download (an export the pattern above did not name)
            continue
        if response is None or response.status >= 400:
            continue
        shapes[shape] += 1
        pages.append(path)
        for link in _links(page, url):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return pages


def _check(page: Page) -> list[str]:
    problems = []
    english_page = "locale=en" in page.url  # the English report is English on purpose
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"):
        problems.append("wider than the screen")
    text = page.inner_text("body")
    if RAW_TIME.search(text):
        problems.append(f"raw timestamp: {RAW_TIME.search(text)[0]}")  # type: ignore[index]
    for label, pattern in (
        ("English", ENGLISH),
        ("raw key", RAW_KEY),
        ("number without separators", BARE_NUMBER),
        ("half-width punctuation", HALF_WIDTH),
    ):
        found = pattern.search(text)
        if found and not (english_page and pattern is ENGLISH):
            problems.append(f"{label}: {found[0]}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/screenshots")
    parser.add_argument("--url", help="a running server with the demo data (default: start one)")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    server = None
    url = args.url.rstrip("/") if args.url else None
    if url is None:
        server, url = _serve(out)
    index: list[dict[str, object]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            crawler = context.new_page()
            _login(crawler, url)
            paths = _crawl(crawler, url)
            for size, (width, height) in SIZES.items():
                (out / size).mkdir(exist_ok=True)
                crawler.set_viewport_size({"width": width, "height": height})
                for number, path in enumerate(paths, start=1):
                    # A switcher link (?lang=zh-TW) remembers its choice in a cookie: each page
                    # is shot in the language the browser asks for, unless its own link says.
                    context.clear_cookies(name=PUBLIC_LANG_COOKIE)
                    crawler.goto(url + path)
                    crawler.wait_for_load_state("networkidle")
                    file = out / size / _name(number, path)
                    crawler.screenshot(path=str(file), full_page=True)
                    index.append(
                        {
                            "size": size,
                            "path": path,
                            "file": str(file.relative_to(out)),
                            "problems": _check(crawler),
                        }
                    )
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    (out / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1))
    flagged = [row for row in index if row["problems"]]
    print(f"{len(index)} screenshots in {out}; {len(flagged)} to look at first (index.json)")
    for row in flagged:
        problems = row["problems"]
        assert isinstance(problems, list)
        print(f"  {row['size']:7} {row['path']}: {'; '.join(str(p) for p in problems)}")


if __name__ == "__main__":
    main()
