"""The hook that puts a running experiment's variant on an activity's public page.

`im2.app` adds `experiment_hook` as a dependency of every format's public routes:
on the GET of an activity page (`/c/<slug>/<kind>/<id>`) it records the visitor's exposure
(once) and leaves the assignment in `request.state.experiment`. The shared public layout calls
`apply_experiment(view, request)` before it renders anything, which swaps in the variant's
title and description on the page's view of the activity; the button label is swapped by a
small script (without JavaScript the original label stays).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from im2.experiments import service
from im2.experiments.schemas import Assignment
from im2.web.deps import DbDep, NowDep
from im2.web.params import MAX_ID
from im2.web.templating import env

ACTIVITY_PAGE = re.compile(r"^/c/[^/]+/[a-z_]+/(\d+)$")


def experiment_hook(request: Request, db: DbDep, now: NowDep) -> None:
    if request.method != "GET":
        return
    match = ACTIVITY_PAGE.match(request.url.path)
    device_id = getattr(request.state, "device_id", None)
    if match is None or not device_id:
        return
    activity_id = int(match.group(1))
    if activity_id > MAX_ID:
        return  # the route's own `Id` parameter answers 422; dependencies run before that
    with db.session() as session:
        assignment = service.variant_for(
            session, activity_id=activity_id, device_id=device_id, now=now
        )
        if assignment is None:
            return
        seen = service.is_exposed(
            session, experiment_key=assignment.experiment_key, device_id=device_id
        )
    if not seen:
        # Writes only on a visitor's first view of the experiment.
        with db.transaction() as session:
            assignment = service.do_expose(
                session, activity_id=activity_id, device_id=device_id, now=now
            )
    request.state.experiment = assignment


def apply_experiment(view: Any, request: Request) -> str:
    """Give the page's activity the variant's texts; returns the button script (or "")."""
    assignment: Assignment | None = getattr(request.state, "experiment", None)
    activity = getattr(view, "activity", None)
    if (
        assignment is None
        or activity is None
        or getattr(activity, "id", None) != (assignment.activity_id)
    ):
        return ""
    payload = assignment.payload
    if payload.title is not None:
        activity.title = payload.title
    if payload.description is not None:
        activity.description = payload.description
    return ""


def experiment_button(request: Request) -> str | None:
    assignment: Assignment | None = getattr(request.state, "experiment", None)
    return None if assignment is None else assignment.payload.button_text


env.globals["apply_experiment"] = apply_experiment
env.globals["experiment_button"] = experiment_button
