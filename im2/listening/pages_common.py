"""What the listening console pages share: the URL prefix, vocabularies for the templates,
form helpers and the write check.

The pages are split into `pages.py` (overview, import, mentions), `pages_topics.py` (topics,
alerts and their settings) and `pages_inbox.py` (the response inbox); only `pages.py` is
discovered, and it includes the other routers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastapi import Request
from starlette.responses import Response

from im2.errors import IM2Error
from im2.i18n import N_
from im2.listening.importers import row_error_text
from im2.listening.outcomes import delivery_text, feed_error_text
from im2.listening.schemas import (
    ALERT_KIND_LABELS,
    INBOX_REASON_LABELS,
    INBOX_STATUS_LABELS,
    PLATFORM_LABELS,
    PRIORITY_LABELS,
    SENSITIVITY_LABELS,
    SENTIMENT_LABELS,
    TOPIC_KIND_LABELS,
    InboxStatus,
    Platform,
    Priority,
    Sensitivity,
    SentimentLabel,
    TopicKind,
)
from im2.web.forms import (
    FormState,
    ShowAgain,
    field_errors,
    save_or_show_again,
    see_other,
    service_error,
)
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

PREFIX: Final = "/console/w/{workspace}/listening"

# The default escalation ladder is stored with English step names (schemas.py); marking them
# here puts them in the catalogue, so `tr()` shows them in Chinese while custom names a brand
# typed stay as typed.
LADDER_STEP_NAMES: Final = (N_("Public reply"), N_("Private message"), N_("E-mail or phone"))

LANGUAGE_LABELS: Final = {"zh": N_("Chinese"), "en": N_("English")}


def base_url(actor: Actor) -> str:
    return f"/console/w/{actor.workspace_slug}/listening"


def vocabulary() -> dict[str, Any]:
    return {
        "platforms": list(Platform),
        "platform_labels": PLATFORM_LABELS,
        "sentiments": list(SentimentLabel),
        "sentiment_labels": SENTIMENT_LABELS,
        "topic_kinds": list(TopicKind),
        "topic_kind_labels": TOPIC_KIND_LABELS,
        "sensitivities": list(Sensitivity),
        "sensitivity_labels": SENSITIVITY_LABELS,
        "alert_kind_labels": ALERT_KIND_LABELS,
        "inbox_statuses": list(InboxStatus),
        "inbox_status_labels": INBOX_STATUS_LABELS,
        "priorities": list(Priority),
        "priority_labels": PRIORITY_LABELS,
        "reason_labels": INBOX_REASON_LABELS,
        "language_labels": LANGUAGE_LABELS,
        # Stored codes (feed polls, alert deliveries) in the reader's language.
        "feed_error_text": feed_error_text,
        "delivery_text": delivery_text,
        "row_error_text": row_error_text,
        "nav": "listening",
    }


def listening_page(
    request: Request,
    actor: Actor,
    name: str,
    section: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    state: FormState | None = None,
) -> Response:
    """A listening console page (`listening/<name>.html`): the vocabulary, the section's tab,
    whether the user may write, and the section's base URL, besides the page's own `context`.
    A form page passes its `state`: what was typed, the errors and the status to answer with."""
    if state is not None:
        context = {**state.shown(), **context}
        status_code = state.status_code
    return render(
        request,
        f"listening/{name}.html",
        {
            **vocabulary(),
            "section": section,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "base": base_url(actor),
            **context,
        },
        status_code=status_code,
    )


def require_write(actor: Actor) -> None:
    """Fail before showing a form the user could not submit."""
    require(actor, Permission.WRITE_CAMPAIGNS)


def lines(text: str) -> list[str]:
    """A textarea with one entry per line, blank lines dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


redirect = see_other


def write_or_show_again(
    write: Callable[[], object],
    *,
    again: ShowAgain,
    done: str,
    values: dict[str, Any] | None = None,
    refused: Callable[[IM2Error], dict[str, str]] = service_error,
) -> Response:
    """`save_or_show_again`, with errors on list items (`crisis_contacts.2.email`) pointed at
    the form field they came from."""
    return save_or_show_again(
        write,
        again=again,
        done=done,
        values=values,
        invalid=field_errors,
        refused=refused,
    )


def safe_back(back: str | None, default: str) -> str:
    """A query string to return to after a form (never another site: only `?...`)."""
    if back and back.startswith("?") and "\n" not in back and "\r" not in back:
        return default + back
    return default
