"""How a report reads and shows its numbers: one metric's value or rows, numbers, percentages
and money as text, the labels of KPIs, channels and AISAS stages. The service's conclusions and
charts and the document's templates use the same ones, so a figure reads alike everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from im2.analytics.metrics import AISAS_STAGES
from im2.analytics.schemas import MetricResult
from im2.campaigns.schemas import CHANNEL_LABELS, KPI_LABELS, Channel, KpiMetric
from im2.i18n import _
from im2.reports.schemas import CampaignReport


def metric(report: CampaignReport, key: str) -> MetricResult:
    return report.metrics.metrics[key]


def value(report: CampaignReport, key: str) -> float | None:
    return report.metrics.metrics[key].value


def rows(report: CampaignReport, key: str) -> list[dict[str, Any]]:
    return report.metrics.metrics[key].rows or []


def fmt_number(number: float | None) -> str:
    if number is None:
        return "—"
    if float(number).is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}"


def fmt_percent(number: float | None) -> str:
    return "—" if number is None else f"{number:,.1f}%"


def fmt_value(number: float | None, unit: str) -> str:
    if unit == "percent":
        return fmt_percent(number)
    if unit == "CNY" and number is not None:
        return f"¥{number:,.2f}"
    return fmt_number(number)


def fmt_forecast(number: float | None, unit: str) -> str:
    """A forecast as people read it: whole people and counts ("1,210", not "1,210.25")."""
    if number is None or unit in ("percent", "CNY"):
        return fmt_value(number, unit)
    return fmt_number(round(number))


def kpi_label(key: str) -> str:
    try:
        return _(KPI_LABELS[KpiMetric(key)])
    except ValueError:
        return key


def channel_label(key: str) -> str:
    if key == "direct":
        return _("Direct")
    try:
        return _(CHANNEL_LABELS[Channel(key)])
    except ValueError:
        return key


def stage_labels() -> dict[str, str]:
    return {key: _(name) for key, name in AISAS_STAGES}


def nothing_yet(report: CampaignReport) -> bool:
    return not value(report, "reach") and not value(report, "participants")


def local(moment: datetime, zone: str, fmt: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)
