"""Grouping reposts and near-duplicate mentions (pure: texts in, groups out).

Two levels, cheapest first:

1. a **fingerprint** of the text's core (repost prefixes, links, @names, punctuation and case
   removed): ``RT @brand: New phone!`` and ``New phone! https://t.co/x`` share one, and it is
   stored, so it finds the group across imports with one indexed lookup;
2. **MinHash LSH** over character 3-grams of the core, for copies that differ in a few
   characters (copy-pasted complaints, templated spam): Jaccard ≥ 0.7 groups them (banding as
   datasketch chooses it). The band keys are stored too, so near copies find their group
   across imports and API batches as well.

Weibo reposts carry the chain they passed through (``comment //@b: b's comment //@a: a's``);
the chain's last segment is the comment closest to the original, so it is the core.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from datasketch import MinHashLSH  # type: ignore[import-untyped]

NUM_PERM: Final = 32
THRESHOLD: Final = 0.7
# Below this many characters of core text, a near match says nothing (“好评”, “lol”).
MIN_NEAR_LENGTH: Final = 12
SHINGLE: Final = 3
MAX_SHINGLED: Final = 400

_RT_PREFIX = re.compile(r"^\s*(?:RT|rt)\s*@[^\s:：]+\s*[:：]\s*")
_WEIBO_CHAIN = re.compile(r"//\s*@[^:：\s]{1,30}\s*[:：]")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_AT = re.compile(r"@[^\s:：,，@]{1,30}")
_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def core_text(text: str) -> str:
    """The part of a post that copies share, normalised for comparison."""
    text = unicodedata.normalize("NFKC", text)
    text = _RT_PREFIX.sub("", text)
    parts = _WEIBO_CHAIN.split(text)
    if len(parts) > 1:
        tail = parts[-1].strip()
        text = tail or parts[0]
    text = _URL.sub(" ", text)
    text = _AT.sub(" ", text)
    return _NOISE.sub("", text.lower())


def fingerprint(core: str) -> str:
    return hashlib.blake2b(core.encode(), digest_size=16).hexdigest()


# Affine hashing mod 2^64 (datasketch's "affine64" scheme) of character 3-grams, vectorised
# over a whole batch with numpy: datasketch's own update() hashes each shingle with SHA-1 in
# Python, which made MinHash the slowest step of an import.
_RNG = np.random.default_rng(20260302)
_A = _RNG.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def signatures(cores: Sequence[str]) -> np.ndarray:
    """MinHash signatures (len(cores) × NUM_PERM, uint64) of the cores' 3-gram sets.

    The whole batch is one array of code points; 3-grams that would span two cores are
    dropped, and each core's minimum per permutation is one `reduceat`. One permutation at a
    time: the batch's grams stay in the CPU cache, where a (grams × permutations) array did not
    (nine times slower).
    """
    if not cores:
        return np.zeros((0, NUM_PERM), dtype=np.uint64)
    cut = [c[:MAX_SHINGLED].ljust(SHINGLE, "\0") for c in cores]
    lengths = np.fromiter((len(c) for c in cut), dtype=np.int64, count=len(cut))
    points = np.frombuffer(
        "".join(cut).encode("utf-32-le", "surrogatepass"), dtype=np.uint32
    ).astype(np.uint64)
    with np.errstate(over="ignore"):
        grams = points[:-2] * _MIX[0] ^ points[1:-1] * _MIX[1] ^ points[2:] * _MIX[2]
        ends = np.cumsum(lengths)
        row = np.repeat(np.arange(len(cut)), lengths)[: len(grams)]
        keep = np.arange(len(grams)) + SHINGLE <= ends[row]
        grams = grams[keep]
        counts = lengths - (SHINGLE - 1)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        out = np.empty((len(cut), NUM_PERM), dtype=np.uint64)
        permuted = np.empty_like(grams)
        for p in range(NUM_PERM):
            np.multiply(grams, _A[p], out=permuted)
            np.add(permuted, _B[p], out=permuted)
            out[:, p] = np.minimum.reduceat(permuted, starts)
    return out


# LSH banding for Jaccard ≥ THRESHOLD with NUM_PERM permutations: datasketch chooses the number
# of bands and rows per band that minimise false positives + negatives for that threshold
# (b=5, r=6 here). The bands are hashed to integers here rather than kept in datasketch's
# in-memory index, because they are stored (`listening_near_duplicate_bands`) so that a copy
# arriving in a later import or API batch finds its group with one indexed lookup.
_LSH = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
BANDS: Final[int] = _LSH.b
BAND_RANGES: Final[list[tuple[int, int]]] = list(_LSH.hashranges)
_BAND_SEEDS = _RNG.integers(1, 2**63, size=BANDS, dtype=np.uint64)
_FOLD = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """One signed 64-bit key per (signature, band): equal band values give equal keys, and the
    band number is mixed in, so keys of different bands never meet."""
    keys = np.empty((len(sigs), BANDS), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band, (start, end) in enumerate(BAND_RANGES):
            h = np.full(len(sigs), _BAND_SEEDS[band], dtype=np.uint64)
            for col in range(start, end):
                h = (h ^ sigs[:, col]) * _FOLD
                h ^= h >> np.uint64(29)
            keys[:, band] = h
    return keys.view(np.int64)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What grouping needs to know about a batch before asking the database."""

    cores: list[str]
    fingerprints: list[str]
    # Band keys per text (empty for cores too short for a near match).
    bands: list[list[int]]

    def all_bands(self) -> list[int]:
        return sorted({k for keys in self.bands for k in keys})


def prepare(texts: Sequence[str]) -> Prepared:
    cores = [core_text(t) for t in texts]
    near = [i for i, c in enumerate(cores) if len(c) >= MIN_NEAR_LENGTH]
    keys = band_keys(signatures([cores[i] for i in near])).tolist()
    bands: list[list[int]] = [[] for _ in cores]
    for i, row in zip(near, keys, strict=True):
        bands[i] = row
    return Prepared(cores, [fingerprint(c) for c in cores], bands)


@dataclass(frozen=True, slots=True)
class Grouping:
    """For each text of a batch: the group it joins, or None to start its own.

    A group is named by a stored group id (an int: the id of its first mention) or, as
    ``("batch", i)``, by the i-th text of the same batch.
    """

    groups: list[Hashable | None]
    fingerprints: list[str]
    bands: list[list[int]]


def group_batch(
    prepared: Prepared,
    *,
    known_fingerprints: Mapping[str, int] | None = None,
    known_bands: Mapping[int, int] | None = None,
) -> Grouping:
    """Group a batch against what is stored and against itself.

    `known_fingerprints` maps stored fingerprints to their group and `known_bands` stored band
    keys to theirs (both found by the caller with indexed lookups). An exact copy (same
    fingerprint) joins without MinHash; otherwise a shared band makes a near duplicate, and the
    earliest group wins (stored before batch, lower ids first).
    """
    by_print: dict[str, Hashable] = dict(known_fingerprints or {})
    stored_bands = known_bands or {}
    batch_bands: dict[int, Hashable] = {}
    groups: list[Hashable | None] = []
    for i, (core, fp, keys) in enumerate(
        zip(prepared.cores, prepared.fingerprints, prepared.bands, strict=True)
    ):
        own: Hashable = ("batch", i)
        if fp in by_print:
            group: Hashable | None = by_print[fp]
        elif len(core) < MIN_NEAR_LENGTH:
            group = None
        else:
            found: list[Hashable] = [stored_bands[k] for k in keys if k in stored_bands]
            found += [batch_bands[k] for k in keys if k in batch_bands]
            group = min(found, key=_order) if found else None
        groups.append(group)
        resolved = own if group is None else group
        by_print.setdefault(fp, resolved)
        for k in keys:
            batch_bands.setdefault(k, resolved)
    return Grouping(groups, prepared.fingerprints, prepared.bands)


def _order(key: Hashable) -> tuple[int, int]:
    # Stored groups (int ids) come before batch rows, and lower ids before higher ones, so a
    # group is always named after its earliest member.
    if isinstance(key, int):
        return (0, key)
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int):
        return (1, key[1])
    return (2, 0)
