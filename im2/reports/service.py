"""Campaign effect reports: gather the figures (from the analytics registry) and the lists (top
UGC entries, top sharers, the listening timeline) once, conclude from them, render HTML or PDF.

The report computes no metric itself: every number is an answer of `im2.analytics.service`,
so the report, the dashboard and `GET /api/v1/campaigns/{id}/overview` always agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from im2.activities.formats.ugc import review as ugc
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.activities.service import list_activities
from im2.analytics import service as analytics
from im2.campaigns import service as campaigns
from im2.errors import InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.experiments import service as experiments
from im2.experiments.schemas import ExperimentResults, ExperimentStatus
from im2.i18n import _, normalize_locale, use_locale
from im2.listening import topics
from im2.listening.schemas import Dashboard
from im2.masking import masked_for, shown_name
from im2.participation import service as participation
from im2.reports import charts
from im2.reports.document import render_html, render_pdf
from im2.reports.numbers import (
    channel_label,
    fmt_forecast,
    fmt_number,
    fmt_percent,
    fmt_value,
    kpi_label,
    local,
    nothing_yet,
    rows,
    stage_labels,
    value,
)
from im2.reports.results import activity_results
from im2.reports.schemas import (
    MEDIA_TYPES,
    REPORT_LOCALES,
    CampaignReport,
    ReportFile,
    ReportFormat,
    SharerHighlight,
    UgcHighlight,
)
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import get_workspace_by_id, record_audit, require

# What the report reads from the registry: the dashboard's overview plus the counts behind
# the UGC and fission objectives.
REPORT_METRICS = (*analytics.OVERVIEW_METRICS, "viewers", "ugc_count", "shares")
TOP_UGC_PER_CONTEST = 5
TOP_SHARERS = 10
SENTIMENT_DEFAULT_DAYS = 30


def check_format(value: str) -> ReportFormat:
    try:
        return ReportFormat(value.strip().lower())
    except ValueError:
        raise InvalidInput(
            _("Unknown report format {name}; use html or pdf.").format(name=value), field="format"
        ) from None


def check_locale(value: str | None, default: str) -> str:
    if value is None or not value.strip():
        return default
    found = normalize_locale(value)
    if found not in REPORT_LOCALES:
        raise InvalidInput(
            _("Unknown report language {name}; use zh_CN or en.").format(name=value),
            field="locale",
        )
    return found


def campaign_for_slug(session: Session, *, slug: str) -> tuple[int, str]:
    """(campaign id, workspace slug) of the campaign with this slug, for the command line."""
    found = campaigns.get_public_campaign(session, slug=slug)
    if found is None:
        raise NotFound(_("There is no campaign with the slug {slug}.").format(slug=slug))
    workspace = get_workspace_by_id(session, workspace_id=found.workspace_id)
    return found.campaign.id, workspace.slug


# --- gathering ------------------------------------------------------------------------------


def _top_ugc(
    session: Session, *, actor: Actor, activities: list[ActivityRead]
) -> list[UgcHighlight]:
    found: list[UgcHighlight] = []
    for activity in activities:
        if activity.kind != ActivityKind.UGC:
            continue
        ranking = ugc.get_ranking(session, actor=actor, activity_id=activity.id)
        found.extend(
            UgcHighlight(
                activity=activity.title,
                rank=ranked.rank,
                nickname=ranked.entry.nickname,
                caption=ranked.entry.caption,
                votes=ranked.entry.votes,
                total=ranked.total,
                jury_average=ranked.jury_average,
                jurors=ranked.jurors,
                jury_weight=ranking.jury_weight,
            )
            for ranked in ranking.entries[:TOP_UGC_PER_CONTEST]
        )
    return found


def _top_sharers(session: Session, *, actor: Actor, campaign_id: int) -> list[SharerHighlight]:
    stats = sharing.share_stats(session, actor=actor, campaign_id=campaign_id)
    masked = masked_for(actor)  # nicknames masked without people:read (UGC's are, by ugc)
    return [
        SharerHighlight(
            participant_id=pid,
            nickname=shown_name(
                participation.get_profile(session, participant_id=pid).nickname, masked=masked
            ),
            brought=brought,
        )
        for pid, brought in stats.top_sharers[:TOP_SHARERS]
    ]


def _sentiment(
    session: Session,
    *,
    actor: Actor,
    campaign_starts: datetime | None,
    campaign_ends: datetime | None,
    now: datetime,
) -> Dashboard | None:
    """The workspace's mentions over the campaign's period (or the last 30 days of it)."""
    until = min(campaign_ends, now) if campaign_ends else now
    since = campaign_starts or until - timedelta(days=SENTIMENT_DEFAULT_DAYS)
    if until <= since:
        return None
    board = topics.dashboard(session, actor=actor, topic_id=None, since=since, until=until)
    return board if board.total else None


def _experiments(
    session: Session, *, actor: Actor, campaign_id: int, lake_path: Path, now: datetime
) -> list[ExperimentResults]:
    """Results of the campaign's experiments that have started, as the experiments domain
    computes them (drafts have no results)."""
    return [
        experiments.get_results(
            session, actor=actor, experiment_id=found.id, lake_path=lake_path, now=now
        )
        for found in experiments.list_experiments(session, actor=actor, campaign_id=campaign_id)
        if found.status is not ExperimentStatus.DRAFT
    ]


def build_report(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    lake_path: Path,
    now: datetime,
    locale: str,
) -> CampaignReport:
    """Gather a campaign's report. Raises NotFound/Forbidden as `get_campaign` does."""
    require(actor, Permission.READ_CAMPAIGNS)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    with use_locale(locale):
        metrics = analytics.get_metrics(
            session,
            actor=actor,
            campaign_id=campaign.id,
            keys=list(REPORT_METRICS),
            lake_path=lake_path,
            now=now,
        )
        activities = list_activities(session, actor=actor, campaign_id=campaign.id)
        report = CampaignReport(
            campaign=campaign,
            workspace_name=get_workspace_by_id(session, workspace_id=actor.workspace_id).name,
            generated_at=now,
            locale=locale,
            metrics=metrics,
            activities=activities,
            top_ugc=_top_ugc(session, actor=actor, activities=activities),
            top_sharers=_top_sharers(session, actor=actor, campaign_id=campaign.id),
            sentiment=_sentiment(
                session,
                actor=actor,
                campaign_starts=campaign.starts_at,
                campaign_ends=campaign.ends_at,
                now=now,
            ),
            experiments=_experiments(
                session, actor=actor, campaign_id=campaign.id, lake_path=lake_path, now=now
            ),
            conclusions=[],
            results=activity_results(session, actor=actor, activities=activities),
        )
        report.conclusions.extend(conclusions(report, now=now))
        report.charts.update(draw_charts(report))
    return report


# --- conclusions ----------------------------------------------------------------------------


def _kpi_conclusion(row: dict[str, Any], *, now: datetime) -> str:
    label, unit = kpi_label(row["metric"]), row["unit"]
    target = fmt_value(row["target"], unit)
    current = row["value"]
    if current is None:
        return _("{kpi}: no value yet (target {target}).").format(kpi=label, target=target)
    reached = fmt_value(current, unit)
    progress = fmt_percent(row["progress"])
    deadline = datetime.fromisoformat(row["deadline"]) if row["deadline"] else None
    if current >= row["target"]:
        return _("{kpi}: target {target} met, with {value} ({progress} of the target).").format(
            kpi=label, target=target, value=reached, progress=progress
        )
    if deadline is None or deadline <= now:
        return _(
            "{kpi}: target {target} missed; reached {value} ({progress} of the target)."
        ).format(kpi=label, target=target, value=reached, progress=progress)
    forecast = fmt_forecast(row["forecast"], unit)
    if row["on_track"]:
        return _(
            "{kpi}: {value} so far ({progress} of the target {target}); on track, forecast "
            "{forecast} by the deadline."
        ).format(kpi=label, value=reached, progress=progress, target=target, forecast=forecast)
    return _(
        "{kpi}: {value} so far ({progress} of the target {target}); behind, forecast {forecast} "
        "by the deadline."
    ).format(kpi=label, value=reached, progress=progress, target=target, forecast=forecast)


# A person can reach a later stage without this one (join without having searched), so a low
# count here is no drop: the funnel's conclusion steps over it.
SKIPPABLE_STAGES = frozenset({"search"})


def _biggest_drop(funnel: list[dict[str, Any]]) -> tuple[float, str, str] | None:
    """(percent kept, stage, next stage) of the steepest fall between the stages people have
    reached, or None when no stage holds fewer people than the one before it."""
    stages = [r for r in funnel if r["stage"] not in SKIPPABLE_STAGES and r["people"]]
    drops = [
        (row["people"] / before["people"] * 100, before["stage"], row["stage"])
        for before, row in pairwise(stages)
        if row["people"] < before["people"]
    ]
    return min(drops) if drops else None


def _unreached(funnel: list[dict[str, Any]]) -> list[str]:
    """The stages no one has reached yet (said as such, never as a 0 % drop)."""
    return [r["stage"] for r in funnel if r["stage"] not in SKIPPABLE_STAGES and not r["people"]]


def conclusions(report: CampaignReport, *, now: datetime) -> list[str]:
    """Plain sentences drawn from the numbers: each KPI met or missed (or on track), the best
    channel, the biggest drop in the funnel, what each poll, quiz and survey came to, return on
    budget and the viral factor."""
    out: list[str] = []
    kpis = rows(report, "kpi_progress")
    if not kpis:
        out.append(_("No KPI targets were set; set targets on the campaign to have them checked."))
    out.extend(_kpi_conclusion(row, now=now) for row in kpis)
    if nothing_yet(report):
        out.append(_("No one has been reached yet: no views or participation are recorded."))
        return out
    channels = [r for r in rows(report, "coverage_by_channel") if r["reach"]]
    if channels:
        best = channels[0]  # the registry orders channels by reach
        out.append(
            _("Best channel by reach: {channel}, {reach} people ({share} of all reach).").format(
                channel=channel_label(best["channel"]),
                reach=fmt_number(best["reach"]),
                share=fmt_percent(best["share"]),
            )
        )
    funnel = rows(report, "aisas_funnel")
    drop = _biggest_drop(funnel)
    if drop is not None:
        kept, before, after = drop
        names = stage_labels()
        sentence = _("Biggest funnel drop: from {before} to {after}; only {kept} went on.")
        out.append(
            sentence.format(before=names[before], after=names[after], kept=fmt_percent(kept))
        )
    if unreached := _unreached(funnel):
        names = stage_labels()
        separator = "、" if report.locale == "zh_CN" else ", "
        out.append(
            _("No one has reached {stages} yet.").format(
                stages=separator.join(names[s] for s in unreached)
            )
        )
    out.extend(
        _("{activity}: {result}").format(activity=r.title, result=r.headline)
        for r in report.results
        if r.lines
    )
    roi = value(report, "roi")
    if roi is not None:
        out.append(
            _("Return on the channel budgets: {roi} (revenue {revenue}).").format(
                roi=fmt_percent(roi), revenue=fmt_value(value(report, "revenue"), "CNY")
            )
        )
    for result in report.experiments:
        out.append(
            _("Experiment {name}: {verdict}").format(
                name=result.experiment.name, verdict=result.verdict
            )
        )
    k = value(report, "k_factor")
    k_row = (rows(report, "k_factor") or [{}])[0]
    if k is not None and k_row.get("ci_low") is not None and k_row.get("ci_high") is not None:
        out.append(
            _(
                "K-factor {k} (95% CI {low}–{high}): each of the {n} participants who had "
                "{days} days to invite friends brought {k} new participants on average."
            ).format(
                k=f"{k:.2f}",
                low=f"{k_row['ci_low']:.2f}",
                high=f"{k_row['ci_high']:.2f}",
                n=k_row["eligible_participants"],
                days=f"{k_row['window_days']:g}",
            )
        )
    return out


# --- charts ---------------------------------------------------------------------------------


def draw_charts(report: CampaignReport) -> dict[str, str]:
    """SVG charts for the sections that have data; a section without data shows its empty
    state instead of an empty chart."""
    out: dict[str, str] = {}
    kpis = [r for r in rows(report, "kpi_progress") if r["progress"] is not None]
    if kpis:
        out["kpi"] = charts.horizontal_bars(
            [kpi_label(r["metric"]) for r in kpis],
            [float(r["progress"]) for r in kpis],
            annotations=[fmt_percent(r["progress"]) for r in kpis],
            reference=100.0,
            reference_label=_("Target"),
        )
    funnel = rows(report, "aisas_funnel")
    if any(r["people"] for r in funnel):
        names = stage_labels()
        out["funnel"] = charts.horizontal_bars(
            [names[r["stage"]] for r in funnel],
            [float(r["people"]) for r in funnel],
            annotations=[
                f"{fmt_number(r['people'])} · {fmt_percent(r['of_attention'])}" for r in funnel
            ],
            color="#1d5fb8",
        )
    coverage = [r for r in rows(report, "coverage_by_channel") if r["reach"]]
    if coverage:
        out["channels"] = charts.horizontal_bars(
            [channel_label(r["channel"]) for r in coverage],
            [float(r["reach"]) for r in coverage],
            annotations=[f"{fmt_number(r['reach'])} · {fmt_percent(r['share'])}" for r in coverage],
            color="#1f7a4d",
        )
    series = rows(report, "timeseries")
    if series:
        out["timeseries"] = charts.lines(
            [r["day"][5:] for r in series],
            [
                (_("Reach"), [float(r["reach"]) for r in series]),
                (_("Participants"), [float(r["participants"]) for r in series]),
                (_("Interactions"), [float(r["interactions"]) for r in series]),
                (_("Shares"), [float(r["shares"]) for r in series]),
            ],
        )
    if report.sentiment is not None:
        points = report.sentiment.timeline
        daily = report.sentiment.bucket_minutes >= 24 * 60
        zone = report.campaign.timezone
        out["sentiment"] = charts.lines(
            [local(p.start, zone, "%m-%d" if daily else "%m-%d %H:%M") for p in points],
            [
                (_("Positive"), [float(p.positive) for p in points]),
                (_("Neutral"), [float(p.neutral) for p in points]),
                (_("Negative"), [float(p.negative) for p in points]),
            ],
            stacked=True,
            colors=("#1f7a4d", "#9aa3b2", "#c8102e"),
        )
    return out


# --- generating -----------------------------------------------------------------------------


def render_report(report: CampaignReport, fmt: ReportFormat) -> ReportFile:
    stamp = report.generated_at.strftime("%Y%m%d")
    filename = f"{report.campaign.slug}-report-{stamp}.{fmt.value}"
    with use_locale(report.locale):
        if fmt is ReportFormat.PDF:
            content = render_pdf(report)
        else:
            content = render_html(report).encode("utf-8")
    return ReportFile(content=content, filename=filename, media_type=MEDIA_TYPES[fmt])


def do_generate_report(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    fmt: ReportFormat,
    lake_path: Path,
    now: datetime,
    locale: str,
) -> ReportFile:
    """Build and render a report, recording report.generated (and an audit entry: a report
    takes a campaign's data out of the product)."""
    report = build_report(
        session, actor=actor, campaign_id=campaign_id, lake_path=lake_path, now=now, locale=locale
    )
    file = render_report(report, fmt)
    record_event(
        session,
        kind=EventKind.REPORT_GENERATED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        campaign_id=report.campaign.id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"format": fmt.value, "locale": locale, "bytes": len(file.content)},
    )
    record_audit(
        session,
        actor,
        "report.generated",
        ("campaign", report.campaign.id),
        f"report ({fmt.value}, {locale}) of {report.campaign.name}",
        now=now,
        after={"format": fmt.value, "locale": locale},
    )
    return file
