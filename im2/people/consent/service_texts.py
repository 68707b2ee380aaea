"""Consent texts: IM2's shipped ones, the versions a workspace writes, the one shown now.
See `im2.people.consent.service`."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import BindParameter, Row, Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput
from im2.i18n import LOCALES, _, get_locale, normalize_locale, use_locale
from im2.people.consent.models import ConsentRecord, ConsentText
from im2.people.consent.schemas import (
    SHIPPED_TEXTS,
    ConsentTextCreate,
    ConsentTextRead,
    ConsentTextVersion,
    Purpose,
)
from im2.people.consent.service_conditions import active
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_language(language: str, *, field: str = "language") -> str:
    if language not in LOCALES:
        raise InvalidInput(
            _("Choose one of: {options}.").format(options=", ".join(LOCALES)), field=field
        )
    return language


@lru_cache(maxsize=64)
def _shipped(purpose: Purpose, language: str) -> tuple[str, str, str]:
    """IM2's text, its version and hash: the catalogs are loaded once per process."""
    version, message = SHIPPED_TEXTS[purpose]
    with use_locale(language):
        text = _(message)
    return version, text, sha256(text)


def shipped_text(purpose: Purpose, language: str) -> ConsentTextRead:
    """IM2's own text for a purpose, in `language` (the catalog's translation)."""
    version, text, digest = _shipped(purpose, language)
    return ConsentTextRead(
        purpose=purpose,
        language=language,
        version=version,
        text=text,
        sha256=digest,
        shipped=True,
        created_at=None,
        created_by=None,
    )


def _text_read(row: ConsentText | Row[Any]) -> ConsentTextRead:
    return ConsentTextRead(
        purpose=Purpose(row.purpose),
        language=row.language,
        version=row.version,
        text=row.text,
        sha256=row.text_sha256,
        shipped=False,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _newest(
    session: Session, *, workspace_id: int, purpose: Purpose, language: str
) -> ConsentText | None:
    return session.scalar(
        select(ConsentText)
        .where(
            ConsentText.workspace_id == workspace_id,
            ConsentText.purpose == purpose.value,
            ConsentText.language == language,
        )
        .order_by(ConsentText.id.desc())
        .limit(1)
    )


_TEXTS = cast(Table, ConsentText.__table__)
_LANGUAGE: BindParameter[str] = bindparam("language")
# Built once, one indexed read: every first action of every vote batch asks for it, and
# building the ORM statement (twice, with the fallback) cost more than running it.
_CURRENT = (
    select(_TEXTS)
    .where(
        _TEXTS.c.workspace_id == bindparam("workspace_id"),
        _TEXTS.c.purpose == bindparam("purpose"),
        _TEXTS.c.language.in_([_LANGUAGE, bindparam("fallback")]),
    )
    .order_by((_TEXTS.c.language == _LANGUAGE).desc(), _TEXTS.c.id.desc())
    .limit(1)
)


def current_text(
    session: Session,
    *,
    workspace_id: int,
    purpose: Purpose,
    language: str,
    fallback: str | None = None,
) -> ConsentTextRead:
    """The text shown now: the workspace's newest version in this language; else (a public
    page in a language the brand wrote no text in) its newest in `fallback`, the campaign's
    default language, so the brand's own terms are shown rather than IM2's; else IM2's."""
    row = (
        session.connection()
        .execute(
            _CURRENT,
            {
                "workspace_id": workspace_id,
                "purpose": purpose.value,
                "language": language,
                "fallback": language if fallback is None else fallback,
            },
        )
        .first()
    )
    return shipped_text(purpose, language) if row is None else _text_read(row)


def current_texts(
    session: Session, *, workspace_id: int, language: str, fallback: str | None = None
) -> dict[Purpose, ConsentTextRead]:
    return {
        p: current_text(
            session, workspace_id=workspace_id, purpose=p, language=language, fallback=fallback
        )
        for p in Purpose
    }


def taking_part_text(
    session: Session, *, workspace_id: int, default_language: str | None
) -> ConsentTextRead:
    """The text of an activity's first-action consent box, and what that first action records:
    the workspace's current "taking part" text in the page's language (`get_locale()`), else in
    the campaign's default language (`default_language`, as the campaign stores it), else
    IM2's shipped text in the page's language. Reads at most two rows."""
    return current_text(
        session,
        workspace_id=workspace_id,
        purpose=Purpose.TAKING_PART,
        language=get_locale(),
        fallback=normalize_locale(default_language),
    )


def find_text(
    session: Session,
    *,
    workspace_id: int,
    purpose: Purpose,
    language: str,
    version: str,
    fallback: str | None = None,
) -> ConsentTextRead | None:
    """A given version (the workspace's, or IM2's shipped one), None when unknown; in
    `language`, or in `fallback` when that is what `current_text` showed."""
    shipped = shipped_text(purpose, language)
    if version == shipped.version:
        return shipped
    for lang in (language, fallback):
        if lang is None:
            continue
        if lang != language and _newest(
            session, workspace_id=workspace_id, purpose=purpose, language=language
        ):
            break  # the page showed the brand's text in its own language, not the fallback
        row = session.scalar(
            select(ConsentText).where(
                ConsentText.workspace_id == workspace_id,
                ConsentText.purpose == purpose.value,
                ConsentText.language == lang,
                ConsentText.version == version,
            )
        )
        if row is not None:
            return _text_read(row)
    return None


def list_texts(session: Session, *, actor: Actor) -> list[ConsentTextRead]:
    """Every version the workspace wrote, newest first, then IM2's shipped texts."""
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(ConsentText)
        .where(ConsentText.workspace_id == actor.workspace_id)
        .order_by(ConsentText.id.desc())
    )
    shipped = [shipped_text(p, lang) for p in Purpose for lang in LOCALES]
    return [_text_read(r) for r in rows] + shipped


def text_versions(
    session: Session, *, actor: Actor, purpose: Purpose, language: str
) -> list[ConsentTextVersion]:
    """Every version of one purpose's text in one language, newest first (the workspace's,
    then IM2's shipped one), with how many people's standing grants are of each."""
    require(actor, Permission.READ_CAMPAIGNS)
    language = check_language(language)
    rows = session.scalars(
        select(ConsentText)
        .where(
            ConsentText.workspace_id == actor.workspace_id,
            ConsentText.purpose == purpose.value,
            ConsentText.language == language,
        )
        .order_by(ConsentText.id.desc())
    )
    texts = [_text_read(r) for r in rows] + [shipped_text(purpose, language)]
    agreed = dict(
        session.execute(
            select(ConsentRecord.version, func.count(func.distinct(ConsentRecord.person_id)))
            .where(
                active(actor.workspace_id, purpose),
                ConsentRecord.language == language,
            )
            .group_by(ConsentRecord.version)
        ).all()
    )
    return [
        ConsentTextVersion(**t.model_dump(), current=i == 0, agreed=int(agreed.get(t.version, 0)))
        for i, t in enumerate(texts)
    ]


_CJK = "\u3400-\u9fff"
_HALF_WIDTH = re.compile(rf"(?<=[{_CJK}])[,.;:?!()]|[,.;:?!()](?=[{_CJK}])")


def half_width_marks(text: str) -> list[str]:
    """Half-width punctuation next to Chinese characters (，。：；？！（） are expected in
    Chinese text), each mark once, in the order found: the editor's preview points them out."""
    found: list[str] = []
    for match in _HALF_WIDTH.finditer(text):
        if match.group(0) not in found:
            found.append(match.group(0))
    return found


def do_add_text(
    session: Session, *, actor: Actor, data: ConsentTextCreate, now: datetime
) -> ConsentTextRead:
    """A new version (v1, v2 … per purpose and language) shown from now on. Grants already
    given keep the version they showed; people are not asked again by this alone."""
    require(actor, Permission.WRITE_PEOPLE)
    language = check_language(data.language)
    count = int(
        session.scalar(
            select(func.count())
            .select_from(ConsentText)
            .where(
                ConsentText.workspace_id == actor.workspace_id,
                ConsentText.purpose == data.purpose.value,
                ConsentText.language == language,
            )
        )
        or 0
    )
    row = ConsentText(
        workspace_id=actor.workspace_id,
        purpose=data.purpose.value,
        language=language,
        version=f"v{count + 1}",
        text=data.text,
        text_sha256=sha256(data.text),
        created_at=now,
        created_by=actor.label,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            _("Another version of this text was saved at the same moment; reload and try again."),
            field="text",
        ) from None
    record_audit(
        session,
        actor,
        "consent_text.create",
        ("consent_text", row.id),
        f"consent text {row.purpose} {language} {row.version}",
        now=now,
        after={"purpose": row.purpose, "language": language, "version": row.version},
    )
    return _text_read(row)
