"""Reward levels: the share of the normal points an experiment's variant pays.

Experiments sit above incentives (docs/architecture.md, Layers), so incentives names only the
shape it needs: anything with a percentage `level`, the experiment and variant it came from, and
`scale(points)` (experiments' `RewardLevel` is one).
"""

from __future__ import annotations

from typing import Protocol


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
