"""The tags and attributes a brand keeps on a person: by hand in the console, or imported."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.people.merges import actor_label, person_in
from im2.people.models import Person, PersonAttribute, PersonTag
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

WRITE_PEOPLE = Permission.WRITE_PEOPLE
TAG_MAX = 32
ATTRIBUTE_KEY_MAX = 32
ATTRIBUTE_VALUE_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_tag(value: str, *, field: str = "tag") -> str:
    tag = " ".join(value.split())
    if not tag:
        raise InvalidInput(_("This field is required."), field=field)
    if len(tag) > TAG_MAX:
        raise InvalidInput(_("At most {n} characters.").format(n=TAG_MAX), field=field)
    if _CONTROL.search(tag):
        raise InvalidInput(_("The format is not valid."), field=field)
    return tag


def check_attribute(key: str, value: str, *, field: str = "attribute") -> tuple[str, str]:
    key = " ".join(key.split())
    if not key or len(key) > ATTRIBUTE_KEY_MAX or _CONTROL.search(key) or "=" in key:
        raise InvalidInput(_("The format is not valid."), field=field)
    value = value.strip()
    if len(value) > ATTRIBUTE_VALUE_MAX:
        raise InvalidInput(_("At most {n} characters.").format(n=ATTRIBUTE_VALUE_MAX), field=field)
    if _CONTROL.search(value):
        raise InvalidInput(_("The format is not valid."), field=field)
    return key, value


def _live_person(session: Session, *, actor: Actor, person_id: int) -> Person:
    row = person_in(session, workspace_id=actor.workspace_id, person_id=person_id)
    if row is None:
        raise NotFound(_("Person not found."))
    if row.merged_into_id is not None:
        raise InvalidInput(
            _("Person {id} was merged into person {into}; change that one instead.").format(
                id=row.id, into=row.merged_into_id
            ),
            field="person",
        )
    return row


def add_tags(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    tags: Iterable[str],
    source: str,
    now: datetime,
) -> list[str]:
    """Give the person these (checked) tags; returns those that were new. Idempotent."""
    wanted = sorted(set(tags))
    have = set(
        session.scalars(
            select(PersonTag.tag).where(PersonTag.person_id == person_id, PersonTag.tag.in_(wanted))
        )
    )
    new = [t for t in wanted if t not in have]
    session.add_all(
        PersonTag(
            workspace_id=workspace_id, person_id=person_id, tag=t, source=source, created_at=now
        )
        for t in new
    )
    return new


def set_attributes(
    session: Session, *, workspace_id: int, person_id: int, values: dict[str, str], now: datetime
) -> int:
    """Set the person's (checked) attributes, an empty value removing one; returns how many
    changed. Idempotent: the same values change nothing."""
    rows = {
        row.key: row
        for row in session.scalars(
            select(PersonAttribute).where(
                PersonAttribute.person_id == person_id, PersonAttribute.key.in_(list(values))
            )
        )
    }
    changed = 0
    for key, value in values.items():
        row = rows.get(key)
        if not value:
            if row is not None:
                session.delete(row)
                changed += 1
        elif row is None:
            session.add(
                PersonAttribute(
                    workspace_id=workspace_id,
                    person_id=person_id,
                    key=key,
                    value=value,
                    updated_at=now,
                )
            )
            changed += 1
        elif row.value != value:
            row.value = value
            row.updated_at = now
            changed += 1
    return changed


def do_add_tag(
    session: Session, *, actor: Actor, person_id: int, tag: str, now: datetime
) -> list[str]:
    """The brand tags a person by hand; returns the person's tags. Tagging twice is no change."""
    require(actor, WRITE_PEOPLE)
    clean = check_tag(tag)
    row = _live_person(session, actor=actor, person_id=person_id)
    if add_tags(
        session,
        workspace_id=actor.workspace_id,
        person_id=row.id,
        tags=[clean],
        source="console",
        now=now,
    ):
        record_audit(
            session,
            actor,
            "person.tagged",
            ("person", row.id),
            f"tagged person {row.id}",
            now=now,
            before={},
            after={"tag": clean, "by": actor_label(actor)},
        )
    session.flush()
    return tags_of(session, person_id=row.id)


def do_remove_tag(
    session: Session, *, actor: Actor, person_id: int, tag: str, now: datetime
) -> list[str]:
    """Take a tag off a person; returns the person's tags. Removing a missing tag is no change."""
    require(actor, WRITE_PEOPLE)
    if _CONTROL.search(tag):
        raise InvalidInput(_("The format is not valid."), field="tag")
    row = _live_person(session, actor=actor, person_id=person_id)
    gone = session.scalars(
        delete(PersonTag)
        .where(PersonTag.person_id == row.id, PersonTag.tag == tag.strip())
        .returning(PersonTag.id)
    ).all()
    if gone:
        record_audit(
            session,
            actor,
            "person.untagged",
            ("person", row.id),
            f"removed a tag from person {row.id}",
            now=now,
            before={"tag": tag.strip()},
            after={},
        )
    session.flush()
    return tags_of(session, person_id=row.id)


def tags_of(session: Session, *, person_id: int) -> list[str]:
    return list(
        session.scalars(
            select(PersonTag.tag).where(PersonTag.person_id == person_id).order_by(PersonTag.tag)
        )
    )
