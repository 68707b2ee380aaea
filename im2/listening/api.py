"""JSON API for listening: mention ingest and import, topics, dashboards, alerts, the inbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from im2.listening import alerting, feeds, inbox, jobs, retrain, service, topics, trending
from im2.listening.importers import FileFormat
from im2.listening.schemas import (
    AlertRead,
    ColumnMappingIn,
    ColumnMappingRead,
    CorrectionSummaryRead,
    Dashboard,
    FeedCreate,
    FeedPollRead,
    FeedRead,
    ImportRead,
    InboxItemRead,
    InboxNoteCreate,
    InboxPage,
    InboxStatus,
    InboxUpdate,
    IngestResult,
    ListeningSettingsIn,
    ListeningSettingsRead,
    MentionBatch,
    MentionFilter,
    MentionPage,
    MentionRead,
    Platform,
    ReplyTemplateCreate,
    ReplyTemplateRead,
    ResponseTimes,
    SentimentCorrectionIn,
    SentimentLabel,
    SentimentModelRead,
    SentimentVariantRead,
    SentimentVariantUpdate,
    TermBoard,
    TopicCreate,
    TopicRead,
    TopicUpdate,
)
from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id, RangedMoment

router = APIRouter(prefix="/api/v1", tags=["listening"])


@router.post("/mentions", response_model=IngestResult, summary="Add a batch of mentions")
def ingest_mentions(body: MentionBatch, actor: ApiActor, db: DbDep, now: NowDep) -> IngestResult:
    """Up to 1,000 mentions; a mention already stored (same platform and post id) is counted
    as a duplicate and left unchanged, so a retried batch adds nothing."""
    return write(db, service.do_ingest_batch, actor=actor, mentions=body.mentions, now=now)


@router.post(
    "/mentions/imports",
    response_model=ImportRead,
    status_code=201,
    summary="Import a CSV, TSV, JSON or JSONL file of mentions",
)
async def import_mentions(
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
    file: Annotated[UploadFile, File()],
    mapping: Annotated[str, Form()] = "im2",
    file_format: Annotated[FileFormat | None, Form()] = None,
    timezone: Annotated[
        str | None,
        Form(
            max_length=64,
            description="The zone of times without an offset (e.g. Asia/Shanghai); "
            "default: the mapping's zone, else the workspace's.",
        ),
    ] = None,
) -> ImportRead:
    data = await file.read()

    def store() -> ImportRead:
        # Commits batch by batch (other writers take turns with it); see do_import_file.
        return service.do_import_file(
            db,
            actor=actor,
            filename=file.filename or "upload",
            data=data,
            mapping=mapping,
            file_format=file_format,
            timezone=timezone or None,
            now=now,
        )

    # A large file takes seconds to score and store: off the event loop, so the server keeps
    # answering everyone else meanwhile.
    return await run_in_threadpool(store)


@router.get(
    "/listening/mappings",
    response_model=list[ColumnMappingRead],
    summary="Column mappings for file imports (ready-made, then saved)",
)
def list_mappings(actor: ApiActor, db: DbDep) -> list[ColumnMappingRead]:
    return read(db, service.list_mapping_details, actor=actor)


@router.post(
    "/listening/mappings",
    response_model=ColumnMappingRead,
    status_code=201,
    summary="Save a column mapping",
)
def save_mapping(
    body: ColumnMappingIn, actor: ApiActor, db: DbDep, now: NowDep
) -> ColumnMappingRead:
    """Saved under `name` for later imports (`mapping` of an import); a saved mapping of the
    same name is replaced. The names of the ready-made mappings are taken."""
    return write(
        db,
        service.do_save_mapping,
        actor=actor,
        name=body.name,
        spec=body.model_dump(mode="json", exclude={"name"}),
        now=now,
    )


@router.delete(
    "/listening/mappings/{name}", status_code=204, summary="Delete a saved column mapping"
)
def delete_mapping(name: str, actor: ApiActor, db: DbDep, now: NowDep) -> None:
    write(db, service.do_delete_mapping, actor=actor, name=name, now=now)


@router.get("/mentions/imports/{import_id}", response_model=ImportRead, summary="An import report")
def get_import(import_id: Id, actor: ApiActor, db: DbDep) -> ImportRead:
    return read(db, service.get_import, actor=actor, import_id=import_id)


@router.get("/mentions", response_model=MentionPage, summary="Mentions, newest first")
def list_mentions(
    actor: ApiActor,
    db: DbDep,
    platform: Platform | None = None,
    sentiment: SentimentLabel | None = None,
    language: str | None = None,
    topic_id: Id | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MentionPage:
    filters = MentionFilter(
        platform=platform, sentiment=sentiment, language=language, topic_id=topic_id, q=q
    )
    return read(db, service.list_mentions, actor=actor, filters=filters, cursor=cursor, limit=limit)


@router.put(
    "/mentions/{mention_id}/sentiment",
    response_model=MentionRead,
    summary="Correct a mention's sentiment (kept for retraining)",
)
def correct_sentiment(
    mention_id: Id, body: SentimentCorrectionIn, actor: ApiActor, db: DbDep, now: NowDep
) -> MentionRead:
    return write(
        db,
        service.do_correct_sentiment,
        actor=actor,
        mention_id=mention_id,
        label=body.sentiment,
        now=now,
    )


@router.get("/listening/feeds", response_model=list[FeedRead], summary="Followed feeds")
def list_feeds(actor: ApiActor, db: DbDep) -> list[FeedRead]:
    return read(db, feeds.list_feeds, actor=actor)


@router.post(
    "/listening/feeds", response_model=FeedRead, status_code=201, summary="Follow an RSS/Atom feed"
)
def add_feed(
    body: FeedCreate, actor: ApiActor, db: DbDep, now: NowDep, settings: SettingsDep
) -> FeedRead:
    return write(
        db,
        feeds.do_add_feed,
        actor=actor,
        data=body,
        now=now,
        private_networks=settings.webhooks_reach_private_networks,
    )


@router.delete("/listening/feeds/{feed_id}", status_code=204, summary="Stop following a feed")
def remove_feed(feed_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> None:
    write(db, feeds.do_remove_feed, actor=actor, feed_id=feed_id, now=now)


@router.post(
    "/listening/feeds/{feed_id}/poll", response_model=FeedPollRead, summary="Poll a feed now"
)
def poll_feed(feed_id: Id, request: Request, actor: ApiActor, db: DbDep) -> FeedPollRead:
    due = read(db, feeds.feed_to_poll, actor=actor, feed_id=feed_id)
    imported, _error = jobs.poll_feed(db, request.app.state.clock, due)
    with db.session() as session:
        feed = next(f for f in feeds.list_feeds(session, actor=actor) if f.id == feed_id)
    return FeedPollRead(feed=feed, imported=imported)


@router.get(
    "/listening/sentiment-model",
    response_model=SentimentModelRead,
    summary="Corrections kept and retrained variants",
)
def sentiment_model(actor: ApiActor, db: DbDep) -> SentimentModelRead:
    with db.session() as session:
        summary = retrain.correction_summary(session, actor=actor)
        variants = retrain.list_variants(session, actor=actor)
    return SentimentModelRead(
        corrections=CorrectionSummaryRead.model_validate(summary),
        variants=[SentimentVariantRead.model_validate(v) for v in variants],
    )


@router.post(
    "/listening/sentiment-model/retrain",
    response_model=SentimentVariantRead,
    status_code=201,
    summary="Retrain a workspace variant from the corrections and use it",
)
def retrain_sentiment(actor: ApiActor, db: DbDep, now: NowDep) -> SentimentVariantRead:
    with db.transaction() as session:
        return SentimentVariantRead.model_validate(
            retrain.do_retrain(session, actor=actor, now=now)
        )


@router.patch(
    "/listening/sentiment-model/variants/{variant_id}",
    response_model=SentimentVariantRead,
    summary="Use a variant again, or stop using it (back to the shipped model)",
)
def update_variant(
    variant_id: Id, body: SentimentVariantUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> SentimentVariantRead:
    with db.transaction() as session:
        return SentimentVariantRead.model_validate(
            retrain.do_set_variant_active(
                session, actor=actor, variant_id=variant_id, active=body.active, now=now
            )
        )


@router.get("/listening/settings", response_model=ListeningSettingsRead, summary="Settings")
def get_settings(actor: ApiActor, db: DbDep) -> ListeningSettingsRead:
    return read(db, service.get_settings, actor=actor)


@router.put("/listening/settings", response_model=ListeningSettingsRead, summary="Change settings")
def put_settings(
    body: ListeningSettingsIn, actor: ApiActor, db: DbDep, now: NowDep, settings: SettingsDep
) -> ListeningSettingsRead:
    return write(
        db,
        service.do_update_settings,
        actor=actor,
        data=body,
        now=now,
        private_networks=settings.webhooks_reach_private_networks,
    )


# --- topics and dashboards ------------------------------------------------------------------


@router.get("/topics", response_model=list[TopicRead], summary="Listening topics")
def list_topics(actor: ApiActor, db: DbDep) -> list[TopicRead]:
    return read(db, topics.list_topics, actor=actor)


@router.post("/topics", response_model=TopicRead, status_code=201, summary="Create a topic")
def create_topic(body: TopicCreate, actor: ApiActor, db: DbDep, now: NowDep) -> TopicRead:
    return write(db, topics.do_create_topic, actor=actor, data=body, now=now)


@router.patch("/topics/{topic_id}", response_model=TopicRead, summary="Change a topic")
def update_topic(
    topic_id: Id, body: TopicUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> TopicRead:
    return write(db, topics.do_update_topic, actor=actor, topic_id=topic_id, data=body, now=now)


@router.delete("/topics/{topic_id}", status_code=204, summary="Delete a topic")
def delete_topic(topic_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> None:
    write(db, topics.do_delete_topic, actor=actor, topic_id=topic_id, now=now)


@router.get("/listening/dashboard", response_model=Dashboard, summary="Volume and sentiment")
def dashboard(
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
    topic_id: Id | None = None,
    since: RangedMoment | None = None,
    until: RangedMoment | None = None,
) -> Dashboard:
    until = until or now
    return read(
        db,
        topics.dashboard,
        actor=actor,
        topic_id=topic_id,
        since=since or until - timedelta(days=7),
        until=until,
    )


@router.get(
    "/listening/terms",
    response_model=TermBoard,
    summary="Keywords and trending terms against a baseline period",
)
def terms(
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
    topic_id: Id | None = None,
    since: RangedMoment | None = None,
    until: RangedMoment | None = None,
    baseline_since: RangedMoment | None = None,
    baseline_until: RangedMoment | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TermBoard:
    """The period defaults to the last 7 days, like the dashboard, and the baseline to the
    period of the same length just before it (give `baseline_since` and `baseline_until` to
    compare with another one; it must end by `since`). Counts are posts containing the term
    among the most recent `sample_limit` posts of each period (`complete` says whether that
    was all of them); lift is how many times more posts carry the term than the baseline's
    rate predicts, each count plus one."""
    until = until or now
    return read(
        db,
        trending.term_board,
        actor=actor,
        topic_id=topic_id,
        since=since or until - timedelta(days=7),
        until=until,
        baseline_since=baseline_since,
        baseline_until=baseline_until,
        limit=limit,
    )


# --- alerts ---------------------------------------------------------------------------------


@router.get("/alerts", response_model=list[AlertRead], summary="Spike and crisis alerts")
def list_alerts(actor: ApiActor, db: DbDep) -> list[AlertRead]:
    return read(db, alerting.list_alerts, actor=actor)


@router.get("/alerts/{alert_id}", response_model=AlertRead, summary="One alert")
def get_alert(alert_id: Id, actor: ApiActor, db: DbDep) -> AlertRead:
    return read(db, alerting.get_alert, actor=actor, alert_id=alert_id)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertRead, summary="Acknowledge")
def acknowledge_alert(alert_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> AlertRead:
    return write(db, alerting.do_acknowledge_alert, actor=actor, alert_id=alert_id, now=now)


# --- inbox ----------------------------------------------------------------------------------


@router.get("/inbox", response_model=InboxPage, summary="Mentions that need an answer")
def list_inbox(
    actor: ApiActor,
    db: DbDep,
    status: InboxStatus | None = None,
    assignee_id: Id | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboxPage:
    return read(
        db,
        inbox.list_inbox,
        actor=actor,
        status=status,
        assignee_id=assignee_id,
        cursor=cursor,
        limit=limit,
    )


@router.get("/inbox/metrics", response_model=list[ResponseTimes], summary="Response times")
def inbox_metrics(
    actor: ApiActor, db: DbDep, by: Annotated[str, Query(pattern="^(person|topic)$")] = "person"
) -> list[ResponseTimes]:
    return read(db, inbox.response_times, actor=actor, by=by)


@router.get("/inbox/{item_id}", response_model=InboxItemRead, summary="One inbox item")
def get_inbox_item(item_id: Id, actor: ApiActor, db: DbDep) -> InboxItemRead:
    return read(db, inbox.get_inbox_item, actor=actor, item_id=item_id)


@router.patch("/inbox/{item_id}", response_model=InboxItemRead, summary="Assign, set status")
def update_inbox_item(
    item_id: Id, body: InboxUpdate, actor: ApiActor, db: DbDep, now: NowDep
) -> InboxItemRead:
    return write(db, inbox.do_update_inbox_item, actor=actor, item_id=item_id, data=body, now=now)


@router.post("/inbox/{item_id}/notes", response_model=InboxItemRead, summary="Note or reply")
def add_note(
    item_id: Id, body: InboxNoteCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> InboxItemRead:
    return write(db, inbox.do_add_note, actor=actor, item_id=item_id, data=body, now=now)


@router.get("/reply-templates", response_model=list[ReplyTemplateRead], summary="Templates")
def list_templates(actor: ApiActor, db: DbDep) -> list[ReplyTemplateRead]:
    return read(db, inbox.list_reply_templates, actor=actor)


@router.post(
    "/reply-templates", response_model=ReplyTemplateRead, status_code=201, summary="New template"
)
def create_template(
    body: ReplyTemplateCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> ReplyTemplateRead:
    return write(db, inbox.do_create_reply_template, actor=actor, data=body, now=now)
