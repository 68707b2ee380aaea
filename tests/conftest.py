"""Shared fixtures: a real database (SQLite by default, PostgreSQL when IM2_TEST_DATABASE_URL
names one), a controllable clock, the app, and a workspace with one member of each role."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, make_url, text

from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Database
from im2.i18n import DEFAULT_LOCALE, use_locale
from im2.migrations import all_metadata, upgrade
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 at its cheapest in tests: the suite hashes hundreds of passwords, and what is under
    test is the flow, not the work factor (production keeps argon2-cffi's RFC 9106 defaults)."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from im2.workspaces import _common as service

    original = service._hasher
    service._hasher = PasswordHasher.from_parameters(CHEAPEST)
    yield
    service._hasher = original


@pytest.fixture(autouse=True, scope="session")
def _private_media_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Uploads and demo pictures go to a temporary folder, never into the working tree."""
    from im2.config import get_settings

    previous = os.environ.get("IM2_MEDIA_PATH")
    os.environ["IM2_MEDIA_PATH"] = str(tmp_path_factory.mktemp("media"))
    get_settings.cache_clear()
    yield
    if previous is None:
        os.environ.pop("IM2_MEDIA_PATH", None)
    else:
        os.environ["IM2_MEDIA_PATH"] = previous
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _default_locale() -> Iterator[None]:
    """Every test starts in the default locale: a CLI command run in-process sets the CLI's
    locale on the test thread, which would otherwise leak into whatever test runs next."""
    with use_locale(DEFAULT_LOCALE):
        yield


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("IM2_TEST_DATABASE_URL")
    if url:
        return _worker_database(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'im2-test.db'}"


def _worker_database(url: str) -> str:
    """Under pytest-xdist every worker empties its database after each test, so each worker gets
    its own PostgreSQL database (`<name>_gw0`, …), created on first use next to the named one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = Database(url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def new_postgres_database(base: str, suffix: str) -> str:
    """An empty, migrated PostgreSQL database `<base's name>_<worker>_<suffix>` next to the test
    one (one left over by an earlier run is dropped first), for tests whose server processes
    must see only what they wrote."""
    import psycopg

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = make_url(base)
    name = f"{url.database}_{worker}_{suffix}"
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    fresh = url.set(database=name).render_as_string(hide_password=False)
    upgrade(fresh)
    return fresh


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _database_url(tmp_path_factory)
    if url.startswith("postgresql"):
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.dispose()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def _session_db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


def _wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        tables = [t.name for t in reversed(all_metadata().sorted_tables) if t.name in existing]
        if db.dialect == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our own table names)


def _sqlite_locks_held(db: Database) -> bool | None:
    """Whether this process holds a POSIX lock on the SQLite file (None: not knowable here).

    An idle SQLite connection in WAL mode holds a shared lock on the database file, which tells
    other processes it is still in use. POSIX locks belong to the process, and closing *any*
    descriptor of a file releases all of them (https://sqlite.org/howtocorrupt.html, 2.2). So a
    test that reads the file with plain `open()` while the pool holds connections leaves them
    unlocked. The next other process to open and close the file (the lake's reader, a CLI, a
    server) then believes it was the last user and deletes the WAL. From then on every new
    connection in this process fails with "disk I/O error" (SQLITE_IOERR_SHORT_READ), which once
    broke unrelated tests late in a full run."""
    locks = Path("/proc/locks")
    if db.dialect != "sqlite" or not locks.exists():
        return None
    stat = os.stat(str(db.engine.url.database))
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    pid = str(os.getpid())
    for line in locks.read_text().splitlines():
        fields = line.split()
        if "->" not in fields and len(fields) > 5 and fields[4] == pid and fields[5] == inode:
            return True
    return False


def _lost_locks_file(config: pytest.Config) -> Path:
    folder = config.rootpath / "build"
    folder.mkdir(exist_ok=True)
    return folder / "sqlite-locks-lost.txt"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the main process, not an xdist worker
        _lost_locks_file(session.config).unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The tests after which the process had lost its SQLite lock (the `db` fixture repaired
    each): printed even when every test passed, since the culprit may be a test that did."""
    lost = _lost_locks_file(config)
    if lost.exists():
        terminalreporter.section("SQLite lock lost (the pool was reopened)")
        for line in lost.read_text(encoding="utf-8").splitlines():
            terminalreporter.write_line(
                f"after {line}: see _sqlite_locks_held in tests/conftest.py"
            )


@pytest.fixture
def db(_session_db: Database, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The test database, emptied after each test (the app commits for real, as in production).

    On SQLite, when the process has lost its lock on the file by the end of a test, the run's
    summary names the test and the pool is closed, so that the tests after it start with locked
    connections before any other process can take itself for the file's last user."""
    yield _session_db
    _wipe(_session_db)
    if _sqlite_locks_held(_session_db) is False:
        with _lost_locks_file(request.config).open("a", encoding="utf-8") as lost:
            lost.write(f"{request.node.nodeid}\n")
        _session_db.engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        run_scheduler=False,
        sms_send_at_once=False,  # tests send by running the job (tests/messaging)
        secret_key="test-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
    )


@pytest.fixture
def app(settings: Settings, db: Database, clock: ManualClock) -> FastAPI:
    from im2.app import create_app

    return create_app(settings, db=db, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@dataclass
class Brand:
    """A workspace with one console user and one API token per role."""

    slug: str
    workspace_id: int
    emails: dict[Role, str]
    tokens: dict[Role, str]

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_brand(db: Database, *, slug: str, now: datetime) -> Brand:
    emails: dict[Role, str] = {}
    tokens: dict[Role, str] = {}
    with db.transaction() as session:
        ws = workspaces.do_create_workspace(
            session, slug=slug, name=f"Brand {slug}", timezone="Asia/Shanghai", now=now
        )
        for role in Role:
            email = f"{role.value}@{slug}.example.com"
            user_id = workspaces.do_create_user(
                session, email=email, display_name=role.value.title(), password=PASSWORD, now=now
            )
            workspaces.do_add_member(
                session, actor=None, workspace_id=ws.id, user_id=user_id, role=role, now=now
            )
            emails[role] = email
        system = workspaces.system_actor(session, workspace_slug=slug)
        for role in Role:
            created = workspaces.do_create_token(
                session,
                actor=system,
                name=f"{role.value} token",
                role=role,
                expires_at=None,
                now=now,
            )
            tokens[role] = created.token
    return Brand(slug=slug, workspace_id=ws.id, emails=emails, tokens=tokens)


@pytest.fixture
def brand(db: Database, clock: ManualClock) -> Brand:
    return make_brand(db, slug="acme", now=clock.now())


def campaign_payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "name": "春季樱花投票",
        "slug": "spring-vote",
        "objective": "engagement",
        "timezone": "Asia/Shanghai",
        "starts_at": "2026-03-10T10:00:00",
        "ends_at": "2026-03-20T22:00:00",
        "kpi_targets": [{"metric": "participants", "target_value": 5000}],
        "channels": [{"channel": "weibo", "media": "paid", "budget": 8000}],
    }
    payload.update(overrides)
    return payload


def go_live(http: httpx.Client, brand: Brand, **overrides: object) -> dict[str, Any]:
    """A campaign created and taken live through the HTTP API, as the brand's owner.

    `http` is the in-process `client` or an `httpx.Client` on a live server; `overrides` change
    the campaign payload (it starts on 2026-03-01, before the tests' clock, unless told)."""
    owner = brand.auth(Role.OWNER)
    created = http.post(
        "/api/v1/campaigns",
        json=campaign_payload(**{"starts_at": "2026-03-01T10:00", **overrides}),
        headers=owner,
    )
    assert created.status_code == 201, created.text
    campaign: dict[str, Any] = created.json()
    take_live(http, brand, campaign["id"])
    return campaign


def take_live(http: httpx.Client, brand: Brand, campaign_id: int) -> None:
    """A draft campaign scheduled and then taken live, as the brand's owner."""
    for status in ("scheduled", "live"):
        http.post(
            f"/api/v1/campaigns/{campaign_id}/transitions",
            json={"status": status},
            headers=brand.auth(Role.OWNER),
        ).raise_for_status()


# --- a real server on loopback, for concurrency and browser tests ---------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A port `_free_port` found free can be taken by another xdist worker's server before ours binds
# it. Then `/healthz` on our URL is answered by *that* server, on another database. Uvicorn logs
# this line only after its own bind, so a reply counts only once our log shows it; a process that
# died on a taken port is started again on a new one.
PORT_TAKEN = "address already in use"


def bound_here(log_text: str, url: str) -> bool:
    """True once the `im2 serve` that wrote `log_text` has bound `url` itself."""
    return f"Uvicorn running on {url} " in log_text


@dataclass
class LiveServer:
    url: str
    app: FastAPI

    def live_campaign(self, brand: Brand, **overrides: object) -> dict[str, Any]:
        """A campaign created and taken live through this server's API (see `go_live`)."""
        with httpx.Client(base_url=self.url, timeout=60) as http:
            return go_live(http, brand, **overrides)

    def phone_cookies(self, slug: str) -> dict[str, str]:
        """A new phone's signed device cookie, as its first visit to the campaign page sets it."""
        with httpx.Client(timeout=60) as phone:
            phone.get(f"{self.url}/c/{slug}").raise_for_status()
            return dict(phone.cookies)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    for _ in range(5):  # a port taken by another worker's server first is given up for a new one
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        # `started` is set only after this server's own bind: a reply before it is another's.
        while not server.started and thread.is_alive():
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.05)
        if server.started:
            break
    else:
        raise RuntimeError("the test server found no free port")
    url = f"http://127.0.0.1:{port}"
    yield LiveServer(url=url, app=app)
    server.should_exit = True
    thread.join(timeout=10)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# --- Debian's Chromium through Playwright (no downloaded browsers) --------------------------
# One session-wide browser for every test that asks for it, wherever it lives: two sync
# Playwright instances cannot be alive in one thread.

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    path = Path(__file__).resolve().parents[1] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
