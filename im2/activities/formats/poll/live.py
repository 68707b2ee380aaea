"""Keeping live results fresh: after a vote commits, the hub reloads and fans out the results.

Votes go through the database's group commit (`submit_vote`): the batch that wrote them also
computed the poll's results, and they are handed to the hub right after the commit, so live
pages get the new figures without a reload per vote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from im2.activities.formats.poll.results import results_channel
from im2.activities.formats.poll.schemas import VoteReceipt
from im2.activities.formats.poll.service import load_results
from im2.activities.formats.poll.votes import VoteRequest, cast_votes
from im2.db import Database, on_commit
from im2.errors import IM2Error
from im2.live.hub import Hub


def results_snapshot(db: Database, activity_id: int) -> dict[str, Any]:
    with db.session() as session:
        return load_results(session, activity_id=activity_id).model_dump(mode="json")


def refresh_results_on_commit(
    session: Session, *, db: Database, hub: Hub, activity_id: int
) -> None:
    on_commit(
        session,
        lambda: hub.refresh(
            results_channel(activity_id), lambda: results_snapshot(db, activity_id)
        ),
    )


@dataclass(frozen=True, slots=True)
class QueuedVote:
    request: VoteRequest
    hub: Hub
    db: Database


def _publisher(
    hub: Hub, db: Database, activity_id: int, data: dict[str, Any]
) -> Callable[[], None]:
    # `reload`: across processes (the Redis hub) another process's concurrent batch is missing
    # from this snapshot; the hub reads the results afresh once the writes have settled.
    return lambda: hub.put(
        results_channel(activity_id), data, reload=lambda: results_snapshot(db, activity_id)
    )


def vote_batch(session: Session, items: Sequence[QueuedVote]) -> list[VoteReceipt | IM2Error]:
    """The group commit's work for votes: cast them all, then publish each touched poll's
    results once the batch has committed."""
    batch = cast_votes(session, [item.request for item in items])
    hubs = {id(item.hub): (item.hub, item.db) for item in items}
    for activity_id, results in batch.results.items():
        data = results.model_dump(mode="json")
        for hub, db in hubs.values():
            on_commit(session, _publisher(hub, db, activity_id, data))
    return batch.outcomes


def submit_vote(db: Database, hub: Hub, request: VoteRequest) -> Future[VoteReceipt]:
    """Queue a vote for the writer; the future settles after its transaction is durable."""
    return db.group_commit(vote_batch, QueuedVote(request=request, hub=hub, db=db))


async def cast_vote(db: Database, hub: Hub, request: VoteRequest) -> VoteReceipt:
    """`submit_vote` awaited on the event loop: the receipt once the vote is durable, or the
    vote's refusal raised."""
    receipt: VoteReceipt = await db.group_commit_here(
        vote_batch, QueuedVote(request=request, hub=hub, db=db)
    )
    return receipt
