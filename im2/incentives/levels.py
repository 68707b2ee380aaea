"""Reward levels: the share of the normal points an experiment's variant pays.

Experiments sit above incentives (docs/architecture.md, Layers), so incentives does not ask
them. It names the shapes it needs (`RewardLevel`, `RewardLevels`), and whoever assembles the
process tells it where levels come from with `use_reward_levels(experiments.RewardLevels)`.
Until then every reward is paid at the normal level.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


class RewardLevel(Protocol):
    """A reward level as the ledger records it on a `points.awarded` event."""

    @property
    def experiment_key(self) -> str: ...

    @property
    def variant(self) -> str: ...

    @property
    def level(self) -> int:
        """Percentage of the normal points (100 = unchanged)."""

    def scale(self, points: int) -> int:
        """`points` at this level, a whole number."""


class RewardLevels(Protocol):
    """The level a participant earns with on an activity at a moment, or None (the normal
    level). Made once per transaction or batch: it may cache what it has read."""

    def of(
        self, *, activity_id: int | None, participant_id: int, at: datetime
    ) -> RewardLevel | None: ...


LevelsSource = Callable[[Session], RewardLevels]


class _NormalLevel:
    def of(self, *, activity_id: int | None, participant_id: int, at: datetime) -> None:
        return None


_source: list[LevelsSource] = []


def use_reward_levels(source: LevelsSource) -> None:
    """Where reward levels come from, for this process (a second call replaces the first)."""
    _source[:] = [source]


def reward_levels(session: Session) -> RewardLevels:
    """The registered levels for this session's reads, or none (every level normal)."""
    return _source[0](session) if _source else _NormalLevel()
