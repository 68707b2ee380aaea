"""A person's data as one zip (PIPL Art. 45, GDPR Arts. 15 and 20): machine-readable JSON,
a CSV per table for people to read, one HTML summary (Chinese first), and their media files.

What goes in is what `im2.privacy.inventory` finds about the person (every declared table,
their events from the database and the lake), so the export and the erasure reach the same
rows. The zip is written to a temporary name in `out_dir` and renamed once complete: a crash
never leaves a half-written export that someone could download.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from im2 import i18n
from im2.i18n import N_, use_locale
from im2.privacy import inventory
from im2.spreadsheet import safe_batch, safe_row

EVENTS = "events"
# What people call each table, for the summary and the CSV file names' captions. A table
# without a label is shown by its name (a new domain's table is never left out).
TABLE_LABELS: dict[str, str] = {
    "people": N_("Person"),
    "person_identities": N_("Identities (devices, verified phone or e-mail)"),
    "person_merges": N_("Records of identities joined into one person"),
    "person_tags": N_("Tags"),
    "person_attributes": N_("Attributes"),
    "participants": N_("Profile"),
    "participant_codes": N_("One-time codes sent"),
    "comments": N_("Comments"),
    "likes": N_("Likes"),
    "poll_ballots": N_("Votes"),
    "poll_choices": N_("Options chosen in votes"),
    "quiz_entries": N_("Quizzes taken"),
    "quiz_answers": N_("Quiz answers"),
    "quiz_shown": N_("Quiz questions shown"),
    "survey_responses": N_("Survey answers"),
    "qa_questions": N_("Questions asked"),
    "qa_upvotes": N_("Questions supported"),
    "ugc_entries": N_("Photos and videos submitted"),
    "ugc_votes": N_("Votes for photos and videos"),
    "ugc_scores": N_("Jury scores of your photos and videos"),
    "draw_entries": N_("Lucky draw entries"),
    "checkin_days": N_("Check-ins"),
    "groupbuy_teams": N_("Group-buy teams led"),
    "groupbuy_members": N_("Group-buy teams joined"),
    "card_items": N_("Cards collected"),
    "card_gifts": N_("Cards given"),
    "card_sets": N_("Sets completed"),
    "referral_invites": N_("Friends invited"),
    "referral_clicks": N_("Clicks on invitations"),
    "referral_milestones": N_("Invitation rewards"),
    "share_links": N_("Share links"),
    "point_entries": N_("Points"),
    "incentive_wallets": N_("Points balance"),
    "reward_grants": N_("Rewards"),
    "coupon_codes": N_("Coupons"),
    "coupon_redemptions": N_("Coupons used"),
    "prize_claims": N_("Prizes"),
    "conversions": N_("Purchases and other conversions"),
    "experiment_exposures": N_("Versions of pages shown"),
    "webhook_deliveries": N_("Messages sent to the brand's systems"),
    "privacy_requests": N_("Your requests about your data"),
    "listening_mentions": N_("Your public posts the brand collected (matched to your accounts)"),
    EVENTS: N_("Activity log"),
}


@dataclass(frozen=True, slots=True)
class ExportContent:
    """Everything about one person, in plain data: rows by table, their events, and media
    files (name inside the zip, file on disk)."""

    person_id: int
    workspace_id: int
    generated_at: datetime
    tables: Mapping[str, Sequence[Mapping[str, Any]]]
    events: Sequence[Mapping[str, Any]]
    media: Sequence[tuple[str, Path]]
    # The same events as an Arrow table (`EVENT_ARROW_SCHEMA`), when gathered: its CSV is
    # written column at a time (a long history is tens of thousands of rows).
    events_table: pa.Table | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    return value


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        return str(value)
    return plain


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=True)
    return "" if value is None else _plain(value)


def _csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(safe_row(_cell(row.get(c)) for c in columns))
    # A BOM so that Excel opens the Chinese text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def _events_csv(table: pa.Table) -> bytes:
    """The events' CSV, written by pyarrow with the same formula-safe cells (`safe_batch`)."""
    import pyarrow.csv as pacsv

    batches = [safe_batch(batch) for batch in table.to_batches()]
    buffer = io.BytesIO()
    buffer.write("\ufeff".encode())
    pacsv.write_csv(pa.Table.from_batches(batches, schema=table.schema), buffer)
    return buffer.getvalue()


_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)


def _summary(content: ExportContent, *, files: Sequence[tuple[str, str, int]]) -> bytes:
    template = _env.get_template("privacy/export_summary.html")
    return template.render(
        content=content,
        files=files,
        label=lambda table: i18n.gettext(TABLE_LABELS[table]) if table in TABLE_LABELS else table,
        number=lambda n: f"{n:,}",
        locale=i18n.get_locale(),
    ).encode()


def write_export(content: ExportContent, path: Path, *, locale: str = "zh_CN") -> Path:
    """Write the zip to `path` (through a temporary name, fsynced, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    tables = {name: list(rows) for name, rows in sorted(content.tables.items()) if rows}
    data = {
        "person_id": content.person_id,
        "generated_at": content.generated_at.isoformat(),
        "tables": tables,
        EVENTS: list(content.events),
        "media": [name for name, _file in content.media],
    }
    csv_files = [(name, f"csv/{name}.csv", len(rows)) for name, rows in tables.items()]
    if content.events:
        csv_files.append((EVENTS, f"csv/{EVENTS}.csv", len(content.events)))
    with use_locale(locale), zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json",
            # Compact: the C encoder (an indent falls back to the pure-Python one, 10x slower on
            # a long history); people read the CSV files and index.html.
            json.dumps(data, ensure_ascii=False, default=_json_default, sort_keys=True),
        )
        for name, rows in tables.items():
            archive.writestr(f"csv/{name}.csv", _csv(rows))
        if content.events_table is not None and content.events_table.num_rows:
            archive.writestr(f"csv/{EVENTS}.csv", _events_csv(content.events_table))
        elif content.events:
            archive.writestr(f"csv/{EVENTS}.csv", _csv(content.events))
        for name, file in content.media:
            archive.write(file, f"media/{name}")
        archive.writestr("index.html", _summary(content, files=csv_files))
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)
    return path


def _media(
    tables: Mapping[str, Sequence[Mapping[str, Any]]], media_path: Path
) -> list[tuple[str, Path]]:
    """The person's files under the media folder, from the declarations that name one."""
    found: list[tuple[str, Path]] = []
    root = media_path.resolve()
    for declaration in (item.data for item in inventory.catalogue()):
        if declaration.media is None:
            continue
        for row in tables.get(declaration.table, ()):
            try:
                relative = declaration.media.format(**row)
            except (KeyError, IndexError, ValueError):
                continue
            if "None" in relative.split("/"):
                continue
            file = (media_path / relative).resolve()
            if file.is_file() and file.is_relative_to(root) and not _is_export(relative):
                found.append((relative, file))
    return found


def _is_export(relative: str) -> bool:
    # An earlier export of the person is not part of their data.
    return relative.startswith("privacy-exports/")


# The column that names a row of the brand's own tables (options, questions, activities,
# campaigns, prizes …), in this order of preference.
NAME_COLUMNS = ("label", "text", "title", "name")
# References every row has that say nothing to the person.
UNNAMED_REFERENCES = frozenset({"workspaces"})


@dataclass(frozen=True, slots=True)
class _Naming:
    """A reference column named by a column of the row it points at."""

    target: str
    key: str
    label: str
    new: str  # the column added beside the reference


def _naming_plans(names: Iterable[str]) -> dict[str, list[tuple[str, _Naming]]]:
    """Per table, its reference columns to the brand's own rows that have a name."""
    personal = set(inventory.declared_tables())
    plans: dict[str, list[tuple[str, _Naming]]] = {}
    for name in names:
        for column in inventory.table_of(name).columns:
            for fk in column.foreign_keys:
                target = fk.column.table
                if target.name in personal or target.name in UNNAMED_REFERENCES:
                    continue
                label = next((c for c in NAME_COLUMNS if c in target.c), None)
                if label is None:
                    continue
                stem = column.name.removesuffix("_id")
                plans.setdefault(name, []).append(
                    (column.name, _Naming(target.name, fk.column.name, label, f"{stem}_{label}"))
                )
    return plans


def _named_references(
    session: Session, tables: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """The rows with, beside each reference to one of the brand's own rows, what that row says:
    a ballot choice's `option_id` gets `option_label` (the option's text), `activity_id` gets
    `activity_title`, `question_id` gets `question_text`. Ids alone do not tell a person what
    they chose. Tables that hold people's data are never named this way (another person's
    nickname or text is not part of this person's copy)."""
    plans = _naming_plans(tables)
    wanted: dict[tuple[str, str, str], set[Any]] = {}
    for name, columns in plans.items():
        for column, naming in columns:
            ids = {row[column] for row in tables[name] if row.get(column) is not None}
            wanted.setdefault((naming.target, naming.key, naming.label), set()).update(ids)
    found: dict[tuple[str, str, str], dict[Any, Any]] = {}
    for (target, key, label), ids in wanted.items():
        table = inventory.table_of(target)
        ordered = sorted(ids)
        values: dict[Any, Any] = {}
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start : start + 1000]
            query = select(table.c[key], table.c[label]).where(table.c[key].in_(chunk))
            values.update((row[0], row[1]) for row in session.execute(query))
        found[(target, key, label)] = values
    described: dict[str, list[dict[str, Any]]] = {}
    for name, rows in tables.items():
        out = []
        for original in rows:
            row = dict(original)
            for column, naming in plans.get(name, []):
                value = row.get(column)
                if value is not None and naming.new not in row:
                    row[naming.new] = found[(naming.target, naming.key, naming.label)].get(value)
            out.append(row)
        described[name] = out
    return described


def _named_survey_answers(
    session: Session, tables: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Survey responses with `answers_named` beside the stored `answers` (question id to option
    ids, numbers or text): each question's text with the answer in words (the options'
    labels, the rating, the text)."""
    rows = tables.get("survey_responses")
    if not rows:
        return tables
    ids = sorted({int(k) for row in rows for k in (row.get("answers") or {}) if str(k).isdigit()})
    questions = inventory.table_of("survey_questions")
    options = inventory.table_of("survey_options")
    asked = {
        row.id: row.text
        for row in session.execute(
            select(questions.c.id, questions.c.text).where(questions.c.id.in_(ids))
        )
    }
    # By (question, option): a rating of 4 is not the option whose id is 4.
    labels = {
        (row.question_id, row.id): row.label
        for row in session.execute(
            select(options.c.question_id, options.c.id, options.c.label).where(
                options.c.question_id.in_(ids)
            )
        )
    }
    named_rows = []
    for row in rows:
        named = []
        for key, value in (row.get("answers") or {}).items():
            qid = int(key) if str(key).isdigit() else None
            question = asked.get(qid) if qid is not None else None
            if isinstance(value, list):
                answer: Any = [labels.get((qid, v), v) for v in value]
            elif not isinstance(value, bool) and (qid, value) in labels:
                answer = labels[(qid, value)]
            else:
                answer = value
            named.append({"question": question, "answer": answer})
        named_rows.append({**row, "answers_named": named})
    return {**tables, "survey_responses": named_rows}


def _iso_utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """UTC timestamps as `datetime.isoformat()` writes them ("2026-03-02T02:00:05+00:00", with
    ".ffffff" only when there are microseconds)."""
    text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    text = pc.replace_substring_regex(text, pattern=r"\.000000$", replacement="")
    return pc.binary_join_element_wise(text, pa.scalar("+00:00"), pa.scalar(""))


def gather(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    now: datetime,
    lake_path: Path,
    media_path: Path,
) -> ExportContent:
    tables = _named_survey_answers(
        session,
        _named_references(
            session, inventory.person_rows(session, workspace_id=workspace_id, person_id=person_id)
        ),
    )
    events_table = inventory.person_events(
        session, workspace_id=workspace_id, person_id=person_id, lake_path=lake_path
    )
    # Times as the text data.json holds (`datetime.isoformat`), made column at a time: a long
    # history is tens of thousands of datetime objects otherwise, each encoded through
    # `_json_default`.
    plain = events_table.set_column(
        events_table.schema.get_field_index("occurred_at"),
        "occurred_at",
        _iso_utc(events_table.column("occurred_at")),
    )
    events = plain.to_pylist()
    for event in events:
        # Stored as JSON text; given back as the object it is.
        if isinstance(event.get("properties"), str):
            with contextlib.suppress(ValueError):
                event["properties"] = json.loads(event["properties"])
    return ExportContent(
        person_id=person_id,
        workspace_id=workspace_id,
        generated_at=now,
        tables=tables,
        events=events,
        media=_media(tables, media_path),
        events_table=events_table,
    )


def build_export(
    session: Session,
    *,
    workspace_id: int,
    person_id: int,
    now: datetime,
    lake_path: Path,
    media_path: Path,
    out_dir: Path,
    name: str | None = None,
    locale: str = "zh_CN",
) -> Path:
    """Build the person's zip in `out_dir` and return its path. Reads only: the caller records
    the export (request log, audit log)."""
    content = gather(
        session,
        workspace_id=workspace_id,
        person_id=person_id,
        now=now,
        lake_path=lake_path,
        media_path=media_path,
    )
    filename = name or f"person-{person_id}-{now:%Y%m%d%H%M%S}.zip"
    return write_export(content, out_dir / filename, locale=locale)


def sizes(content: ExportContent) -> Iterable[tuple[str, int]]:
    """Rows per table (and events), for reports and tests."""
    for name, rows in content.tables.items():
        yield name, len(rows)
    yield EVENTS, len(content.events)
