"""A mentions file import commits batch by batch: other writers take turns with it, its record
shows the progress, and a crashed import of the same file resumes with every row once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from im2.db import Database
from im2.listening import importers, imports, service
from im2.listening.models import Mention, MentionImport
from im2.listening.schemas import ListeningSettingsIn
from im2.workspaces import service as workspaces
from tests.conftest import Brand

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
BATCH = 200
ROWS = 1_000  # five batches


def _file(rows: int = ROWS) -> bytes:
    lines = ["id,微博正文,用户昵称,粉丝数,发布时间,点赞数,转发数,评论数"]
    lines += [
        f"p{i},第{i}条：冰箱门关不上 {i * 7919 % 100_003},用户{i % 13},{i},2026-03-02 09:00,0,0,0"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "BATCH", BATCH)


def _import(db: Database, brand: Brand, data: bytes) -> Any:
    with db.session() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
    return service.do_import_file(
        db, actor=actor, filename="big.csv", data=data, mapping="weibo", now=NOW
    )


def _wrap_reader(monkeypatch: pytest.MonkeyPatch, hook: Any) -> None:
    """The file reader with `hook(n)` called before the n-th row (0-based) is handed over."""
    read = importers.read_mentions

    def reader(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for n, row in enumerate(read(*args, **kwargs)):
            hook(n)
            yield row

    monkeypatch.setattr(imports, "read_mentions", reader)


def _stored(db: Database, brand: Brand) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Mention.post_id).where(Mention.workspace_id == brand.workspace_id)
            )
        )


def test_another_write_commits_while_an_import_is_running(
    db: Database, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    paused = threading.Event()
    resume = threading.Event()

    def hook(n: int) -> None:
        if n == 2 * BATCH:  # two batches committed, the third not begun
            paused.set()
            assert resume.wait(120), "the other write never came through"

    _wrap_reader(monkeypatch, hook)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["report"] = _import(db, brand, _file())
        except BaseException as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    importer = threading.Thread(target=run)
    importer.start()
    try:
        assert paused.wait(120), "the import never reached its third batch"
        # Another writer (an editor changing the listening settings) in the middle of it.
        with db.transaction() as session:
            actor = workspaces.system_actor(session, workspace_slug=brand.slug)
            service.do_update_settings(
                session, actor=actor, data=ListeningSettingsIn(vip_followers=777), now=NOW
            )
        # The import's progress, as another reader sees it: two batches in, still running.
        with db.session() as session:
            record = session.scalars(select(MentionImport)).one()
            assert (record.status, record.rows, record.imported) == ("running", 400, 400)
        assert importer.is_alive()
    finally:
        resume.set()
        importer.join(300)
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert (report.rows, report.imported, report.duplicates) == (ROWS, ROWS, 0)
    with db.session() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
        assert service.get_settings(session, actor=actor).vip_followers == 777
        record = session.get_one(MentionImport, report.id)
        assert (record.status, record.finished_at is not None) == ("done", True)


def test_a_crashed_import_resumes_with_every_row_once(
    db: Database, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _file()

    def crash(n: int) -> None:
        if n == 2 * BATCH + 50:  # mid-way through the third batch
            raise RuntimeError("the server was killed")

    with monkeypatch.context() as patch:
        _wrap_reader(patch, crash)
        with pytest.raises(RuntimeError):
            _import(db, brand, data)
    # The first two batches stayed; the half-read third left nothing behind.
    assert len(_stored(db, brand)) == 2 * BATCH
    with db.session() as session:
        record = session.scalars(select(MentionImport)).one()
        assert (record.status, record.rows) == ("failed", 2 * BATCH)
        first_id = record.id

    report = _import(db, brand, data)
    stored = _stored(db, brand)
    assert sorted(stored) == sorted(f"p{i}" for i in range(ROWS))
    # The same import record carried on: every row read once, none counted as a duplicate.
    assert (report.id, report.rows, report.imported, report.duplicates) == (
        first_id,
        ROWS,
        ROWS,
        0,
    )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(MentionImport)) == 1
    # A finished import of the same file is a new import: every row a duplicate.
    again = _import(db, brand, data)
    assert (again.id != report.id, again.imported, again.duplicates) == (True, 0, ROWS)
    assert len(_stored(db, brand)) == ROWS
