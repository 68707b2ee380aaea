"""Where the lake's files live: a local folder (the default) or S3-compatible object storage.

The code names a lake by its folder, `lake_path` (IM2_LAKE_PATH), as it always has. With
`IM2_LAKE_URL=s3://bucket/prefix` the files of the lake named by IM2_LAKE_PATH live in that
bucket instead, in the same Hive layout (`<prefix>/events/date=YYYY-MM-DD/part-<first>-<last>
.parquet`), and nothing is written to the folder. Tests and tools can `mount` any folder name
onto a bucket the same way.

Every request goes through pyarrow's S3 filesystem (`pyarrow.fs.S3FileSystem`). DuckDB, whose
httpfs extension cannot be downloaded here, reads the same objects by their `s3://bucket/key`
names through that filesystem, registered with DuckDB by fsspec's Arrow wrapper
(`register_duckdb`). One S3 endpoint per process: registering another replaces the first.

Publication stays atomic without a rename, which S3 lacks: a file is serialised whole in memory
and uploaded under its final key in one write, and S3 makes an object visible only when its
upload completes (pyarrow completes a multipart upload only when every part succeeded). A kill
during the upload leaves no object, only an incomplete upload that the bucket's lifecycle rule
`AbortIncompleteMultipartUpload` clears (docs/deploy.md). The database's lake mark stays the
commit point, exactly as for a folder: a file above the mark is an orphan, removed by the next
move and never read. Rewriting a committed file (an erasure) uploads the new content under the
same key: readers see the old object or the new one, whole.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from im2.analytics.lake_layout import write_lake_file
from im2.config import parse_lake_url

if TYPE_CHECKING:
    import duckdb

    from im2.config import Settings

SCHEME = "s3://"


@dataclass(frozen=True, slots=True)
class S3Options:
    """How to reach the object store; None leaves a value to the AWS defaults (environment,
    instance profile, region of the bucket)."""

    endpoint: str | None = None  # e.g. http://127.0.0.1:9000 for MinIO or moto
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None


@lru_cache(maxsize=8)
def s3_filesystem(options: S3Options) -> pafs.S3FileSystem:
    kwargs: dict[str, Any] = {}
    if options.endpoint:
        scheme, _, host = options.endpoint.partition("://")
        kwargs["endpoint_override"] = host.rstrip("/") if host else options.endpoint
        kwargs["scheme"] = scheme if host else "https"
    if options.region:
        kwargs["region"] = options.region
    if options.access_key is not None and options.secret_key is not None:
        kwargs["access_key"] = options.access_key
        kwargs["secret_key"] = options.secret_key
    return pafs.S3FileSystem(**kwargs)


@dataclass(frozen=True, slots=True)
class ObjectLake:
    """One lake in a bucket: `root` is "bucket/prefix" as pyarrow's S3 filesystem names it."""

    url: str
    root: str
    options: S3Options

    @property
    def fs(self) -> pafs.S3FileSystem:
        return s3_filesystem(self.options)

    @property
    def events_root(self) -> str:
        return f"{self.root}/events"

    def uri(self, key: str) -> str:
        """The name every reader (DuckDB, pyarrow, the tests) uses for an object."""
        return key if key.startswith(SCHEME) else SCHEME + key

    def key(self, uri: str) -> str:
        return uri.removeprefix(SCHEME)

    def list_events(self) -> list[str]:
        """Every object under events/, as URIs (no order)."""
        selector = pafs.FileSelector(self.events_root, recursive=True, allow_not_found=True)
        return [
            self.uri(info.path)
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File
        ]

    def put_bytes(self, uri: str, data: bytes | pa.Buffer) -> None:
        """Upload whole, under the final key; visible only once complete (see the module)."""
        stream = self.fs.open_output_stream(self.key(uri))
        stream.write(data)
        stream.close()

    def put_parquet(self, uri: str, table: pa.Table) -> int:
        sink = pa.BufferOutputStream()
        write_lake_file(table, sink)
        data = sink.getvalue()
        self.put_bytes(uri, data)
        return int(data.size)

    def get_bytes(self, uri: str) -> bytes | None:
        try:
            with self.fs.open_input_stream(self.key(uri)) as stream:
                return bytes(stream.read())
        except FileNotFoundError:
            return None

    def read_table(self, uri: str) -> pa.Table:
        return pq.read_table(self.key(uri), filesystem=self.fs)

    def size(self, uri: str) -> int:
        size: int | None = self.fs.get_file_info(self.key(uri)).size
        return int(size or 0)

    def delete(self, uri: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.key(uri))


def object_lake(url: str, options: S3Options) -> ObjectLake:
    bucket, prefix = parse_lake_url(url)
    root = f"{bucket}/{prefix}" if prefix else bucket
    return ObjectLake(url=url, root=root, options=options)


_lock = threading.Lock()
_mounts: dict[str, ObjectLake] = {}
_resolved: dict[str, ObjectLake | None] = {}


def mount(lake_path: Path, url: str, options: S3Options) -> ObjectLake:
    """Keep the files of the lake named `lake_path` at `url` (this process only)."""
    lake = object_lake(url, options)
    with _lock:
        _mounts[str(lake_path)] = lake
        _resolved.pop(str(lake_path), None)
    return lake


def unmount(lake_path: Path) -> None:
    with _lock:
        _mounts.pop(str(lake_path), None)
        _resolved.pop(str(lake_path), None)


def from_settings(settings: Settings) -> ObjectLake | None:
    """The object lake IM2_LAKE_URL and its IM2_LAKE_S3_* settings describe, if set."""
    if not settings.lake_url:
        return None

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    return object_lake(
        settings.lake_url,
        S3Options(
            endpoint=settings.lake_s3_endpoint,
            region=settings.lake_s3_region,
            access_key=secret(settings.lake_s3_access_key),
            secret_key=secret(settings.lake_s3_secret_key),
        ),
    )


def object_lake_of(lake_path: Path) -> ObjectLake | None:
    """Where the lake named `lake_path` lives: an object lake, or None for the folder itself.
    Mounts first, then the settings (IM2_LAKE_URL applies to IM2_LAKE_PATH's lake); resolved
    once per process."""
    key = str(lake_path)
    with _lock:
        if key in _mounts:
            return _mounts[key]
        if key in _resolved:
            return _resolved[key]
    from im2.config import get_settings

    settings = get_settings()
    found = from_settings(settings) if Path(lake_path) == settings.lake_path else None
    with _lock:
        _resolved[key] = found
    return found


_registered: dict[int, S3Options] = {}


def register_duckdb(con: duckdb.DuckDBPyConnection, lake: ObjectLake) -> None:
    """Let `con`'s database read `s3://` names through the lake's pyarrow filesystem.

    Registration belongs to the database, so every cursor of `con` sees it; done once per
    database and endpoint."""
    from fsspec.implementations.arrow import ArrowFSWrapper

    with _lock:
        if _registered.get(id(con)) == lake.options and "s3" in con.list_filesystems():
            return
        if "s3" in con.list_filesystems():
            con.unregister_filesystem("s3")
        con.register_filesystem(ArrowFSWrapper(lake.fs))
        _registered[id(con)] = lake.options
