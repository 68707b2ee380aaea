"""What the campaign dashboard shows before its script runs, and how the script words it: the
cards (each figure as the script writes it, its KPI target and progress, the K-factor's basis),
the charts in order, the labels the script uses, and the filters' times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from im2.analytics.metrics import AISAS_STAGES, CHART_METRICS, HEADLINE_METRICS, METRICS
from im2.analytics.schemas import MetricsRead
from im2.campaigns.schemas import CHANNEL_LABELS, MEDIA_LABELS, Channel
from im2.errors import InvalidInput
from im2.i18n import _

# Cards on top of the dashboard, in order.
CARDS = (*HEADLINE_METRICS, "new_vs_returning")
SECONDS = "%Y-%m-%d %H:%M:%S"  # "Updated" times, in the campaign's (or workspace's) zone
CHARTS = (*CHART_METRICS, "kpi_progress")


def fmt_figure(value: float | None, unit: str = "count") -> str:
    """A figure as the dashboard's script writes it (the cards' first paint, before it runs)."""
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "CNY":
        return f"¥{round(value):,}"
    return f"{round(value):,}"


def k_factor_basis(row: dict[str, Any] | None) -> str:
    """Under the K-factor: its confidence interval and the cohort it counts, as the
    dashboard's script writes it when the figures change (`labels.k_*`)."""
    row = row or {}
    days = f"{row.get('window_days') or 0:g}"
    if not row.get("eligible_participants"):
        return _("nobody has had {days} days to invite friends yet").format(days=days)
    basis = _(
        "new participants per participant, over the {n} who joined at least {days} days ago"
    ).format(n=row["eligible_participants"], days=days)
    if row.get("ci_low") is None or row.get("ci_high") is None:
        return basis
    # The catalog's text is written for templates (newstyle gettext, `%%`); `% {}` unescapes it.
    interval = (_("95%% CI {low} – {high}") % {}).format(
        low=f"{row['ci_low']:.2f}", high=f"{row['ci_high']:.2f}"
    )
    return f"{interval} · {basis}"


def cards(data: MetricsRead | None) -> list[dict[str, Any]]:
    """The cards on top: `CARDS`, then each metric with a KPI target but no card of its own,
    each with its target, progress and forecast when the campaign set a target on it."""
    rows = (data.metrics["kpi_progress"].rows or []) if data else []
    kpis = {row["metric"]: row for row in rows}
    out = []
    for key in [*CARDS, *(k for k in kpis if k not in CARDS)]:
        found = data.metrics.get(key) if data else None
        kpi = kpis.get(key)
        value = found.value if found else (kpi["value"] if kpi else None)
        unit = METRICS[key].unit.value
        out.append(
            {
                "key": key,
                "name": _(METRICS[key].name),
                "value": fmt_figure(value, unit),
                # The K-factor says what it counts and how sure it is (the registry's rows).
                "detail": k_factor_basis(found.rows[0] if found and found.rows else None)
                if key == "k_factor"
                else None,
                "title": _(METRICS[key].description) if key == "k_factor" else None,
                "kpi": None
                if kpi is None
                else {
                    "target": fmt_figure(kpi["target"], unit),
                    "progress": fmt_figure(kpi["progress"], "percent"),
                    "bar": min(100.0, max(0.0, kpi["progress"] or 0.0)),
                    "on_track": kpi["on_track"],
                },
            }
        )
    return out


def parse_time(value: str | None, field: str) -> datetime | None:
    """A datetime-local input (wall-clock in the campaign's zone) or an ISO time; blank is none."""
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            _("Enter a date and time such as 2026-03-02T10:00."), field=field
        ) from None


def labels() -> dict[str, Any]:
    return {
        "series": {
            "reach": _("Reach"),
            "participants": _("Participants"),
            "interactions": _("Interactions"),
            "shares": _("Shares"),
            "conversions": _("Conversions"),
            "revenue": _("Revenue"),
        },
        "stages": {key: _(name) for key, name in AISAS_STAGES},
        "channels": {c.value: _(CHANNEL_LABELS[c]) for c in Channel} | {"direct": _("Direct")},
        "media": {m.value: _(label) for m, label in MEDIA_LABELS.items()},
        "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        "events": _("Events"),
        "empty": _("No data yet."),
        "budget": _("Budget"),
        "on_track": _("On track"),
        "behind": _("Behind"),
        "no_shares": _("Nobody has joined through a share link yet."),
        "k_ci": _("95%% CI {low} – {high}") % {},
        "k_basis": _(
            "new participants per participant, over the {n} who joined at least {days} days ago"
        ),
        "k_none": _("nobody has had {days} days to invite friends yet"),
    }
