"""What every part of the workspaces domain checks: permissions, slugs, time zones, e-mails and
passwords, and the one password hasher (tests swap it for a cheap one).

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from im2.errors import Forbidden, InvalidInput, NotFound
from im2.i18n import _
from im2.workspaces.schemas import ROLE_RANK, Actor, Permission, Role

_hasher = PasswordHasher()
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TOKEN_PREFIX = "im2_"
MIN_PASSWORD_LENGTH = 10


def _digest(raw: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(raw.encode()).hexdigest()


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            _("Your role ({role}) does not allow this action.").format(role=actor.role.value)
        )


Row = TypeVar("Row")


def owned_row(
    session: Session, model: type[Row], row_id: int, *, actor: Actor, missing: str
) -> Row:
    """The `model` row `row_id` when it belongs to the actor's workspace, else NotFound with the
    `missing` message: another workspace's row answers exactly as one that does not exist."""
    row: Any = session.get(model, row_id)
    if row is None or row.workspace_id != actor.workspace_id:
        raise NotFound(missing)
    return row  # type: ignore[no-any-return]


def check_slug(slug: str, *, field: str = "slug") -> str:
    if not SLUG_RE.match(slug):
        raise InvalidInput(
            _(
                "Use 1–64 lower-case letters, digits and hyphens, "
                "starting and ending with a letter or digit."
            ),
            field=field,
        )
    return slug


def check_timezone(name: str, *, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            _("Unknown time zone “{name}”; use an IANA name such as Asia/Shanghai.").format(
                name=name
            ),
            field=field,
        ) from None


def check_email(email: str, *, field: str = "email") -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise InvalidInput(_("Enter a valid e-mail address."), field=field) from None


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _("The password needs at least {n} characters.").format(n=MIN_PASSWORD_LENGTH),
            field=field,
        )
    return password


def check_role_grant(actor: Actor, role: Role) -> None:
    if ROLE_RANK[role] > ROLE_RANK[actor.role]:
        raise Forbidden(_("You cannot grant a role above your own."), field="role")
