"""Console page of a campaign's incentives: the review queue, point rules, coupon pools (generate,
import, export codes), prizes, and the points ledger with a participant lookup."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from im2.campaigns import service as campaigns
from im2.db import Database
from im2.errors import IM2Error, InvalidInput
from im2.i18n import N_, _, gettext
from im2.incentives import service
from im2.incentives.schemas import (
    CODES_FILE_MAX_BYTES,
    EVENT_LABELS,
    LEDGER_KIND_LABELS,
    RULE_EVENT_KINDS,
    evidence_lines,
    reason_label,
)
from im2.spreadsheet import safe_row
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import act_or_show_again
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
BASE = "/console/w/{workspace}/campaigns/{campaign_id}/incentives"
DONE = {
    "rule": N_("The rule is saved."),
    "rule_deleted": N_("The rule is deleted."),
    "pool": N_("The coupon pool is created."),
    "codes": N_("The codes are added."),
    "prize": N_("The prize is saved."),
    "approved": N_("Approved."),
    "voided": N_("Voided."),
}


def _url(actor: Actor, campaign_id: int) -> str:
    return BASE.format(workspace=actor.workspace_slug, campaign_id=campaign_id)


def _daily_points(
    lines: list[Any], timezone: str, now: datetime, days: int = 30
) -> dict[str, list[Any]]:
    """Points earned and spent per local day over the last `days` days, for the chart."""
    zone = ZoneInfo(timezone)
    first = (now - timedelta(days=days - 1)).astimezone(zone).date()
    earned: dict[str, int] = defaultdict(int)
    spent: dict[str, int] = defaultdict(int)
    for line in lines:
        day = line.created_at.astimezone(zone).date()
        if day < first:
            continue
        if line.delta > 0:
            earned[day.isoformat()] += line.delta
        elif line.kind == "spend":
            spent[day.isoformat()] -= line.delta
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    return {
        "days": labels,
        "earned": [earned[d] for d in labels],
        "spent": [spent[d] for d in labels],
    }


def _page(
    request: Request,
    *,
    actor: Actor,
    db: DbDep,
    campaign_id: int,
    now: datetime,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    lookup_raw = request.query_params.get("participant", "").strip().lstrip("#")
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        ids = {"workspace_id": actor.workspace_id}
        lookup: dict[str, Any] | None = None
        if lookup_raw:
            if not lookup_raw.isdigit():
                error = error or _("Enter a participant number, e.g. 42.")
            else:
                pid = int(lookup_raw)
                try:
                    service.check_participant(session, participant_id=pid, **ids)
                except IM2Error as exc:
                    error = error or exc.message
                else:
                    lookup = {
                        "id": pid,
                        "balance": service.get_balance(session, participant_id=pid, now=now, **ids),
                        "lines": service.list_ledger(session, participant_id=pid, **ids),
                        "coupons": service.participant_coupons(
                            session, campaign_id=campaign.id, participant_id=pid, now=now, **ids
                        ),
                        "prizes": service.participant_prizes(
                            session, campaign_id=campaign.id, participant_id=pid, **ids
                        ),
                    }
        ledger = service.list_ledger(session, campaign_id=campaign.id, limit=5000, **ids)
        context = {
            "campaign": campaign,
            "nav": "campaigns",
            "base": _url(actor, campaign.id),
            "held": service.list_grants(
                session, actor=actor, campaign_id=campaign.id, status="held"
            ),
            "decided": [
                g
                for g in service.list_grants(
                    session, actor=actor, campaign_id=campaign.id, limit=50
                )
                if g.decided_at is not None
            ],
            "flagged": service.list_flagged_redemptions(
                session, actor=actor, campaign_id=campaign.id
            ),
            "rules": service.list_rules(session, actor=actor, campaign_id=campaign.id),
            "pools": service.list_pools(session, campaign_id=campaign.id, **ids),
            "prizes": service.list_prizes(session, campaign_id=campaign.id, **ids),
            "recent": ledger[:30],
            "totals": {
                "earned": sum(line.delta for line in ledger if line.delta > 0),
                "spent": -sum(line.delta for line in ledger if line.kind == "spend"),
                "expired": -sum(line.delta for line in ledger if line.kind == "expiry"),
            },
            "chart": _daily_points(ledger, campaign.timezone, now),
            "lookup": lookup,
            "lookup_raw": lookup_raw,
        }
    notice_key = request.query_params.get("done", "")
    context.update(
        event_kinds=[(k.value, EVENT_LABELS[k.value]) for k in RULE_EVENT_KINDS],
        event_labels=EVENT_LABELS,
        kind_labels=LEDGER_KIND_LABELS,
        reason_label=reason_label,
        evidence_lines=evidence_lines,
        format_code=service.format_code,
        error=error,
        notice=gettext(DONE[notice_key]) if notice_key in DONE else None,
    )
    return render(request, "incentives/console.html", context, status_code=status_code)


@router.get("/campaigns/{campaign_id}/incentives")
def incentives(
    request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    return _page(request, actor=actor, db=db, campaign_id=campaign_id, now=now)


def _int_or_none(form: Any, name: str) -> int | None:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        return None
    if not raw.lstrip("-").isdigit():
        raise InvalidInput(_("Enter a whole number."), field=name)
    return int(raw)


def _required_int(form: Any, name: str) -> int:
    value = _int_or_none(form, name)
    if value is None:
        raise InvalidInput(_("This field is required."), field=name)
    return value


def _local_datetime(form: Any, name: str, timezone: str) -> datetime | None:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(_("Enter a date and time."), field=name) from exc
    return local.replace(tzinfo=ZoneInfo(timezone)) if local.tzinfo is None else local


@dataclass(frozen=True, slots=True)
class _CampaignPost:
    """A console form POST on a campaign's incentives page (the route's CSRF-checked form
    aside): `run` makes one write and answers the way every form here does."""

    request: Request
    actor: Actor
    db: Database
    campaign_id: int
    now: datetime

    def run(self, done: str, action: Callable[[Session, Any], object]) -> Response:
        """`action(session, campaign)` in one transaction, then back to the page with the `done`
        notice; on a refusal the page again with the message (nothing written)."""

        def act() -> None:
            with self.db.transaction() as session:
                campaign = campaigns.get_campaign(
                    session, actor=self.actor, campaign_id=self.campaign_id
                )
                action(session, campaign)

        return act_or_show_again(
            act,
            again=lambda exc: _page(
                self.request,
                actor=self.actor,
                db=self.db,
                campaign_id=self.campaign_id,
                now=self.now,
                error=exc.message,
                status_code=exc.status_code,
            ),
            done=f"{_url(self.actor, self.campaign_id)}?done={done}",
            propagate=(),
        )


def _campaign_post(
    request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
) -> _CampaignPost:
    return _CampaignPost(request=request, actor=actor, db=db, campaign_id=campaign_id, now=now)


# Declared after the route's `form: CsrfForm`, so the CSRF check comes first as before.
PostDep = Annotated[_CampaignPost, Depends(_campaign_post)]


@router.post("/campaigns/{campaign_id}/incentives/rules")
def save_rule(form: CsrfForm, post: PostDep) -> Response:
    def action(session: Session, campaign: Any) -> None:
        service.do_save_rule(
            session,
            actor=post.actor,
            campaign_id=campaign.id,
            event_kind=str(form.get("event_kind", "")),
            points=_required_int(form, "points"),
            daily_cap=_int_or_none(form, "daily_cap"),
            total_cap=_int_or_none(form, "total_cap"),
            expires_days=_int_or_none(form, "expires_days"),
            active=form.get("active", "yes") == "yes",
            now=post.now,
        )

    return post.run("rule", action)


@router.post("/campaigns/{campaign_id}/incentives/rules/{rule_id}/delete")
def delete_rule(rule_id: Id, form: CsrfForm, post: PostDep) -> Response:
    return post.run(
        "rule_deleted",
        lambda session, _campaign: service.do_delete_rule(
            session, actor=post.actor, rule_id=rule_id, now=post.now
        ),
    )


@router.post("/campaigns/{campaign_id}/incentives/pools")
def create_pool(form: CsrfForm, post: PostDep) -> Response:
    def action(session: Session, campaign: Any) -> None:
        pool = service.do_create_pool(
            session,
            actor=post.actor,
            campaign_id=campaign.id,
            name=str(form.get("name", "")),
            description=str(form.get("description", "")),
            max_uses=_int_or_none(form, "max_uses") or 1,
            expires_at=_local_datetime(form, "expires_at", campaign.timezone),
            cost_points=_int_or_none(form, "cost_points"),
            now=post.now,
        )
        count = _int_or_none(form, "count")
        if count:
            service.do_generate_codes(
                session, actor=post.actor, pool_id=pool.id, count=count, now=post.now
            )

    return post.run("pool", action)


@router.post("/campaigns/{campaign_id}/incentives/pools/{pool_id}/generate")
def generate_codes(pool_id: Id, form: CsrfForm, post: PostDep) -> Response:
    return post.run(
        "codes",
        lambda session, _campaign: service.do_generate_codes(
            session,
            actor=post.actor,
            pool_id=pool_id,
            count=_required_int(form, "count"),
            now=post.now,
        ),
    )


def codes_from_csv(data: bytes) -> list[str]:
    """Codes from an uploaded file: the first column of each row (a header row named `code` is
    skipped); UTF-8 with or without BOM, or GB18030 as Excel in China saves it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(_("The file is not UTF-8 or GB18030 text."), field="file")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if rows and rows[0][0].strip().lower() in ("code", "codes", "券码", "兑换码"):
        rows = rows[1:]
    return [row[0] for row in rows]


@router.post("/campaigns/{campaign_id}/incentives/pools/{pool_id}/import")
async def import_codes(pool_id: Id, form: CsrfForm, post: PostDep) -> Response:
    upload = form.get("file")
    data = b""
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(CODES_FILE_MAX_BYTES + 1)
    await form.close()  # the spooled upload's temporary file

    def action(session: Session, _campaign: Any) -> None:
        if not data:
            raise InvalidInput(_("Choose a CSV file with one code per row."), field="file")
        if len(data) > CODES_FILE_MAX_BYTES:
            raise InvalidInput(_("The file is larger than 5 MB."), field="file")
        service.do_import_codes(
            session, actor=post.actor, pool_id=pool_id, codes=codes_from_csv(data), now=post.now
        )

    # Thousands of codes are checked and stored: off the event loop.
    return await run_in_threadpool(post.run, "codes", action)


@router.get("/campaigns/{campaign_id}/incentives/pools/{pool_id}/codes.csv")
def export_codes(
    campaign_id: Id, pool_id: Id, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        pool = service.get_pool(session, workspace_id=actor.workspace_id, pool_id=pool_id)
        if pool is None or pool.campaign_id != campaign.id:
            raise InvalidInput(_("There is no such coupon pool."))
        codes = service.list_codes(session, actor=actor, pool_id=pool_id, now=now)
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with a BOM correctly
    writer = csv.writer(out)
    writer.writerow(
        ["code", "status", "participant_id", "issued_at", "uses", "max_uses", "expires_at"]
    )
    for ref, issued_at in codes:
        writer.writerow(
            safe_row(
                [
                    ref.code,
                    ref.status.value,
                    ref.participant_id or "",
                    issued_at.isoformat() if issued_at else "",
                    ref.uses,
                    ref.max_uses,
                    ref.expires_at.isoformat() if ref.expires_at else "",
                ]
            )
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="coupon-pool-{pool_id}.csv"'},
    )


@router.post("/campaigns/{campaign_id}/incentives/prizes")
def create_prize(form: CsrfForm, post: PostDep) -> Response:
    return post.run(
        "prize",
        lambda session, campaign: service.do_create_prize(
            session,
            actor=post.actor,
            campaign_id=campaign.id,
            name=str(form.get("name", "")),
            description=str(form.get("description", "")),
            units=_required_int(form, "units"),
            cost_points=_int_or_none(form, "cost_points"),
            now=post.now,
        ),
    )


@router.post("/campaigns/{campaign_id}/incentives/prizes/{prize_id}/restock")
def restock_prize(prize_id: Id, form: CsrfForm, post: PostDep) -> Response:
    return post.run(
        "prize",
        lambda session, _campaign: service.do_restock_prize(
            session,
            actor=post.actor,
            prize_id=prize_id,
            add_units=_required_int(form, "add_units"),
            now=post.now,
        ),
    )


@router.post("/campaigns/{campaign_id}/incentives/grants/{grant_id}/decide")
def decide_grant(grant_id: Id, form: CsrfForm, post: PostDep) -> Response:
    approve = form.get("decision") == "approve"
    return post.run(
        "approved" if approve else "voided",
        lambda session, _campaign: service.do_decide_grant(
            session, actor=post.actor, grant_id=grant_id, approve=approve, now=post.now
        ),
    )


@router.post("/campaigns/{campaign_id}/incentives/redemptions/{redemption_id}/decide")
def decide_redemption(redemption_id: Id, form: CsrfForm, post: PostDep) -> Response:
    approve = form.get("decision") == "approve"
    return post.run(
        "approved" if approve else "voided",
        lambda session, _campaign: service.do_decide_redemption(
            session, actor=post.actor, redemption_id=redemption_id, approve=approve, now=post.now
        ),
    )
