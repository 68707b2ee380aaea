"""Webhooks: the facade other code imports. Its parts: `endpoints` (endpoints and the
deliveries the console lists, resend) and `outbox` (events → deliveries, never for people whose
data may not be sent; claim, sign and record each attempt). Sending itself (HTTP) happens in
`im2.webhooks.jobs`, never in a request.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from im2.webhooks.endpoints import (
    SECRET_PREFIX,
    SUBSCRIBABLE,
    check_kinds,
    check_url,
    do_create_endpoint,
    do_delete_endpoint,
    do_resend,
    do_rotate_secret,
    do_update_endpoint,
    get_delivery,
    get_endpoint,
    list_deliveries,
    list_endpoints,
)
from im2.webhooks.outbox import (
    BASE_DELAY,
    CURSOR_NAME,
    EXCERPT,
    JITTER,
    MAX_ATTEMPTS,
    MAX_DELAY,
    OUTBOX,
    WITHHELD_ERROR,
    Claimed,
    Outcome,
    Withheld,
    body_bytes,
    claim_due,
    enqueue_deliveries,
    event_payload,
    record_outcome,
    retry_delay,
    signature,
    use_withheld,
)

__all__ = [
    "BASE_DELAY",
    "CURSOR_NAME",
    "EXCERPT",
    "JITTER",
    "MAX_ATTEMPTS",
    "MAX_DELAY",
    "OUTBOX",
    "SECRET_PREFIX",
    "SUBSCRIBABLE",
    "WITHHELD_ERROR",
    "Claimed",
    "Outcome",
    "Withheld",
    "body_bytes",
    "check_kinds",
    "check_url",
    "claim_due",
    "do_create_endpoint",
    "do_delete_endpoint",
    "do_resend",
    "do_rotate_secret",
    "do_update_endpoint",
    "enqueue_deliveries",
    "event_payload",
    "get_delivery",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "record_outcome",
    "retry_delay",
    "signature",
    "use_withheld",
]
