"""The closeness ladder: its rules, the inputs of its computation, and the facade of its
parts (`store`: the cursor and the storing of computed stages; `board`: the dashboard's and a
person's reads). Other domains import this module.

The computation itself reads the event log and lives in analytics (`im2.analytics.ladder`):
people sits below every domain that writes events, so it hands its results down to
`do_store_results` inside the transaction that holds this workspace's cursor (`lock_cursor`),
so two job runs never store the same change twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import _
from im2.people.ladder.board import (
    get_board,
    get_person_ladder,
    get_rules,
    score_deciles,
    stage_counts,
)
from im2.people.ladder.models import LadderRuleSet, LadderState
from im2.people.ladder.schemas import WORKSPACE_SCOPE, LadderRules, LadderRulesRead
from im2.people.ladder.store import CursorState, do_store_results, lock_cursor, mark_full_due
from im2.people.models import Person, PersonIdentity, PersonMerge
from im2.people.schemas import IdentityKind
from im2.people.service import PERSON_ACTOR_PREFIX, VISITOR_ACTOR_PREFIX
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

__all__ = [
    "CursorState",
    "actor_subjects",
    "check_rules",
    "do_store_results",
    "do_update_rules",
    "get_board",
    "get_person_ladder",
    "get_rules",
    "lock_cursor",
    "people_changed_since",
    "require_read",
    "score_deciles",
    "stage_counts",
    "stored_subjects",
]


# --- rules ----------------------------------------------------------------------------------


def require_read(actor: Actor) -> None:
    require(actor, Permission.READ_PEOPLE)


def check_rules(rules: LadderRules) -> LadderRules:
    """The rules that hold across fields (each field's own range is the model's)."""
    if rules.advocate_min_brought < rules.spreader_min_brought:
        raise InvalidInput(
            _("An advocate must bring at least as many people as a spreader (%(n)d or more).")
            % {"n": rules.spreader_min_brought},
            field="advocate_min_brought",
        )
    return rules


def do_update_rules(
    session: Session, *, actor: Actor, rules: LadderRules, now: datetime
) -> LadderRulesRead:
    """Replace the workspace's thresholds; the next ladder run recomputes everyone with them."""
    require(actor, Permission.WRITE_PEOPLE)
    check_rules(rules)
    before = get_rules(session, workspace_id=actor.workspace_id)
    row = session.get(LadderRuleSet, actor.workspace_id)
    values = rules.model_dump()
    if row is None:
        row = LadderRuleSet(
            workspace_id=actor.workspace_id, updated_at=now, updated_by=actor.label, **values
        )
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        row.updated_by = actor.label
    mark_full_due(session, workspace_id=actor.workspace_id)
    record_audit(
        session,
        actor,
        "ladder.rules_updated",
        ("workspace", actor.workspace_id),
        _("Closeness ladder rules changed"),
        now=now,
        before=before.model_dump(include=set(values)),
        after=values,
    )
    session.flush()
    return get_rules(session, workspace_id=actor.workspace_id)


# --- the computation's inputs --------------------------------------------------------------


def actor_subjects(session: Session, *, workspace_id: int) -> list[tuple[str, str, bool]]:
    """(event actor id, subject "p:<person id>", restricted) for every actor identity (device,
    participant) of the workspace's live people: the computation counts people, not devices,
    and leaves restricted people out."""
    rows = session.execute(
        select(PersonIdentity.kind, PersonIdentity.value, Person.id, Person.restricted_at)
        .join(Person, Person.id == PersonIdentity.person_id)
        .where(
            PersonIdentity.workspace_id == workspace_id,
            PersonIdentity.kind.in_([IdentityKind.DEVICE.value, IdentityKind.PARTICIPANT.value]),
            Person.merged_into_id.is_(None),
        )
    )
    return [
        (
            (VISITOR_ACTOR_PREFIX + value) if kind == IdentityKind.DEVICE.value else value,
            f"{PERSON_ACTOR_PREFIX}{person_id}",
            restricted is not None,
        )
        for kind, value, person_id, restricted in rows
    ]


def people_changed_since(
    session: Session, *, workspace_id: int, since: datetime
) -> tuple[set[str], set[str]]:
    """(subjects to recompute, subjects to retire) because of who-is-who changes since the last
    run, which write no event: a merge (the kept person gains events, the merged one leaves),
    an undone merge (both recomputed), a restriction (the person leaves the ladder)."""
    recompute: set[str] = set()
    retire: set[str] = set()
    for kept, merged, undone_at in session.execute(
        select(PersonMerge.kept_id, PersonMerge.merged_id, PersonMerge.undone_at).where(
            PersonMerge.workspace_id == workspace_id,
            (PersonMerge.created_at >= since) | (PersonMerge.undone_at >= since),
        )
    ):
        recompute.add(f"{PERSON_ACTOR_PREFIX}{kept}")
        (recompute if undone_at is not None else retire).add(f"{PERSON_ACTOR_PREFIX}{merged}")
    for (person_id,) in session.execute(
        select(Person.id).where(Person.workspace_id == workspace_id, Person.restricted_at >= since)
    ):
        retire.add(f"{PERSON_ACTOR_PREFIX}{person_id}")
    return recompute - retire, retire


def stored_subjects(session: Session, *, workspace_id: int) -> set[str]:
    """The subjects with a workspace-level stage (what a full recomputation replaces)."""
    return set(
        session.scalars(
            select(LadderState.subject).where(
                LadderState.workspace_id == workspace_id,
                LadderState.campaign_id == WORKSPACE_SCOPE,
            )
        )
    )
