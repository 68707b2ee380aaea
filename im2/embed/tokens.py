"""The widget's identity: a signed token naming a workspace and a random device id (pure).

A framed page cannot count on cookies (browsers block or partition third-party cookies), so
the widget keeps this token in its own storage and sends it as the `X-IM2-Token` header; the
request context then treats its device id as the device cookie's would be, and participation
counts one vote per token as it counts one per device.
"""

from __future__ import annotations

import functools
import uuid

from itsdangerous import BadSignature, URLSafeSerializer

HEADER = "x-im2-token"
SALT = "im2-embed-token"


@functools.lru_cache(maxsize=4)
def _signer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def new_identity(secret_key: str, *, workspace_id: int) -> tuple[str, str]:
    """A new identity for one widget (one browser's storage, one app install): (token, its
    device id)."""
    device_id = uuid.uuid4().hex
    return str(_signer(secret_key).dumps([workspace_id, device_id])), device_id


def issue_token(secret_key: str, *, workspace_id: int) -> str:
    return new_identity(secret_key, workspace_id=workspace_id)[0]


def read_token(secret_key: str, token: str) -> tuple[int, str] | None:
    """(workspace id, device id) of a token this server signed, else None."""
    if not token or len(token) > 200:
        return None
    try:
        value = _signer(secret_key).loads(token)
    except BadSignature:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], str)
        and len(value[1]) == 32
    ):
        return value[0], value[1]
    return None
