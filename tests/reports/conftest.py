"""Report fixtures: the analytics ones (a private lake per test, a database emptied by table)."""

from __future__ import annotations

from tests.analytics.conftest import db, lake_path, settings

__all__ = ["db", "lake_path", "settings"]
