"""The lake on S3-compatible object storage (IM2_LAKE_URL): the same lake tests as on a folder,
against moto's S3 server started for real on loopback and spoken to over HTTP by pyarrow's S3
filesystem (and by DuckDB through it).

Move, a second move, a crash between the files and the mark, a mover killed with SIGKILL (as
`im2 analytics move` configured by IM2_LAKE_URL), retention, every dashboard metric against
the raw events, and an erasure's rewrite, also killed with SIGKILL in the middle of an upload.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from sqlalchemy import insert, select

from im2.analytics import lake_fs
from im2.analytics.lake import get_mark, lake_files, move_events_to_lake, read_lake, write_batch
from im2.analytics.query import committed_files
from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.events.models import Event
from im2.events.schemas import ActorType, EventKind
from im2.events.service import EVENT_ARROW_SCHEMA
from im2.privacy.erasures.models import Erasure
from im2.privacy.lake_rewrite import rewrite_pending
from tests.analytics.test_lake import _db_rows, _seed
from tests.analytics.test_lake_crash import _im2
from tests.analytics.test_rollup import (
    EVENTS,
    FIRST_MOVE,
    WINDOWS,
    _rows,
    _same,
    answers,
    events,  # noqa: F401 (the module's fixture, used by name)
    expected,
)
from tests.conftest import Brand, repo_root
from tests.privacy.test_lake_rewrite_crash import NEW, VICTIM, _others
from tests.privacy.test_lake_rewrite_crash import _seed as _seed_victim

KEY, SECRET, REGION = "im2-test-key", "im2-test-secret", "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_options(s3_endpoint: str) -> lake_fs.S3Options:
    return lake_fs.S3Options(endpoint=s3_endpoint, region=REGION, access_key=KEY, secret_key=SECRET)


@pytest.fixture
def lake_url(s3_options: lake_fs.S3Options) -> str:
    bucket = f"im2-lake-{uuid.uuid4().hex[:12]}"
    # The operator creates the bucket; IM2 never does.
    host = (s3_options.endpoint or "").removeprefix("http://")
    admin = pafs.S3FileSystem(
        access_key=KEY,
        secret_key=SECRET,
        region=REGION,
        endpoint_override=host,
        scheme="http",
        allow_bucket_creation=True,
    )
    admin.create_dir(bucket)
    return f"s3://{bucket}/prod/im2"


@pytest.fixture
def lake_path(tmp_path: Path, lake_url: str, s3_options: lake_fs.S3Options) -> Iterator[Path]:
    """A lake named by a folder whose files live in a fresh bucket."""
    path = tmp_path / "lake"
    lake_fs.mount(path, lake_url, s3_options)
    yield path
    lake_fs.unmount(path)
    assert not path.exists(), "an object lake wrote to its local folder"


def _keys(lake_url: str, options: lake_fs.S3Options) -> list[str]:
    """Every object under the lake's prefix, as the bucket lists them (not through lake.py)."""
    root = lake_url.removeprefix("s3://")
    infos = lake_fs.s3_filesystem(options).get_file_info(
        pafs.FileSelector(root, recursive=True, allow_not_found=True)
    )
    return sorted(i.path.removeprefix(root + "/") for i in infos if i.type == pafs.FileType.File)


def _lake_ids(lake_url: str, options: lake_fs.S3Options) -> list[int]:
    """Every event id in every part object, read straight from the bucket."""
    fs = lake_fs.s3_filesystem(options)
    root = lake_url.removeprefix("s3://")
    ids: list[int] = []
    for key in _keys(lake_url, options):
        if key.endswith(".parquet"):
            ids += pq.read_table(f"{root}/{key}", filesystem=fs).column("id").to_pylist()
    return sorted(ids)


def test_moves_every_event_into_daily_hive_partitions_in_the_bucket(
    db: Database,
    lake_path: Path,
    lake_url: str,
    s3_options: lake_fs.S3Options,
    clock: ManualClock,
) -> None:
    _seed(db, 250)

    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)

    assert result.moved == 250
    assert result.batches == 3
    keys = _keys(lake_url, s3_options)
    days = sorted({k.split("/")[1] for k in keys})
    assert days == ["date=2026-02-26", "date=2026-02-27", "date=2026-02-28"]
    assert all(k.startswith("events/date=") and k.endswith(".parquet") for k in keys)
    assert _lake_ids(lake_url, s3_options) == [r[0] for r in _db_rows(db)]
    table = read_lake(lake_path, mark=result.last_id).sort_by("id")
    first = table.slice(0, 1).to_pylist()[0]
    assert first["kind"] == "vote.cast"
    assert str(first["date"]) == "2026-02-26"
    with db.session() as session:
        assert get_mark(session) == max(r[0] for r in _db_rows(db))


def test_a_second_run_moves_only_new_events(
    db: Database,
    lake_path: Path,
    lake_url: str,
    s3_options: lake_fs.S3Options,
    clock: ManualClock,
) -> None:
    _seed(db, 40)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)
    assert move_events_to_lake(db, lake_path=lake_path, now=clock.now()).moved == 0

    _seed(db, 15, start_index=40)
    again = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)

    assert again.moved == 15
    assert _lake_ids(lake_url, s3_options) == [r[0] for r in _db_rows(db)]


class Crash(RuntimeError):
    pass


def test_a_crash_between_objects_and_mark_neither_loses_nor_duplicates(
    db: Database,
    lake_path: Path,
    lake_url: str,
    s3_options: lake_fs.S3Options,
    clock: ManualClock,
) -> None:
    _seed(db, 120)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=50, max_batches=1)

    def crash(_files: object) -> None:
        raise Crash("power cut")

    with pytest.raises(Crash):
        move_events_to_lake(
            db, lake_path=lake_path, now=clock.now(), batch_size=50, after_write=crash
        )
    with db.session() as session:
        mark = get_mark(session)
    # The crashed batch's objects are in the bucket, yet no reader counts them.
    assert any(first > mark for _f, first, _l in lake_files(lake_path))
    assert read_lake(lake_path, mark=mark).num_rows == 50
    assert len(committed_files(lake_path, mark=mark)) < len(lake_files(lake_path))

    _seed(db, 7, start_index=120)
    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=1000)

    assert result.removed_orphans >= 1
    assert _lake_ids(lake_url, s3_options) == [r[0] for r in _db_rows(db)]


def _env(
    db: Database, lake_path: Path, lake_url: str, options: lake_fs.S3Options
) -> dict[str, str]:
    """A child process configured as an operator would: by IM2_LAKE_URL and its settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IM2_")}
    env.update(
        IM2_ENV="test",
        IM2_DATABASE_URL=db.url,
        IM2_LAKE_PATH=str(lake_path),
        IM2_LAKE_URL=lake_url,
        IM2_LAKE_S3_ENDPOINT=options.endpoint or "",
        IM2_LAKE_S3_REGION=REGION,
        IM2_LAKE_S3_ACCESS_KEY=KEY,
        IM2_LAKE_S3_SECRET_KEY=SECRET,
        PYTHONPATH=str(repo_root()),
    )
    return env


def _seed_many(db: Database, n: int) -> list[int]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=4, hours=1)
    rows = [
        {
            "occurred_at": start + timedelta(days=4) / n * i,
            "workspace_id": 1,
            "campaign_id": 1 + i % 3,
            "activity_id": None,
            "actor_type": ActorType.PARTICIPANT.value,
            "actor_id": f"p{i % 997}",
            "kind": EventKind.VOTE_CAST.value,
            "channel": "wechat" if i % 2 else None,
            "referrer": None,
            "properties": {"option": i % 4, "text": "樱花"},
        }
        for i in range(n)
    ]
    with db.engine.begin() as conn:
        conn.execute(insert(Event), rows)
    with db.session() as session:
        return list(session.scalars(select(Event.id).order_by(Event.id)))


def test_im2_analytics_move_killed_midway_resumes_to_an_exact_copy_in_the_bucket(
    db: Database,
    lake_path: Path,
    lake_url: str,
    s3_options: lake_fs.S3Options,
    tmp_path: Path,
) -> None:
    source = _seed_many(db, 12_000)
    env = _env(db, lake_path, lake_url, s3_options)
    im2 = _im2()
    log = tmp_path / "move.log"

    with log.open("ab") as err:
        mover = subprocess.Popen(
            [*im2, "analytics", "move", "--batch-size", "500"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while len(lake_files(lake_path)) < 6:
            assert mover.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no object after 120 s: " + log.read_text()
            time.sleep(0.005)
    finally:
        os.killpg(mover.pid, signal.SIGKILL)
        mover.wait(timeout=30)
    assert mover.returncode == -signal.SIGKILL
    with db.session() as session:
        assert get_mark(session) < source[-1], "the move had finished before the kill"

    resumed = subprocess.run(
        [*im2, "analytics", "move"], env=env, cwd=tmp_path, capture_output=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr.decode()

    with db.session() as session:
        assert get_mark(session) == source[-1]
    assert _lake_ids(lake_url, s3_options) == source  # every event, each once
    assert not any(k.startswith(".") or "/." in k for k in _keys(lake_url, s3_options))


def test_retention_deletes_only_old_rows_already_in_the_bucket(
    db: Database,
    lake_path: Path,
    lake_url: str,
    s3_options: lake_fs.S3Options,
    clock: ManualClock,
) -> None:
    _seed(db, 300)
    result = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), retention_days=3)

    assert result.deleted_from_db > 0
    assert len(_db_rows(db)) == 300 - result.deleted_from_db
    assert len(_lake_ids(lake_url, s3_options)) == 300


@pytest.mark.parametrize("window", ["whole days", "mid-day", "one channel"])
def test_every_dashboard_number_from_the_bucket_is_the_raw_events_answer(
    events: pa.Table,  # noqa: F811 (the imported fixture)
    lake_path: Path,
    window: str,
) -> None:
    filters = WINDOWS[window]
    empty = EVENT_ARROW_SCHEMA.empty_table()
    write_batch(lake_path, _rows(events, 0, FIRST_MOVE))
    assert all(str(f).startswith("s3://") for f, _a, _b in lake_files(lake_path))

    # The lake of the first move plus the rest as the database's tail; then the lake alone.
    _same(
        answers(lake_path, FIRST_MOVE, _rows(events, FIRST_MOVE, EVENTS), filters),
        expected(events, filters),
    )
    write_batch(lake_path, _rows(events, FIRST_MOVE, EVENTS))
    _same(answers(lake_path, EVENTS, empty, filters), expected(events, filters))


_KILLED_REWRITE = """
import sys, time
from pathlib import Path
from datetime import datetime
from im2.analytics import lake_fs
from im2.db import Database
from im2.privacy import lake_rewrite

real = lake_fs.ObjectLake.put_bytes
def half(self, uri, data):
    # The upload starts and stops in the middle: the kill comes before it completes.
    stream = self.fs.open_output_stream(self.key(uri))
    stream.write(bytes(data)[: len(data) // 2])
    stream.flush()
    print("stalled", flush=True)
    time.sleep(60)
lake_fs.ObjectLake.put_bytes = half

db = Database(sys.argv[1])
lake_rewrite.rewrite_pending(db, lake_path=Path(sys.argv[2]),
                             now=datetime.fromisoformat(sys.argv[3]))
"""


def _lake_rows(lake_path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    lake = lake_fs.object_lake_of(lake_path)
    assert lake is not None
    for file, _first, _last in sorted(lake_files(lake_path), key=lambda f: str(f[0])):
        rows.extend(lake.read_table(str(file)).to_pylist())  # every visible object reads whole
    return rows


def test_an_erasure_rewrites_the_bucket_and_a_kill_mid_upload_loses_nothing(
    db: Database,
    brand: Brand,
    clock: ManualClock,
    lake_path: Path,
    lake_url: str,
    s3_options: lake_fs.S3Options,
) -> None:
    _seed_victim(db, brand, clock, lake_path)
    before = _lake_rows(lake_path)
    assert sum(r["actor_id"] == VICTIM for r in before) > 0

    env = _env(db, lake_path, lake_url, s3_options)
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_REWRITE, db.url, str(lake_path), clock.now().isoformat()],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "stalled"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    # The half-sent upload never became an object: every object reads whole, nothing lost.
    crashed = _lake_rows(lake_path)
    assert crashed == before
    with db.session() as session:
        assert session.scalar(select(Erasure.lake_pending)) is not None

    result = rewrite_pending(db, lake_path=lake_path, now=clock.now())
    after = _lake_rows(lake_path)
    assert result.erasures == 1
    assert result.files == 2  # the victim's two days
    assert _others(after) == _others(before)
    assert len(after) == len(before)
    assert VICTIM not in {r["actor_id"] for r in after}
    assert sum(r["actor_id"] == NEW for r in after) == sum(r["actor_id"] == VICTIM for r in before)
    with db.session() as session:
        assert session.scalar(select(Erasure.lake_pending)) is None
    assert rewrite_pending(db, lake_path=lake_path, now=clock.now()).files == 0


def test_the_settings_name_the_lake_url_and_put_the_lake_in_the_bucket(
    tmp_path: Path, s3_options: lake_fs.S3Options, lake_url: str
) -> None:
    with pytest.raises(ValidationError, match="IM2_LAKE_URL"):
        Settings(lake_url="/srv/lake")
    with pytest.raises(ValidationError, match="IM2_LAKE_S3_SECRET_KEY"):
        Settings(lake_url=lake_url, lake_s3_access_key="only-one")

    settings = Settings(
        lake_path=tmp_path / "lake",
        lake_url=lake_url + "/",
        lake_s3_endpoint=s3_options.endpoint,
        lake_s3_region=REGION,
        lake_s3_access_key=KEY,
        lake_s3_secret_key=SECRET,
    )
    lake = lake_fs.from_settings(settings)
    assert lake is not None
    assert lake.root == lake_url.removeprefix("s3://")
    assert lake_fs.from_settings(Settings(lake_path=tmp_path / "lake")) is None


def test_a_persons_export_reads_their_events_from_the_bucket(
    db: Database, lake_path: Path, clock: ManualClock
) -> None:
    from im2.privacy.inventory import events_of_actors

    _seed(db, 74)  # actors p0..p36, two events each
    move_events_to_lake(db, lake_path=lake_path, now=clock.now())
    _seed(db, 37, start_index=74)  # one more each, still in the database

    with db.session() as session:
        found = events_of_actors(session, workspace_id=1, actor_ids=["p5"], lake_path=lake_path)
        want = [r[0] for r in _db_rows(db) if r[2] == "p5"]

    assert sorted(found.column("id").to_pylist()) == want
    assert len(want) == 3


def test_an_outside_engine_reads_the_bucket_as_a_hive_partitioned_dataset(
    db: Database,
    lake_path: Path,
    lake_url: str,
    s3_options: lake_fs.S3Options,
    clock: ManualClock,
) -> None:
    """docs/deploy.md's recipe for ClickHouse, Trino or Spark, as those engines read it: the
    prefix's `events/` as Hive-partitioned Parquet (the day from the folder name), over the S3
    API, knowing nothing of IM2. Events per day and kind agree with the database."""
    import pyarrow.dataset as ds

    _seed(db, 250)
    moved = move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=100)
    assert moved.moved == 250
    host = (s3_options.endpoint or "").removeprefix("http://")
    reader = pafs.S3FileSystem(
        access_key=KEY, secret_key=SECRET, region=REGION, endpoint_override=host, scheme="http"
    )
    dataset = ds.dataset(
        lake_url.removeprefix("s3://") + "/events",
        filesystem=reader,
        format="parquet",
        partitioning="hive",
    )
    table = dataset.to_table(columns=["id", "date", "kind"])
    per_day = {
        (str(r["date"]), r["kind"]): r["id_count"]
        for r in table.group_by(["date", "kind"]).aggregate([("id", "count")]).to_pylist()
    }
    with db.session() as session:
        rows = session.execute(select(Event.occurred_at, Event.kind)).all()
    expected_per_day: dict[tuple[str, str], int] = {}
    for occurred_at, kind in rows:
        day = (
            occurred_at.astimezone(UTC).date().isoformat()
            if occurred_at.tzinfo
            else str(occurred_at.date())
        )
        expected_per_day[(day, kind)] = expected_per_day.get((day, kind), 0) + 1
    assert per_day == expected_per_day
    assert sorted(table.column("id").to_pylist()) == [r[0] for r in _db_rows(db)]
