"""The people tests' app: the people API is served (until im2/app.py names its router, the
fixture adds it; once it does, this adds nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.people import api as people_api


@pytest.fixture
def lake_path(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def settings(settings: Settings, lake_path: Path) -> Settings:
    return settings.model_copy(update={"lake_path": lake_path})


@pytest.fixture
def app(settings: Settings, db: Database, clock: ManualClock) -> FastAPI:
    from im2.app import create_app

    app = create_app(settings, db=db, clock=clock)
    if not any(getattr(r, "path", "").startswith("/api/v1/people") for r in app.routes):
        app.include_router(people_api.router)
    return app
