"""How identities are stored and shown: the keyed hash of a phone or e-mail, its masked hint,
and the read shape of an identity (phones and e-mails only as hints)."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from im2.errors import InvalidInput
from im2.i18n import _
from im2.people.models import PersonIdentity
from im2.people.schemas import (
    HASHED_KINDS,
    SOCIAL_KINDS,
    IdentityKind,
    IdentityRead,
    normalise_handle,
)

_KEY_CONTEXT = b"im2/people/identity-lookup/v1"


@lru_cache(maxsize=8)
def _identity_key(secret: str) -> bytes:
    """The lookup key, derived from the settings' secret so that it is never the secret itself
    (the same secret signs cookies and codes)."""
    return hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def identity_hash(*, secret: str, kind: IdentityKind, value: str) -> str:
    """The keyed hash (HMAC-SHA256, hex) stored for a phone or e-mail: equal values of one kind
    give equal hashes, so uniqueness and merges work without keeping the value here. `value`
    must be normalised by the caller (the participation service does)."""
    return hmac.new(
        _identity_key(secret), f"{kind.value}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def mask(kind: IdentityKind, value: str) -> str:
    """What a person may be shown of a phone or e-mail: 138****8000, l***@example.com."""
    if kind is IdentityKind.EMAIL:
        local, _sep, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"[:64]
    if kind is IdentityKind.PHONE:
        return (value[:3] + "****" + value[-4:]) if len(value) > 7 else "****"
    return value[:64]


def stored_identity(
    *, secret: str | None, kind: IdentityKind, value: str
) -> tuple[str, str | None]:
    """(value, hint) as stored for an identity."""
    if kind in HASHED_KINDS:
        if secret is None:
            raise ValueError("a phone or e-mail identity needs the secret for its hash")
        return identity_hash(secret=secret, kind=kind, value=value), mask(kind, value)
    if kind in SOCIAL_KINDS:
        handle = normalise_handle(kind, value)
        if handle is None:
            raise InvalidInput(_("The format is not valid."), field="value")
        return handle, None
    value = value.strip()
    if not value or len(value) > 128:
        raise InvalidInput(_("The format is not valid."), field="value")
    return value, None


def identity_read(row: PersonIdentity) -> IdentityRead:
    hashed = row.kind in {k.value for k in HASHED_KINDS}
    return IdentityRead(
        id=row.id,
        kind=row.kind,
        value=None if hashed else row.value,
        hint=row.hint,
        created_at=row.created_at,
    )
