"""Which addresses listening may call: feeds it polls, the alert webhook, the mail relay.

The rule and the one reading of an address are `im2.outbound`'s (the webhooks' too): outside
development, nothing on loopback, private or link-local networks (the cloud metadata address
above all), in any spelling, unless IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS says so. Addresses are
refused when saved and stored in their canonical spelling; what a name resolves to is checked
again before each call, and on every redirect.
"""

from __future__ import annotations

from im2 import outbound
from im2.config import get_settings
from im2.listening.schemas import ListeningSettingsIn


def private_networks_allowed(value: bool | None = None) -> bool:
    """`value`, or the settings' choice when a caller (a job) has none of its own."""
    return get_settings().webhooks_reach_private_networks if value is None else value


def check_feed_url(url: str, *, private_networks: bool) -> str:
    """The feed's URL in its canonical spelling; `InvalidInput` on `url` when unusable."""
    return outbound.check_url(
        url, field="url", wording=outbound.FEED_URL, private_networks=private_networks
    )


def check_delivery(data: ListeningSettingsIn, *, private_networks: bool) -> ListeningSettingsIn:
    """The alert webhook and the mail relay, before the settings are saved: refused on their
    own field when unusable, and returned in their canonical spelling."""
    changes: dict[str, str] = {}
    if data.webhook_url:
        changes["webhook_url"] = outbound.check_url(
            data.webhook_url,
            field="webhook_url",
            wording=outbound.WEBHOOK_URL,
            private_networks=private_networks,
        )
    if data.smtp_host:
        changes["smtp_host"] = outbound.check_host(
            data.smtp_host,
            field="smtp_host",
            wording=outbound.MAIL_HOST,
            private_networks=private_networks,
        )
    return data.model_copy(update=changes) if changes else data


def refused(host: str, port: int) -> str | None:
    """The address `host` leads to when it is not public (None when it is, or cannot be
    resolved: the connection attempt then reports that itself)."""
    try:
        return outbound.resolve_non_public(host, port)
    except (OSError, UnicodeError, outbound.UnusableUrl):
        return None
