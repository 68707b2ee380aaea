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

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.db import Base
from im2.listening.people import account_mentions, author_key, blank_account_mentions
from im2.people.schemas import CASE_FOLDED_KINDS, SOCIAL_KINDS

MENTIONS_TABLE = "listening_mentions"
_FOLDED = frozenset(k.value for k in CASE_FOLDED_KINDS)
# Erasure's batches: people whose accounts are read in one statement, accounts whose mentions
# are found in one (two bound values each, at most), and mentions blanked in one pass (one
# bound value each in `blank_account_mentions`).
PEOPLE_CHUNK = 500
ACCOUNTS_CHUNK = 1000
MENTIONS_CHUNK = 5000


def social_accounts(
    session: Session, *, workspace_id: int, person_ids: Collection[int]
) -> list[tuple[str, str]]:
    """(platform, handle) of the people's social accounts."""
    return [
        (kind, value)
        for _, kind, value in _owned_accounts(
            session, workspace_id=workspace_id, person_ids=person_ids
        )
    ]


def _owned_accounts(
    session: Session, *, workspace_id: int, person_ids: Collection[int]
) -> list[tuple[int, str, str]]:
    """(person id, platform, handle) of the people's social accounts, in one statement per
    `PEOPLE_CHUNK` people, in the identities' order."""
    identities = Base.metadata.tables["person_identities"]
    wanted = sorted(set(person_ids))
    found: list[tuple[int, int, str, str]] = []
    for start in range(0, len(wanted), PEOPLE_CHUNK):
        found += [
            (int(row.id), int(row.person_id), str(row.kind), str(row.value))
            for row in session.execute(
                select(
                    identities.c.id, identities.c.person_id, identities.c.kind, identities.c.value
                ).where(
                    identities.c.workspace_id == workspace_id,
                    identities.c.person_id.in_(wanted[start : start + PEOPLE_CHUNK]),
                    identities.c.kind.in_(sorted(k.value for k in SOCIAL_KINDS)),
                )
            )
        ]
    return [(person, kind, value) for _, person, kind, value in sorted(found)]


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


def blank_matched(
    session: Session, *, workspace_id: int, people: Sequence[Collection[int]]
) -> list[int]:
    """Erasure of a group of people (each given by their person ids): blank the mentions
    matched to their accounts (before the accounts are deleted with them). Returns how many
    were blanked per person, in the order given.

    Set-based, whatever the group's size: one statement reads the group's accounts, one finds
    the mentions of up to `ACCOUNTS_CHUNK` accounts (by the indexed `author_key`), and one
    blanking (`blank_account_mentions`) changes those of people holding up to
    `MENTIONS_CHUNK` of them (a person is never split: their accounts are blanked together,
    as when erased alone). People with no matched mention are left as erasing them alone
    leaves them. A mention matches one account (an account is one identity, held by one
    person), so each is counted for the person holding the account its author is. A pass
    scrubs the alerts raised since its oldest mention of all its people's posts and names:
    at least what erasing each alone scrubs (since their own oldest)."""
    owner_of = {int(p): i for i, ids in enumerate(people) for p in ids}
    theirs: dict[int, list[tuple[str, str]]] = {}
    for person, kind, value in _owned_accounts(
        session, workspace_id=workspace_id, person_ids=owner_of
    ):
        theirs.setdefault(owner_of[person], []).append((kind, value))
    counts = [0] * len(people)
    for part in _packed({i: len(pairs) for i, pairs in theirs.items()}, ACCOUNTS_CHUNK):
        holder = {_account_key(*pair): i for i in part for pair in theirs[i]}
        stray = 0
        for mention in account_mentions(
            session,
            workspace_id=workspace_id,
            accounts=[pair for i in part for pair in theirs[i]],
            case_folded=_FOLDED,
        ):
            i = holder.get(_author_key(mention.platform, mention.author))
            if i is None:
                stray += 1
            else:
                counts[i] += 1
        # A mention found but not told apart (never expected): everyone's accounts blanked.
        found = {i: counts[i] or stray for i in part if counts[i] or stray}
        for blanked in _packed(found, MENTIONS_CHUNK):
            blank_account_mentions(
                session,
                workspace_id=workspace_id,
                accounts=[pair for i in blanked for pair in theirs[i]],
                case_folded=_FOLDED,
            )
    return counts


def _packed(sizes: dict[int, int], most: int) -> list[list[int]]:
    """The keys of `sizes` in order, in runs whose sizes add up to at most `most` (a key
    larger than that alone)."""
    runs: list[list[int]] = []
    total = most
    for key, size in sizes.items():
        if total + size > most:
            runs.append([])
            total = 0
        runs[-1].append(key)
        total += size
    return runs


def _account_key(platform: str, handle: str) -> tuple[str, str]:
    """An account as the match compares it: its case-folded key on platforms that ignore
    case, the handle as stored on the others."""
    return (platform, author_key(handle) if platform in _FOLDED else handle)


def _author_key(platform: str, author: str) -> tuple[str, str]:
    """A matched mention's author as the match compared it: its stored key on platforms that
    ignore case; elsewhere as written, as SQL trims it (spaces only, then the leading @
    characters, then spaces again)."""
    if platform in _FOLDED:
        return (platform, author_key(author))
    return (platform, author.strip(" ").lstrip("@＠").strip(" "))
