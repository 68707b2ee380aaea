"""Grouping reposts and near-duplicate mentions (pure: texts in, groups out).

Two levels, cheapest first:

1. a **fingerprint** of the text's core (repost prefixes, links, @names, punctuation and case
   removed): ``RT @brand: New phone!`` and ``New phone! https://t.co/x`` share one, and it is
   stored, so it finds the group across imports with one indexed lookup;
2. **MinHash LSH** (datasketch) over character 3-grams of the core, for copies that differ in a
   few characters (copy-pasted complaints, templated spam). Jaccard ≥ 0.7 groups them.

Weibo reposts carry the chain they passed through (``comment //@b: b's comment //@a: a's``);
the chain's last segment is the comment closest to the original, so it is the core.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

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
# Python, which made MinHash the slowest step of an import. The signatures then go to
# datasketch's LSH index.
_RNG = np.random.default_rng(20260302)
_A = _RNG.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
_PERMUTATIONS = (_A, _B)  # only to spare MinHash.__init__ generating its own
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def signatures(cores: Sequence[str]) -> np.ndarray:
    """MinHash signatures (len(cores) × NUM_PERM, uint64) of the cores' 3-gram sets."""
    lengths = []
    hashes = []
    for core in cores:
        points = np.frombuffer(core[:MAX_SHINGLED].encode("utf-32-le"), dtype=np.uint32)
        points = points.astype(np.uint64)
        if len(points) < SHINGLE:
            points = np.pad(points, (0, SHINGLE - len(points)))
        grams = points[:-2] * _MIX[0] ^ points[1:-1] * _MIX[1] ^ points[2:] * _MIX[2]
        hashes.append(grams)
        lengths.append(len(grams))
    if not hashes:
        return np.zeros((0, NUM_PERM), dtype=np.uint64)
    flat = np.concatenate(hashes)
    with np.errstate(over="ignore"):
        permuted = flat[:, None] * _A[None, :] + _B[None, :]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return np.minimum.reduceat(permuted, starts, axis=0)


def _minhash(row: np.ndarray) -> MinHash:
    return MinHash(num_perm=NUM_PERM, hashvalues=row, permutations=_PERMUTATIONS, scheme="affine64")


@dataclass(frozen=True, slots=True)
class Grouping:
    """For each text of a batch: the group it joins, or None to start its own.

    A group is named by a key of the index (an existing mention's id) or, as ``("batch", i)``,
    by the i-th text of the same batch.
    """

    groups: list[Hashable | None]
    fingerprints: list[str]


class NearDuplicateIndex:
    """MinHash LSH over mention texts, keyed by the caller's ids."""

    def __init__(self) -> None:
        self._lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)

    def add(self, key: Hashable, core: str) -> None:
        """Index a stored mention's core text under its group id."""
        if len(core) >= MIN_NEAR_LENGTH and key not in self._lsh:
            self._lsh.insert(key, _minhash(signatures([core])[0]))

    def group_batch(
        self, texts: Sequence[str], *, known: dict[str, Hashable] | None = None
    ) -> Grouping:
        """Group a batch against the index and itself; batch texts are added to the index.

        `known` maps fingerprints already stored to their group (found by the caller with one
        query), so exact copies of older posts join their group without any MinHash work.
        """
        known = dict(known or {})
        groups: list[Hashable | None] = []
        prints: list[str] = []
        cores = [core_text(t) for t in texts]
        near = [i for i, c in enumerate(cores) if len(c) >= MIN_NEAR_LENGTH]
        rows = dict(zip(near, signatures([cores[i] for i in near]), strict=True))
        for i, core in enumerate(cores):
            fp = fingerprint(core)
            prints.append(fp)
            if fp in known:
                groups.append(known[fp])
                continue
            key: Hashable = ("batch", i)
            known[fp] = key
            if len(core) < MIN_NEAR_LENGTH:
                groups.append(None)
                continue
            signature = _minhash(rows[i])
            found = self._lsh.query(signature)
            group = min(found, key=_order) if found else None
            if isinstance(group, tuple) and groups[group[1]] is not None:
                group = groups[group[1]]  # that row already joined an older group
            groups.append(group)
            self._lsh.insert(key, signature)
        return Grouping(groups, prints)


def _order(key: Hashable) -> tuple[int, int]:
    # Stored mentions (int ids) come before batch rows, and lower ids before higher ones, so a
    # group is always named after its earliest member.
    if isinstance(key, int):
        return (0, key)
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int):
        return (1, key[1])
    return (2, 0)
