"""A person's public posts that the brand collected: the listening mentions matched to their
social accounts (identities of a kind in `im2.people.schemas.SOCIAL_KINDS`).

No column of `listening_mentions` refers to a person, so the table is not a `PeopleData`
declaration: its rows are reached by matching (platform, author) to the person's accounts,
as the profile's timeline does (`im2.listening.people`). The export includes them as the table
`listening_mentions` (`inventory.person_rows`); erasure blanks their author, text, link and
raw copy and keeps platform, time, reach figures and sentiment, so the listening dashboards
stay true (`erasure._erase_group`); the accounts themselves are identities, deleted with the
person.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.db import Base
from im2.listening.people import account_mentions, blank_account_mentions
from im2.people.schemas import CASE_FOLDED_KINDS, SOCIAL_KINDS

MENTIONS_TABLE = "listening_mentions"
_FOLDED = frozenset(k.value for k in CASE_FOLDED_KINDS)


def social_accounts(
    session: Session, *, workspace_id: int, person_ids: Collection[int]
) -> list[tuple[str, str]]:
    """(platform, handle) of the people's social accounts."""
    if not person_ids:
        return []
    identities = Base.metadata.tables["person_identities"]
    return [
        (str(kind), str(value))
        for kind, value in session.execute(
            select(identities.c.kind, identities.c.value)
            .where(
                identities.c.workspace_id == workspace_id,
                identities.c.person_id.in_(sorted(person_ids)),
                identities.c.kind.in_(sorted(k.value for k in SOCIAL_KINDS)),
            )
            .order_by(identities.c.id)
        )
    ]


def matched_rows(
    session: Session, *, workspace_id: int, person_ids: Collection[int]
) -> list[dict[str, Any]]:
    """The mentions matched to the people's accounts, oldest first, as export rows."""
    accounts = social_accounts(session, workspace_id=workspace_id, person_ids=person_ids)
    if not accounts:
        return []
    found = account_mentions(
        session, workspace_id=workspace_id, accounts=accounts, case_folded=_FOLDED
    )
    return [
        {
            "id": m.id,
            "platform": m.platform,
            "post_id": m.post_id,
            "url": m.url,
            "author": m.author,
            "text": m.text,
            "language": m.language,
            "posted_at": m.posted_at,
            "likes": m.likes,
            "reposts": m.reposts,
            "comments": m.comments,
            "sentiment": m.sentiment,
        }
        for m in reversed(found)
    ]


def blank_matched(session: Session, *, workspace_id: int, person_ids: Collection[int]) -> int:
    """Erasure: blank the mentions matched to the people's accounts (before the accounts are
    deleted with them). Returns how many were blanked."""
    accounts = social_accounts(session, workspace_id=workspace_id, person_ids=person_ids)
    return blank_account_mentions(
        session, workspace_id=workspace_id, accounts=accounts, case_folded=_FOLDED
    )
