"""Render a gathered report: a standalone HTML document, or a PDF of it through WeasyPrint.

The PDF embeds the bundled Noto Sans SC through `@font-face` (a file URL), so it needs no font
of the machine; the HTML download names the same family first and falls back to the reader's
CJK fonts. Charts are SVG with text as paths, embedded as data URIs, so both look the same
everywhere.
"""

from __future__ import annotations

import base64
import functools
import logging
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from im2 import fonts, i18n

if TYPE_CHECKING:
    from im2.reports.schemas import CampaignReport

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"

env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)


def css_string(value: str) -> Markup:
    """A CSS string literal of `value`, safe inside a <style> element."""
    escaped = "".join(
        f"\\{ord(c):X} " if c in '\\"<>&\n\r' or not c.isprintable() else c for c in value
    )
    return Markup(f'"{escaped}"')  # noqa: S704 - every character that could break out is escaped


env.filters["css_string"] = css_string


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def report_context(report: CampaignReport) -> dict[str, Any]:
    """What the report templates read (the console page uses the same)."""
    from im2.reports import numbers

    def local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return "—"
        if isinstance(value, str):  # registry rows carry ISO times
            value = datetime.fromisoformat(value)
        return str(value.astimezone(ZoneInfo(report.campaign.timezone)).strftime(fmt))

    return {
        "report": report,
        "campaign": report.campaign,
        "m": report.metrics.metrics,
        "rows": lambda key: numbers.rows(report, key),
        "fmt_number": numbers.fmt_number,
        "fmt_percent": numbers.fmt_percent,
        "fmt_value": numbers.fmt_value,
        "fmt_forecast": numbers.fmt_forecast,
        "kpi_label": numbers.kpi_label,
        "channel_label": numbers.channel_label,
        "stages": numbers.stage_labels(),
        "nothing_yet": numbers.nothing_yet(report),
        "local": local,
        "charts": {key: svg_data_uri(svg) for key, svg in report.charts.items()},
        "objective_label": _objective_label(report),
        "kind_label": _kind_label,
        "media_label": _media_label,
        "kind_status": _experiment_status,
        "html_lang": "zh-CN" if report.locale == "zh_CN" else "en",
    }


def _objective_label(report: CampaignReport) -> str:
    from im2.campaigns.schemas import OBJECTIVE_LABELS

    return i18n.gettext(OBJECTIVE_LABELS[report.campaign.objective])


def _kind_label(kind: Any) -> str:
    from im2.activities.schemas import KIND_LABELS

    return i18n.gettext(KIND_LABELS[kind])


def _experiment_status(status: Any) -> str:
    labels = {
        "draft": i18n.gettext("Draft"),
        "running": i18n.gettext("Running"),
        "concluded": i18n.gettext("Concluded"),
    }
    return labels.get(str(status), str(status))


def _media_label(media: Any) -> str:
    from im2.campaigns.schemas import MEDIA_LABELS, Media

    return i18n.gettext(MEDIA_LABELS[Media(media)])


def render_html(report: CampaignReport, *, for_pdf: bool = False) -> str:
    """The standalone report document (call inside `use_locale(report.locale)`)."""
    return env.get_template("reports/document.html").render(
        **report_context(report),
        for_pdf=for_pdf,
        font_regular=fonts.REGULAR.as_uri(),
        font_bold=fonts.BOLD.as_uri(),
    )


def render_pdf(report: CampaignReport) -> bytes:
    """A4 PDF with a running header and page numbers, in the bundled font."""
    return html_to_pdf(render_html(report, for_pdf=True))


def html_to_pdf(html: str) -> bytes:
    document = _weasyprint().HTML(string=html, base_url=str(TEMPLATES))
    pdf: bytes = document.write_pdf()
    return pdf


@functools.cache
def _weasyprint() -> Any:
    """WeasyPrint, imported so that a missing HarfBuzz-Subset library is a notice, not a failure.

    Without libharfbuzz-subset0 WeasyPrint subsets the embedded font with fontTools instead (the
    same PDF, made more slowly) and warns at import that a future version will need the library.
    Under a strict warnings filter (the test suite's, or a deployment's) that warning would turn
    a report download into an error, so it is replaced by one log line that says what to install.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="HarfBuzz-Subset will be required", category=DeprecationWarning
        )
        import weasyprint
        from weasyprint.text import ffi

    if ffi.harfbuzz_subset is None:
        log.warning(
            "PDF fonts are subset with fontTools because the HarfBuzz-Subset library is missing: "
            "the report is complete but slower to make "
            "(Debian: apt-get install libharfbuzz-subset0)"
        )
    return weasyprint
