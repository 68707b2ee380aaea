"""Value types that schemas, services and routes share.

`DbId` is every database id that arrives from outside, in a URL or a JSON body: a positive
integer that fits the narrowest id column, PostgreSQL's 32-bit INTEGER (SQLite's are 64-bit).
Without the upper bound a number such as 99999999999999999999 reaches the database driver,
which cannot bind it (SQLite: "Python int too large to convert to SQLite INTEGER"; PostgreSQL:
"integer out of range" from 2**31 on), and the request ends in a 500; with it, pydantic refuses
it with a 422 on the field, and the OpenAPI document shows the `minimum` and `maximum`.

The constraints are plain `annotated_types` metadata, so the one type serves pydantic models,
path and query parameters (`im2.web.params.Id` is this type) alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeVar

from annotated_types import Ge, Le

MAX_ID = 2**31 - 1
"""The largest id every id column holds: PostgreSQL's INTEGER primary keys are 32-bit."""

DbId = Annotated[int, Ge(1), Le(MAX_ID)]
"""A database id: 1 … 2**31 - 1, else 422."""


class LabelledEnum(StrEnum):
    """A StrEnum whose members are declared with their label, `NEW = "new", N_("New")`, so a
    value and the words the console shows for it are written once, side by side."""

    label: str

    def __new__(cls, value: str, label: str = "") -> Self:  # Platform("weibo") looks one up
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


_Labelled = TypeVar("_Labelled", bound=LabelledEnum)


def labels_of(kind: type[_Labelled]) -> dict[_Labelled, str]:
    """Each member's label (a msgid: translate it where it is shown)."""
    return {member: member.label for member in kind}


@dataclass(frozen=True, slots=True)
class PeopleData:
    """A table that holds personal data or refers to a person: the one declaration every domain
    (each `schemas.PEOPLE_DATA`) and every activity format (`ActivityFormat.people_data`) makes,
    which the privacy work (`im2.privacy.inventory`) walks to reach every row about a person.

    - `participant_columns` refer to `participants.id`; `person_columns` to `people.id`;
      `device_columns` hold a device id (the signed cookie, before or besides a participant).
    - `code_columns` hold a share code (a person's link): in other people's rows they are the
      edge of the share tree, so erasure gives the code a fresh value everywhere at once.
    - `identity_columns` hold another identifier of the person (an identity value or its keyed
      hash, an order number, lists of ids), replaced by a fresh random value on erasure.
    - `personal_columns` hold what the person wrote or gave (nickname, text, IP, user agent,
      phone, e-mail), cleared on erasure; `media` is the path of a file under the media folder
      made from the row (e.g. "ugc/{activity_id}/{image_name}"), deleted on erasure.
    - `via` ("column->table.column") reaches rows that refer to the person only through a
      parent row (a coupon redemption through its code).
    - `on_erase`: "anonymise" keeps the row for the aggregates it feeds (moved to the person's
      anonymous stand-in, personal columns cleared); "delete" removes it.
    - `kept_in_part`: personal columns cleared only in part on erasure, (column, function of
      the stored value returning what stays), e.g. a survey's choices without its free text.
    """

    table: str
    participant_columns: tuple[str, ...] = ()
    person_columns: tuple[str, ...] = ()
    device_columns: tuple[str, ...] = ()
    code_columns: tuple[str, ...] = ()
    identity_columns: tuple[str, ...] = ()
    personal_columns: tuple[str, ...] = ()
    media: str | None = None
    via: str | None = None
    on_erase: Literal["anonymise", "delete"] = "anonymise"
    kept_in_part: tuple[tuple[str, Callable[[Any], Any]], ...] = ()

    def columns(self) -> tuple[str, ...]:
        """Every column the declaration names."""
        return (
            self.participant_columns
            + self.person_columns
            + self.device_columns
            + self.code_columns
            + self.identity_columns
            + self.personal_columns
        )
