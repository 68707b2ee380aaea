"""How long a page inside WeChat waits for its share card, in process: the first card (which
fetches the access_token and jsapi_ticket from a local WeChat, tests/wechat/conftest.py) and N
cached ones by one phone. Not a benchmark with a target (docs/wechat.md, Figures).

    .venv/bin/python scripts/wechat_card_latency.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from im2.app import create_app
from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Database
from im2.migrations import upgrade
from tests.conftest import make_brand
from tests.test_polls import live_campaign
from tests.wechat import conftest as fake_wechat
from tests.wechat.helpers import phone, save_account


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    server = fake_wechat.wechat.__wrapped__()  # type: ignore[attr-defined]
    fake = next(server)
    url = f"sqlite:///{tempfile.mkdtemp()}/card.db"
    upgrade(url)
    settings = Settings(
        env=Environment.TEST,
        database_url=url,
        run_scheduler=False,
        secret_key="card-latency-secret-key-long-enough-0123456789",  # noqa: S106
        wechat_api_base=fake.url,
        wechat_open_base=fake.url,
    )
    db = Database(url)
    clock = ManualClock(datetime(2026, 3, 2, 2, tzinfo=UTC))
    brand = make_brand(db, slug="acme", now=clock.now())
    app = create_app(settings, db=db, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        slug, _poll, _options = live_campaign(client, brand)
        save_account(client, brand)
        browser = phone(app)
        browser.get(f"/c/{slug}")
        params = {"url": f"http://testserver/c/{slug}"}
        started = time.perf_counter()
        browser.get(f"/c/{slug}/wechat/card", params=params).raise_for_status()
        first = time.perf_counter() - started
        times = []
        for _ in range(n):
            started = time.perf_counter()
            browser.get(f"/c/{slug}/wechat/card", params=params).raise_for_status()
            times.append(time.perf_counter() - started)
    times.sort()
    print(
        f"first card {first * 1000:.0f} ms; cached: median {statistics.median(times) * 1000:.1f}"
        f" ms, p95 {times[int(0.95 * len(times))] * 1000:.1f} ms over {n}; WeChat fetches: "
        f"token {fake.count('/cgi-bin/token')}, ticket {fake.count('/cgi-bin/ticket/getticket')}"
    )


if __name__ == "__main__":
    main()
