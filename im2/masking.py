"""What a console user without `people:read` (analysts, viewers) sees of a personal field.

    phone     13812341234      -> 138****1234
    e-mail    lin@example.com  -> l***@example.com
    IP        10.1.2.3         -> 10.1.*.*        (IPv6: the first two groups, 2001:db8:*)
    nickname  王小明 / Lily     -> 王*明 / L**y
    user agent                 -> ***

A bottom-layer module (no database, no web): the activity formats' console exports sit below
the privacy domain and mask with it too. Which fields a row holds is told by its column names
(`PERSONAL_COLUMNS`): the identifying fields, not what people wrote (a Q&A question or a UGC
caption stays readable for analysis; its author's name does not).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# `im2.workspaces.schemas.Permission.READ_PEOPLE` (a StrEnum: the string is the member), named
# here because this module sits below the workspaces.
READ_PEOPLE = "people:read"


class _Permitted(Protocol):
    def can(self, permission: Any, /) -> bool: ...


PHONE_COLUMNS = frozenset({"phone", "verified_phone", "mobile"})
EMAIL_COLUMNS = frozenset({"email", "verified_email"})
IP_COLUMNS = frozenset({"ip", "first_ip"})
NAME_COLUMNS = frozenset({"nickname", "display_name", "inviter_nickname", "invitee_nickname"})
OPAQUE_COLUMNS = frozenset({"user_agent", "destination"})
PERSONAL_COLUMNS = PHONE_COLUMNS | EMAIL_COLUMNS | IP_COLUMNS | NAME_COLUMNS | OPAQUE_COLUMNS


def mask_phone(value: str) -> str:
    digits = value.strip()
    return (digits[:3] + "****" + digits[-4:]) if len(digits) > 7 else "****"


def mask_email(value: str) -> str:
    local, sep, domain = value.strip().partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_ip(value: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return "*"
    if address.version == 4:
        first, second, *_rest = str(address).split(".")
        return f"{first}.{second}.*.*"
    groups = address.exploded.split(":")
    return f"{int(groups[0], 16):x}:{int(groups[1], 16):x}:*"


def mask_name(value: str) -> str:
    """王小明 → 王*明, Lily → L**y, 小林 → 小*, A → *."""
    name = value.strip()
    if len(name) <= 1:
        return "*" if name else ""
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_value(column: str, value: Any) -> Any:
    """`value` as a user without `people:read` may see it, by what `column` holds."""
    if value is None or value == "":
        return value
    text = str(value)
    if column in PHONE_COLUMNS:
        return mask_phone(text)
    if column in EMAIL_COLUMNS:
        return mask_email(text)
    if column in IP_COLUMNS:
        return mask_ip(text)
    if column in NAME_COLUMNS:
        return mask_name(text)
    if column in OPAQUE_COLUMNS:
        return "***"
    return value


def personal_columns(columns: Iterable[str], *, names: Iterable[str] = ()) -> list[str]:
    """The columns of a table that `mask_rows` would mask."""
    extra = set(names)
    return [c for c in columns if c in PERSONAL_COLUMNS or c in extra]


def mask_rows(
    rows: Iterable[Mapping[str, Any]], *, names: Iterable[str] = ()
) -> Iterator[dict[str, Any]]:
    """Each row with its personal columns masked (other columns as they are); `names` are
    further columns that hold people's names (e.g. a leaderboard's "name")."""
    extra = frozenset(names)
    for row in rows:
        yield {
            k: (
                mask_name(str(v))
                if k in extra and v
                else mask_value(k, v)
                if k in PERSONAL_COLUMNS
                else v
            )
            for k, v in row.items()
        }


def masked_for(actor: _Permitted) -> bool:
    """Whether personal fields are masked for this console user or API token: every role
    without people:read (analysts, viewers). The one test every surface asks."""
    return not actor.can(READ_PEOPLE)


def shown_name(value: str | None, *, masked: bool) -> str | None:
    """A participant's nickname as this reader may see it."""
    return mask_name(value) if masked and value else value


def mask_fields(item: T, *, masked: bool, names: Iterable[str] = ()) -> T:
    """`item` (a pydantic model, a dataclass or a mapping) with its personal fields masked
    when `masked`, by field name as `mask_rows` does (`names`: further fields holding a
    person's name); the item itself is not changed."""
    if not masked:
        return item
    extra = frozenset(names)

    def shown(key: str, value: Any) -> Any:
        if key in extra and value:
            return mask_name(str(value))
        return mask_value(key, value) if key in PERSONAL_COLUMNS else value

    if isinstance(item, Mapping):
        return type(item)({k: shown(k, v) for k, v in item.items()})  # type: ignore[call-arg]
    fields = getattr(type(item), "model_fields", None)
    if fields is not None:  # a pydantic model
        update = {k: shown(k, getattr(item, k)) for k in fields}
        return item.model_copy(update=update)  # type: ignore[attr-defined, no-any-return]
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        update = {f.name: shown(f.name, getattr(item, f.name)) for f in dataclasses.fields(item)}
        return dataclasses.replace(item, **update)
    raise TypeError(f"cannot mask a {type(item).__name__}")


def mask_all(items: Iterable[T], *, masked: bool, names: Iterable[str] = ()) -> list[T]:
    """`mask_fields` of each item."""
    names = tuple(names)
    return [mask_fields(i, masked=masked, names=names) for i in items]
