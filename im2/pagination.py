"""Opaque keyset cursors: a page continues below the last id it showed."""

from __future__ import annotations

import base64
import binascii

from im2.errors import InvalidInput
from im2.i18n import _


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = text.split(":", 1)
        if prefix != "id":
            raise ValueError(prefix)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(
            _("The cursor is not valid; use next_cursor from a previous page."), field="cursor"
        ) from None
