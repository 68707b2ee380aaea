"""A campaign's figures as the analytics registry answers them, for the console pages of the
domains below analytics (sharing, conversions).

Those domains may not import analytics (docs/architecture.md, "Layers"), so their pages take a
`FiguresDep`: the reader that the app assembly (`im2/app.py`) puts on `app.state.figures`,
backed by `im2.analytics.service`. The figures stay defined once, in the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.requests import Request

from im2.workspaces.schemas import Actor


class ReadFigures(Protocol):
    def __call__(
        self,
        session: Session,
        *,
        actor: Actor,
        campaign_id: int,
        keys: list[str],
        lake_path: Path,
        now: datetime,
    ) -> Mapping[str, Any]:
        """The named metrics of the campaign, by key (`im2.analytics.schemas.MetricResult`)."""
        ...


@dataclass(frozen=True, slots=True)
class FiguresReader:
    read: ReadFigures
    describe: Callable[[str], str]  # a metric's description, translated


def figures_reader(request: Request) -> FiguresReader:
    reader: FiguresReader = request.app.state.figures
    return reader


FiguresDep = Annotated[FiguresReader, Depends(figures_reader)]
