"""One Jinja environment for every room's templates, with gettext and shared helpers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from im2 import i18n
from im2.outbound import web_link
from im2.web.csrf import FIELD, csrf_token

_PACKAGE = Path(__file__).resolve().parent.parent
# The shared layout first, then every domain's own templates/ folder (names are namespaced by
# a sub-folder, e.g. campaigns/templates/campaigns/list.html), and those of the parts a domain
# keeps in sub-packages (people/ladder/templates/people/ladder/dashboard.html).
TEMPLATE_DIRS = [
    _PACKAGE / "web" / "templates",
    *sorted(p for p in _PACKAGE.glob("*/templates") if p.parent.name != "web"),
    *sorted(_PACKAGE.glob("*/*/templates")),
]

env = Environment(
    loader=FileSystemLoader([str(p) for p in TEMPLATE_DIRS]),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)


def local_time(
    value: datetime | None, zone: str = "Asia/Shanghai", fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def input_time(value: datetime | None, zone: str) -> str:
    """The value a datetime-local input shows: wall-clock time in the campaign's zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def pretty_json(value: object) -> str:
    """Readable JSON for people (CJK kept as is); the template autoescapes it."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)


env.filters["local_time"] = local_time
env.filters["pretty_json"] = pretty_json
env.filters["input_time"] = input_time
env.filters["number"] = number
# A stored URL as an href only when it is http(s); templates show anything else as text.
env.filters["safe_href"] = web_link
env.globals["tr"] = i18n.gettext  # translate a value marked with N_ elsewhere


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "request": request,
        "locale": i18n.get_locale(),
        "locales": i18n.LOCALE_NAMES,
        "csrf_field": FIELD,
        "csrf_token": csrf_token(request),
        "user": getattr(request.state, "user", None),
        "actor": getattr(request.state, "actor", None),
    }
    ctx.update(context or {})
    html = env.get_template(name).render(ctx)
    return HTMLResponse(html, status_code=status_code)
