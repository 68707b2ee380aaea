"""A disk cache of parsed graph files, so running ``im2 influence seeds`` again on the same
file skips reading the text (about 0.1 s on NetHEPT, seconds on million-edge files).

One entry per file and loading options, named by a hash of the file's absolute path and
the options; the entry stores the file's size, modification and change times (and those of
an IMM ``attribute.txt`` beside it, which fixes ``n``) and is used only while they are
unchanged, so an edited file is parsed again and its entry replaced. Entries are plain
``.npz`` arrays read without pickle. The cache is a convenience: a directory that cannot be
written, or an entry that cannot be read, only means parsing the text again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from im2.influence.graph import (
    DEFAULT_MAX_ERRORS,
    Graph,
    LoadedGraph,
    LoadReport,
    Probability,
    load_graph,
)

# Bump when the arrays or the report change shape, so old entries are ignored.
FORMAT = 1
# Past this total, the least recently written entries are deleted.
DEFAULT_MAX_BYTES = 2 << 30
_ARRAYS = ("labels", "in_indptr", "in_src", "in_prob", "out_indptr", "out_dst", "out_prob")


def default_cache_dir() -> Path | None:
    """``graphs`` in the user's cache directory (``~/.cache/im2`` on Linux), or None (no
    cache) in an environment installed without platformdirs."""
    try:
        from platformdirs import user_cache_path
    except ImportError:
        return None
    return user_cache_path("im2") / "graphs"


def _stamp(path: Path) -> list[int]:
    stamp: list[int] = []
    for file in (path, path.parent / "attribute.txt"):
        try:
            info = file.stat()
        except OSError:
            stamp += [-1, -1, -1, -1]
            continue
        stamp += [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
    return stamp


def _entry(cache_dir: Path, path: Path, directed: bool, probability: Probability | None) -> Path:
    options = [FORMAT, str(path.resolve()), directed]
    options += [None] if probability is None else [probability.kind, probability.value]
    digest = hashlib.sha256(json.dumps(options).encode()).hexdigest()[:32]
    return cache_dir / f"{digest}.npz"


def _read(entry: Path, stamp: list[int]) -> LoadedGraph | None:
    try:
        with np.load(entry, allow_pickle=False) as stored:
            if stored["stamp"].tolist() != stamp:
                return None
            fields = json.loads(str(stored["report"]))
            report = LoadReport(**{**fields, "notes": tuple(fields["notes"])})
            arrays = {name: stored[name] for name in _ARRAYS}
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):
        return None  # missing, half-written by an older version, or damaged: parse again
    for array in arrays.values():
        array.flags.writeable = False
    graph = Graph(n=report.n, **arrays)
    return LoadedGraph(graph=graph, report=report)


def _write(entry: Path, stamp: list[int], loaded: LoadedGraph) -> None:
    graph = loaded.graph
    report = asdict(loaded.report)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed, so a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(
                    out,
                    stamp=np.array(stamp, dtype=np.int64),
                    report=np.array(json.dumps(report)),
                    **{name: getattr(graph, name) for name in _ARRAYS},
                )
            os.replace(temporary, entry)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only or full disk costs a parse next time, nothing more


def _prune(cache_dir: Path, max_bytes: int, keep: Path) -> None:
    """Delete the oldest entries but ``keep`` until the cache holds at most ``max_bytes``."""
    entries = []
    for entry in cache_dir.glob("*.npz"):
        try:
            info = entry.stat()
        except OSError:
            continue  # removed by another process meanwhile
        entries.append((info.st_mtime_ns, info.st_size, entry))
    total = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries):
        if total <= max_bytes:
            break
        if entry != keep:
            entry.unlink(missing_ok=True)
            total -= size


def load_graph_cached(
    path: Path,
    *,
    directed: bool = True,
    probability: Probability | None = None,
    max_errors: int = DEFAULT_MAX_ERRORS,
    cache_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedGraph:
    """``load_graph``, through the cache in ``cache_dir`` (default: ``default_cache_dir()``),
    which keeps at most ``max_bytes`` (the entry just written stays even if larger).

    Files that fail to load are never cached: their errors are reported every time.
    """
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    if cache_dir is None:
        return load_graph(path, directed=directed, probability=probability, max_errors=max_errors)
    stamp = _stamp(path)
    entry = _entry(cache_dir, path, directed, probability)
    if stamp[0] >= 0:
        cached = _read(entry, stamp)
        if cached is not None:
            return cached
    loaded = load_graph(path, directed=directed, probability=probability, max_errors=max_errors)
    # Stamped before parsing: a file changed while it was read gets a stamp that no longer
    # matches, so the next run parses it again.
    _write(entry, stamp, loaded)
    _prune(cache_dir, max_bytes, keep=entry)
    return loaded
