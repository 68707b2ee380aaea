"""What feed polls and alert deliveries record, and how the console says it.

They are stored as short codes with details (``HTTP 404``, ``not_a_feed``,
``failed: ConnectError``), the same whatever the language of the moment, and put into words
when a page is drawn, in the reader's language. Rows stored before a code existed (the
exception's own words) still show, as the details of a failed fetch or delivery.
"""

from __future__ import annotations

import re
from typing import Final

from im2.i18n import N_, _

# --- feed polls (Feed.last_error) ------------------------------------------------------------

NOT_A_FEED: Final = "not_a_feed"
TOO_LARGE: Final = "too_large"
TOO_MANY_REDIRECTS: Final = "too_many_redirects"
REFUSED: Final = "refused"  # "refused: 10.0.0.7"
_HTTP_STATUS = re.compile(r"HTTP (\d{3})")


def refused(address: str) -> str:
    return f"{REFUSED}: {address}"


def feed_error_text(stored: str | None) -> str:
    """A feed's last poll problem in words ("" when the poll went well)."""
    if not stored:
        return ""
    code, _sep, detail = stored.partition(": ")
    if code == NOT_A_FEED:
        return _("The address answered with something that is not an RSS or Atom feed.")
    if code == TOO_LARGE:
        return _("The feed is larger than {limit}; it was not read.").format(limit=detail)
    if code == TOO_MANY_REDIRECTS:
        return _("The address redirects too many times.")
    if code == REFUSED:
        return _(
            "The feed leads to {address}, which is not a public internet address; "
            "it was not fetched."
        ).format(address=detail)
    status = _HTTP_STATUS.fullmatch(stored)
    if status:
        return _("The server answered with HTTP status {status}.").format(status=status.group(1))
    # The network error's own name and words ("ConnectError: ..."), kept as details.
    return _("The feed could not be fetched ({details}).").format(details=stored)


# --- alert deliveries (Alert.delivery: channel -> outcome) ------------------------------------

SHOWN: Final = "shown"
SENT: Final = "sent"
FAILED: Final = "failed"  # "failed: HTTP 500", "failed: ConnectionRefusedError"
CHANNEL_LABELS: Final = {"console": N_("Console"), "webhook": N_("Webhook"), "email": N_("E-mail")}


def delivery_text(channel: str, stored: str) -> str:
    """One channel's delivery outcome in words, e.g. "Webhook: failed (HTTP 500)"."""
    label = _(CHANNEL_LABELS[channel]) if channel in CHANNEL_LABELS else channel
    code, _sep, detail = str(stored).partition(": ")
    if code == SHOWN:
        outcome = _("shown")
    elif code == SENT:
        outcome = _("sent")
    elif code == FAILED:
        outcome = _("failed ({details})").format(details=detail) if detail else _("failed")
    elif code == REFUSED:
        outcome = _("not sent: {address} is not a public internet address").format(address=detail)
    else:
        outcome = str(stored)
    return _("{channel}: {outcome}").format(channel=label, outcome=outcome)
