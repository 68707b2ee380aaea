"""One refresh across processes: four processes ask for the jsapi_ticket at the same moment,
while WeChat takes half a second to answer; WeChat sees one token fetch and one ticket fetch,
with the tokens held in the database (the lease row) and in Redis (SET NX)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from im2.db import Database
from tests.conftest import Brand
from tests.test_multiprocess import redis_url  # noqa: F401 (a fixture: redis-server on loopback)
from tests.wechat.conftest import APP_ID, APP_SECRET, FakeWechat

PROCESSES = 4
SCRIPT = """
import sys, time
from datetime import UTC, datetime
from im2.db import Database
from im2.wechat import service, tokens
from im2.wechat.schemas import Credentials

url, redis_url, api_base, workspace_id, app_id, secret, start = sys.argv[1:8]
db = Database(url)
store = tokens.store_for(db, redis_url or None)
creds = Credentials(workspace_id=int(workspace_id), app_id=app_id, app_secret=secret,
                    ask_userinfo=False)
time.sleep(max(0.0, float(start) - time.time()))
print(service.jsapi_ticket(store, creds, api_base=api_base, now=lambda: datetime.now(UTC)))
"""


def _race(db: Database, brand: Brand, wechat: FakeWechat, redis: str) -> list[str]:
    wechat.delay = 0.5
    start = time.time() + 8  # every process imported and waiting by then, on two busy cores
    env = {**os.environ, "IM2_SECRET_KEY": "wechat-process-test-secret-0123456789abcdef"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SCRIPT,
                db.url,
                redis,
                wechat.url,
                str(brand.workspace_id),
                APP_ID,
                APP_SECRET,
                str(start),
            ],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-2000:]
        out.append(stdout.strip())
    return out


def test_processes_share_one_refresh_through_the_database(
    db: Database, brand: Brand, wechat: FakeWechat
) -> None:
    tickets = _race(db, brand, wechat, "")
    assert tickets == [tickets[0]] * PROCESSES
    assert tickets[0] == "JSAPI-TICKET-0001"
    assert wechat.count("/cgi-bin/token") == 1
    assert wechat.count("/cgi-bin/ticket/getticket") == 1


def test_processes_share_one_refresh_through_redis(
    db: Database,
    brand: Brand,
    wechat: FakeWechat,
    redis_url: str,  # noqa: F811
) -> None:
    tickets = _race(db, brand, wechat, redis_url)
    assert tickets == [tickets[0]] * PROCESSES
    assert wechat.count("/cgi-bin/token") == 1
    assert wechat.count("/cgi-bin/ticket/getticket") == 1


@pytest.fixture(autouse=True)
def _no_redis_keys_left(redis_url: str) -> None:  # noqa: F811
    """Each test starts with no token in Redis (workspace ids repeat between tests)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("im2:wechat:*"):
        client.delete(key)
    client.close()
