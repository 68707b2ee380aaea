"""Console pages of sharing: a campaign's links, clicks, share tree and figures, the marketer's
share kit (a link, QR code and poster per channel), and the brand the public pages show (the
workspace's, and a campaign's override)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.campaigns.figures import FiguresDep, FiguresReader
from im2.errors import InvalidInput, NotFound
from im2.i18n import _, get_locale
from im2.masking import mask_name
from im2.participation import service as participation
from im2.sharing import service
from im2.sharing.schemas import CHANNEL_LABELS, KIT_CHANNELS, ShareTreeNode
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.links import public_base_url
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces import branding
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
CHART_NODES = 400  # a tree chart beyond a few hundred nodes is unreadable anyway


def tree_for_chart(
    edges: list[ShareTreeNode], label: str, names: Mapping[int, str] | None = None
) -> dict[str, Any]:
    """Nested {name, children} for ECharts' tree series, under one root for the campaign;
    only people who shared or were brought in (organic non-sharers would flood the chart).
    `leaves` counts the chart's leaves: the page gives each its own row, so labels never meet."""
    children: dict[int | None, list[int]] = {}
    for edge in edges:
        children.setdefault(edge.parent_id, []).append(edge.participant_id)
    in_tree = {e.participant_id for e in edges if e.parent_id is not None}
    in_tree |= {e.parent_id for e in edges if e.parent_id is not None}
    budget = [CHART_NODES]
    leaves = [0]
    shown = names or {}

    def node(pid: int) -> dict[str, Any]:
        budget[0] -= 1
        kids = [node(c) for c in children.get(pid, []) if budget[0] > 0]
        if not kids:
            leaves[0] += 1
        return {"name": shown.get(pid) or f"#{pid}", "children": kids}

    roots = [pid for pid in children.get(None, []) if pid in in_tree]
    tree = {"name": label, "children": [node(r) for r in roots if budget[0] > 0]}
    return {**tree, "leaves": leaves[0]}


def people_names(session: Any, *, actor: Actor, participant_ids: list[int]) -> dict[int, str]:
    """How the console names participants: their nickname (masked for a role that may not see
    people: 王*明), else "participant 834" (the nickname is optional)."""
    found = participation.get_signals(
        session, workspace_id=actor.workspace_id, participant_ids=participant_ids
    )
    may_see = actor.can(Permission.READ_PEOPLE)
    names = {}
    for pid in participant_ids:
        nickname = (found[pid].nickname or "").strip() if pid in found else ""
        if nickname:
            names[pid] = nickname if may_see else mask_name(nickname)
        else:
            names[pid] = _("Participant {n}").format(n=pid)
    return names


# The page's figures, asked of the analytics registry (the one place a metric is computed).
FIGURES = ["participants", "k_factor", "cascade"]


@dataclass(frozen=True, slots=True)
class Figures:
    participants: float
    referred: int  # participants brought by someone's share (the K-factor's numerator)
    k_factor: float | None
    k_ci: tuple[float, float] | None  # the registry's 95 % confidence interval of the K-factor
    k_eligible: int  # the K-factor's cohort: people who had the whole invitation window
    k_window_days: float
    k_definition: str  # the registry's description, shown as the figure's explanation
    depth: int
    structural_virality: float | None
    viral_cycle_hours: float | None


def figures_of(metrics: Mapping[str, Any], reader: FiguresReader) -> Figures:
    k_row = (metrics["k_factor"].rows or [{}])[0]
    cascade = (metrics["cascade"].rows or [{}])[0]
    low, high = k_row.get("ci_low"), k_row.get("ci_high")
    return Figures(
        participants=metrics["participants"].value or 0,
        referred=int(k_row.get("invited_participants") or 0),
        k_factor=metrics["k_factor"].value,
        k_ci=(low, high) if low is not None and high is not None else None,
        k_eligible=int(k_row.get("eligible_participants") or 0),
        k_window_days=float(k_row.get("window_days") or 0),
        k_definition=reader.describe("k_factor"),
        depth=int(cascade.get("depth") or 0),
        structural_virality=cascade.get("structural_virality"),
        viral_cycle_hours=cascade.get("viral_cycle_hours"),
    )


@router.get("/campaigns/{campaign_id}/sharing")
def sharing(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    figures: FiguresDep,
) -> Response:
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        stats = service.share_stats(session, actor=actor, campaign_id=campaign_id)
        in_tree = {e.participant_id for e in stats.edges if e.parent_id is not None}
        in_tree |= {e.parent_id for e in stats.edges if e.parent_id is not None}
        names = people_names(
            session,
            actor=actor,
            participant_ids=sorted(
                {p for p in in_tree if p is not None} | {pid for pid, _n in stats.top_sharers}
            ),
        )
        found = figures.read(
            session,
            actor=actor,
            campaign_id=campaign_id,
            keys=FIGURES,
            lake_path=settings.lake_path,
            now=now,
        )
    return render(
        request,
        "sharing/console.html",
        {
            "campaign": campaign,
            "stats": stats,
            "figures": figures_of(found, figures),
            "tree": tree_for_chart(stats.edges, campaign.name, names),
            "names": names,
            "kit": share_kit(request, campaign.slug),
            "channel_names": {name: _(label) for name, label in CHANNEL_LABELS.items()},
            "nav": "campaigns",
        },
    )


# --- the marketer's share kit ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KitItem:
    channel: str
    label: str
    url: str


def kit_url(base: str, slug: str, channel: str, medium: str) -> str:
    """The campaign's public page tagged for one channel: `ch` for IM2's own channel figures,
    UTM parameters for the brand's web analytics."""
    query = {
        "ch": channel,
        "utm_source": channel,
        "utm_medium": medium,
        "utm_campaign": slug,
    }
    return f"{base}/c/{slug}?{urlencode(query)}"


def share_kit(request: Request, slug: str) -> list[KitItem]:
    base = public_base_url(request)
    return [
        KitItem(channel=name, label=_(label), url=kit_url(base, slug, name, medium))
        for name, label, medium in KIT_CHANNELS
    ]


def _kit_item(request: Request, slug: str, channel: str) -> KitItem:
    for item in share_kit(request, slug):
        if item.channel == channel:
            return item
    raise NotFound(_("Not found."))


@router.get("/campaigns/{campaign_id}/sharing/kit/{channel}.{fmt}")
def kit_qr(
    request: Request, campaign_id: Id, channel: str, fmt: str, actor: ConsoleActor, db: DbDep
) -> Response:
    """A channel's QR code to download: PNG for documents and chats, SVG for print."""
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    item = _kit_item(request, campaign.slug, channel)
    buffer = io.BytesIO()
    if fmt == "svg":
        qrcode.make(item.url, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
        media_type = "image/svg+xml"
    elif fmt == "png":
        qrcode.make(item.url, box_size=10, border=4).save(buffer)
        media_type = "image/png"
    else:
        raise NotFound(_("Not found."))
    return Response(
        buffer.getvalue(),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{campaign.slug}-{channel}-qr.{fmt}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/campaigns/{campaign_id}/sharing/kit/{channel}/poster.png")
def kit_poster(
    request: Request, campaign_id: Id, channel: str, actor: ConsoleActor, db: DbDep
) -> Response:
    """The campaign's poster for one channel: its title, the brand inviting, the QR code."""
    from im2.sharing.poster import render_poster

    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        brand = branding.resolve_brand(
            session, workspace_id=actor.workspace_id, campaign_id=campaign.id
        )
    item = _kit_item(request, campaign.slug, channel)
    png = render_poster(
        title=campaign.name,
        subtitle=campaign.description.strip().split("\n", 1)[0] or None,
        nickname=brand.name,
        url=item.url,
        locale=get_locale(),
    )
    return Response(
        png,
        media_type="image/png",
        headers={
            "Content-Disposition": f'attachment; filename="{campaign.slug}-{channel}-poster.png"',
            "Cache-Control": "private, no-store",
        },
    )


# --- the brand on the public pages ----------------------------------------------------------


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


async def _image(form: FormData, name: str, errors: dict[str, str]) -> branding.CleanImage | None:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(branding.MAX_IMAGE_BYTES + 1)
    try:
        return branding.clean_brand_image(data, field=name)
    except InvalidInput as error:
        errors[name] = error.message
        return None


async def _changes(form: FormData) -> tuple[branding.BrandChanges, dict[str, str]]:
    errors: dict[str, str] = {}
    changes = branding.BrandChanges(
        name=_text(form, "name"),
        primary_color=_text(form, "primary_color"),
        accent_color=_text(form, "accent_color"),
        logo=await _image(form, "logo", errors),
        cover=await _image(form, "cover", errors),
        remove_logo=form.get("remove_logo") == "1",
        remove_cover=form.get("remove_cover") == "1",
    )
    return changes, errors


def _brand_page(
    request: Request,
    *,
    actor: Actor,
    db: Any,
    campaign: Any,
    errors: dict[str, str] | None = None,
    notices: list[str] | None = None,
    typed: Mapping[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    campaign_id = campaign.id if campaign is not None else None
    with db.session() as session:
        stored = branding.get_brand(session, actor=actor, campaign_id=campaign_id)
        shown = branding.resolve_brand(
            session, workspace_id=actor.workspace_id, campaign_id=campaign_id
        )
        inherited = (
            branding.resolve_brand(session, workspace_id=actor.workspace_id, campaign_id=None)
            if campaign is not None
            else None
        )
    return render(
        request,
        "sharing/brand.html",
        {
            "campaign": campaign,
            "stored": stored,
            "shown": shown,
            "inherited": inherited,
            "errors": errors or {},
            "notices": notices or [],
            "typed": typed or {},
            "saved": saved,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "logo_url": branding.brand_image_url(actor.workspace_id, stored.logo),
            "cover_url": branding.brand_image_url(actor.workspace_id, stored.cover),
            "shown_ratio": (
                branding.format_ratio(branding.contrast_ratio(shown.primary_text, shown.primary))
                if shown.primary and shown.primary_text
                else None
            ),
            "max_mb": branding.MAX_IMAGE_BYTES // (1024 * 1024),
            "nav": "brand" if campaign is None else "campaigns",
        },
        status_code=status_code,
    )


async def _save_brand(
    request: Request,
    *,
    actor: Actor,
    db: Any,
    settings: Any,
    now: Any,
    form: FormData,
    campaign: Any,
    back: str,
) -> Response:
    changes, errors = await _changes(form)
    typed = {k: v for k in ("name", "primary_color", "accent_color") if (v := _text(form, k))}
    try:
        branding.check_brand(changes)  # every problem at once, before any file is written
    except branding.BrandInvalid as invalid:
        errors = {**invalid.errors, **errors}
    if errors:
        return _brand_page(
            request,
            actor=actor,
            db=db,
            campaign=campaign,
            errors=errors,
            typed=typed,
            status_code=422,
        )
    campaign_id = campaign.id if campaign is not None else None
    with branding.BrandFiles(settings.media_path, workspace_id=actor.workspace_id) as files:
        logo = files.save(changes.logo) if changes.logo else None
        cover = files.save(changes.cover) if changes.cover else None
        with db.transaction() as session:
            saved = branding.do_set_brand(
                session,
                actor=actor,
                campaign_id=campaign_id,
                changes=changes,
                logo_name=logo,
                cover_name=cover,
                now=now,
            )
    branding.delete_brand_images(
        settings.media_path, workspace_id=actor.workspace_id, names=saved.replaced
    )
    branding.BRANDS.clear()
    if saved.notices:
        return _brand_page(
            request, actor=actor, db=db, campaign=campaign, notices=saved.notices, saved=True
        )
    return RedirectResponse(f"{back}?saved=1", status_code=303)


@router.get("/brand")
def brand_settings(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _brand_page(
        request, actor=actor, db=db, campaign=None, saved=request.query_params.get("saved") == "1"
    )


@router.post("/brand")
async def save_brand_settings(
    request: Request,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    form: CsrfForm,
) -> Response:
    back = f"/console/w/{actor.workspace_slug}/brand"
    return await _save_brand(
        request,
        actor=actor,
        db=db,
        settings=settings,
        now=now,
        form=form,
        campaign=None,
        back=back,
    )


@router.get("/campaigns/{campaign_id}/brand")
def campaign_brand(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    return _brand_page(
        request,
        actor=actor,
        db=db,
        campaign=campaign,
        saved=request.query_params.get("saved") == "1",
    )


@router.post("/campaigns/{campaign_id}/brand")
async def save_campaign_brand(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    form: CsrfForm,
) -> Response:
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    back = f"/console/w/{actor.workspace_slug}/campaigns/{campaign.id}/brand"
    return await _save_brand(
        request,
        actor=actor,
        db=db,
        settings=settings,
        now=now,
        form=form,
        campaign=campaign,
        back=back,
    )
