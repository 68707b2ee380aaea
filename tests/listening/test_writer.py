"""MentionWriter: each batch's writes run in a writer thread while the next batch is scored.

The writes are forced onto the thread on SQLite too (`overlap=True`), so both databases run
the concurrent path; what must hold is what holds one batch at a time: nothing twice, groups
across batch boundaries, all or nothing per transaction, the same matches and inbox entries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from im2.db import Database
from im2.listening import bulk
from im2.listening.ingest import BatchResult, MentionWriter, Scored, Scorer, store_mentions
from im2.listening.models import InboxItem, Mention, NearDuplicateBand, Topic, TopicMatch
from im2.listening.schemas import ListeningSettingsRead, MentionIn, Platform, TopicCreate
from im2.listening.topics import do_create_topic
from im2.workspaces import service as workspaces
from tests.conftest import START, Brand, make_brand
from tests.listening.conftest import lexicon_scorer

COMPLAINT = "西门子冰箱门关不上，质量太差了，客服三天都不回复，大家千万别买"
NEAR_COPY = "西门子冰箱门关不上!!质量太差了，客服三天都不回复，大家千万别买啊"
TEXTS = [
    "新买的海尔冰箱很安静，很喜欢",
    "I love my new Siemens fridge, quiet and cold",
    "Worst customer service ever, the fridge broke in a week. Does anyone know a repairman?",
    "今天天气不错，出去走走",
    "西门子洗衣机怎么清洗滤网？",
    "海尔的售后真垃圾，我要退货",
]


def posts(n: int, *, offset: int = 0) -> list[MentionIn]:
    return [
        MentionIn(
            platform=Platform.WEIBO if i % 3 else Platform.TWITTER,
            post_id=str(offset + i),
            text=f"{TEXTS[i % len(TEXTS)]} #{offset + i}",
            author=f"user{i % 7}",
            author_followers=(i * 7919) % 200_000,
            posted_at=START - timedelta(hours=i % 300),
        )
        for i in range(n)
    ]


def with_topics(db: Database, brand: Brand) -> None:
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
        for name, query in (
            ("西门子", "西门子 OR siemens"),
            ("海尔", "海尔 OR haier"),
            ("差评", "(冰箱 OR fridge) AND (差 OR worst OR 垃圾)"),
        ):
            do_create_topic(
                session, actor=actor, data=TopicCreate(name=name, query=query), now=START
            )


@pytest.fixture
def slow_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each insert takes a while, as on a busy server: the next batch is then scored before
    the lookups that would tell which of its posts are new (the speculative path)."""
    write_rows = bulk.write_rows

    def slow(*args: Any) -> None:
        time.sleep(0.02)
        write_rows(*args)

    monkeypatch.setattr(bulk, "write_rows", slow)


def import_overlapped(
    db: Database,
    brand: Brand,
    batches: Sequence[Sequence[MentionIn]],
    scorer: Scorer | None = None,
) -> list[BatchResult]:
    with (
        db.transaction() as session,
        MentionWriter(
            session,
            workspace_id=brand.workspace_id,
            settings=ListeningSettingsRead(vip_followers=150_000),
            now=START,
            scorer=scorer,
            overlap=True,
        ) as writer,
    ):
        return [writer.add(batch) for batch in batches]


def stored(db: Database, brand: Brand) -> dict[str, Any]:
    """What a user sees of the workspace's mentions, by post id (groups by their leader)."""
    with db.session() as session:
        rows = session.execute(
            select(
                Mention.id,
                Mention.post_id,
                Mention.sentiment,
                Mention.language,
                Mention.duplicate_group,
            ).where(Mention.workspace_id == brand.workspace_id)
        ).all()
        post_of = {row.id: row.post_id for row in rows}
        topics = session.execute(
            select(TopicMatch.mention_id, Topic.name).join(Topic, Topic.id == TopicMatch.topic_id)
        ).all()
        inbox = session.execute(
            select(InboxItem.mention_id, InboxItem.reasons, InboxItem.priority).where(
                InboxItem.workspace_id == brand.workspace_id
            )
        ).all()
        bands = session.scalar(
            select(func.count())
            .select_from(NearDuplicateBand)
            .where(NearDuplicateBand.workspace_id == brand.workspace_id)
        )
    return {
        "mentions": {
            row.post_id: (
                row.sentiment,
                row.language,
                post_of.get(row.duplicate_group) if row.duplicate_group else None,
            )
            for row in rows
        },
        "topics": sorted((post_of[m], name) for m, name in topics if m in post_of),
        "inbox": sorted((post_of[m], tuple(r), p) for m, r, p in inbox if m in post_of),
        "bands": bands,
    }


@pytest.mark.usefixtures("slow_writes")
def test_overlapped_batches_store_what_one_batch_at_a_time_stores(
    db: Database, brand: Brand
) -> None:
    other = make_brand(db, slug="other", now=START)
    with_topics(db, brand)
    with_topics(db, other)
    data = posts(300)
    data[250] = data[250].model_copy(update={"text": COMPLAINT})
    for first in range(0, 300, 50):
        with db.transaction() as session:
            store_mentions(
                session,
                workspace_id=other.workspace_id,
                mentions=data[first : first + 50],
                settings=ListeningSettingsRead(vip_followers=150_000),
                now=START,
            )

    results = import_overlapped(db, brand, [data[i : i + 50] for i in range(0, 300, 50)])

    assert [r.imported for r in results] == [50] * 6
    mine, theirs = stored(db, brand), stored(db, other)
    assert len(mine["mentions"]) == 300
    assert mine["topics"]
    assert mine["inbox"]
    assert mine == theirs


@pytest.mark.usefixtures("slow_writes")
def test_a_near_copy_groups_with_the_batch_just_before_it(db: Database, brand: Brand) -> None:
    # Batch 2 is scored while batch 1 is still being written: it must still find batch 1's
    # band keys (a near copy) and fingerprint (an exact repost).
    first = [
        *posts(40),
        MentionIn(platform=Platform.WEIBO, post_id="a", text=COMPLAINT, posted_at=START),
    ]
    second = [
        *posts(40, offset=100),
        MentionIn(platform=Platform.WEIBO, post_id="b", text=NEAR_COPY, posted_at=START),
        MentionIn(
            platform=Platform.TWITTER, post_id="c", text=f"RT @小李: {COMPLAINT}", posted_at=START
        ),
    ]

    import_overlapped(db, brand, [first, second])

    mentions = stored(db, brand)["mentions"]
    assert mentions["b"][2] == "a"
    assert mentions["c"][2] == "a"
    assert mentions["a"][2] is None


@pytest.mark.usefixtures("slow_writes")
def test_importing_again_adds_nothing(db: Database, brand: Brand) -> None:
    with_topics(db, brand)
    batches = [posts(60, offset=i * 60) for i in range(4)]
    import_overlapped(db, brand, batches)
    before = stored(db, brand)

    # Once more; then new posts, and a batch of known and new posts mixed, scored while the
    # one before it is still being written (before it is known which of its posts are new).
    again = import_overlapped(db, brand, batches)
    mixed_batch = [*posts(30, offset=30), *posts(30, offset=2000)]
    mixed = import_overlapped(db, brand, [posts(60, offset=1000), mixed_batch])

    assert [(r.imported, r.duplicates) for r in again] == [(0, 60)] * 4
    assert [(r.imported, r.duplicates) for r in mixed] == [(60, 0), (30, 30)]
    after = stored(db, brand)
    assert len(after["mentions"]) == 330
    assert {k: v for k, v in after["mentions"].items() if int(k) < 1000} == before["mentions"]
    for m, (label, _conf, language) in zip(
        mixed_batch[30:], lexicon_scorer([m.text for m in mixed_batch[30:]]), strict=True
    ):
        assert after["mentions"][m.post_id][:2] == (label and label.value, language)


def count(db: Database, brand: Brand) -> tuple[int, int, int, int]:
    with db.session() as session:

        def rows(model: Any, where: Any) -> int:
            return session.scalar(select(func.count()).select_from(model).where(where)) or 0

        return (
            rows(Mention, Mention.workspace_id == brand.workspace_id),
            rows(NearDuplicateBand, NearDuplicateBand.workspace_id == brand.workspace_id),
            rows(TopicMatch, TopicMatch.topic_id.in_(select(Topic.id))),
            rows(InboxItem, InboxItem.workspace_id == brand.workspace_id),
        )


def test_a_write_failing_after_earlier_batches_were_written_leaves_nothing(
    db: Database, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_topics(db, brand)
    write_rows = bulk.write_rows
    mention_writes = []

    def failing_second_batch(driver: Any, dialect: str, table: Any, *args: Any) -> None:
        write_rows(driver, dialect, table, *args)  # the rows reach the database, then it fails
        if table.name == "listening_mentions":
            mention_writes.append(1)
            if len(mention_writes) == 2:
                raise RuntimeError("connection lost")

    monkeypatch.setattr(bulk, "write_rows", failing_second_batch)

    with pytest.raises(RuntimeError, match="connection lost"):
        import_overlapped(db, brand, [posts(50, offset=i * 50) for i in range(4)])

    assert len(mention_writes) == 2
    assert count(db, brand) == (0, 0, 0, 0)
    monkeypatch.setattr(bulk, "write_rows", write_rows)
    # The same batches import whole afterwards.
    import_overlapped(db, brand, [posts(50, offset=i * 50) for i in range(4)])
    assert count(db, brand)[0] == 200


@pytest.mark.usefixtures("slow_writes")
def test_scoring_failing_while_a_batch_is_being_written_leaves_nothing(
    db: Database, brand: Brand
) -> None:
    calls = []

    def scorer(texts: Sequence[str]) -> list[Scored]:
        calls.append(len(texts))
        if len(calls) == 3:
            raise ValueError("model crashed")
        return lexicon_scorer(texts)

    with pytest.raises(ValueError, match="model crashed"):
        import_overlapped(db, brand, [posts(50, offset=i * 50) for i in range(4)], scorer)

    assert count(db, brand) == (0, 0, 0, 0)
