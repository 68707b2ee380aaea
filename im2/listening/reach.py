"""Which addresses listening may call: feeds it polls, the alert webhook, the mail relay.

The rule is the webhooks' (`im2.webhooks.service`): outside development, nothing on loopback,
private or link-local networks (the cloud metadata address above all) unless
IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS says so. Addresses written out are refused when saved;
what a name resolves to is checked again before each call, and on every redirect.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from im2.config import get_settings
from im2.errors import InvalidInput
from im2.i18n import _
from im2.listening.schemas import ListeningSettingsIn
from im2.webhooks.service import check_url, non_public_address, resolve_public


def private_networks_allowed(value: bool | None = None) -> bool:
    """`value`, or the settings' choice when a caller (a job) has none of its own."""
    return get_settings().webhooks_reach_private_networks if value is None else value


def check_feed_url(url: str, *, private_networks: bool) -> None:
    host = urlsplit(url.strip()).hostname
    if not host:
        raise InvalidInput(_("The feed URL needs a host name."), field="url")
    reason = None if private_networks else non_public_address(host)
    if reason:
        raise InvalidInput(
            _(
                "The feed URL points at {address}, which is not a public internet address; "
                "feeds must be reachable on the internet."
            ).format(address=reason),
            field="url",
        )


def check_delivery(data: ListeningSettingsIn, *, private_networks: bool) -> None:
    """The alert webhook and the mail relay, before the settings are saved."""
    if data.webhook_url:
        try:
            check_url(data.webhook_url, private_networks=private_networks)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="webhook_url") from None
    if data.smtp_host:
        host = data.smtp_host.strip()
        if any(ch.isspace() or ch in "/@" for ch in host) or not host.strip("[]"):
            raise InvalidInput(
                _("The mail server is a host name or address, e.g. smtp.example.com."),
                field="smtp_host",
            )
        reason = None if private_networks else non_public_address(host)
        if reason:
            raise InvalidInput(
                _(
                    "The mail server {address} is not a public internet address; set "
                    "IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to use one inside your network."
                ).format(address=reason),
                field="smtp_host",
            )


def refused(host: str, port: int) -> str | None:
    """The address `host` leads to when it is not public (None when it is, or cannot be
    resolved: the connection attempt then reports that itself)."""
    try:
        return resolve_public(host, port)
    except (OSError, UnicodeError):
        return None
