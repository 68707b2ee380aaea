"""Console page of retention: the workspace's policy (a form) and what the last runs did."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import Response

from im2.privacy.retention import service
from im2.privacy.retention.schemas import RetentionPolicyUpdate
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import FormState, save_or_show_again
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}/privacy/retention", include_in_schema=False)
FIELDS = ("inactive_days", "ip_days", "media_days")


def _page(
    request: Request,
    actor: Actor,
    db: DbDep,
    *,
    state: FormState = FormState(),
) -> Response:
    with db.session() as session:
        policy = service.get_policy(session, actor=actor)
        runs = service.list_runs(session, actor=actor)
    stored = {f: "" if getattr(policy, f) is None else str(getattr(policy, f)) for f in FIELDS}
    return render(
        request,
        "retention/policy.html",
        {
            "nav": "privacy",
            "base": f"/console/w/{actor.workspace_slug}/privacy/retention",
            "can_act": actor.can(Permission.WRITE_PEOPLE),
            "policy": policy,
            "runs": runs,
            **state.shown(stored),
        },
        status_code=state.status_code,
    )


@router.get("")
def retention_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _page(request, actor, db)


@router.post("")
def save_policy(
    request: Request, actor: ConsoleActor, form: CsrfForm, db: DbDep, now: NowDep
) -> Response:
    values = {f: str(form.get(f, "")).strip() for f in FIELDS}

    def save() -> None:
        data = RetentionPolicyUpdate(**{f: (v or None) for f, v in values.items()})
        with db.transaction() as session:
            service.do_set_policy(session, actor=actor, data=data, now=now)

    # Every refusal, a missing permission included, is said on the form.
    return save_or_show_again(
        save,
        again=partial(_page, request, actor, db),
        values=values,
        done=f"/console/w/{actor.workspace_slug}/privacy/retention?saved=1",
        propagate=(),
    )
