"""The schema walk: every column of every table that can hold personal data, or refers to a
person, a participant or a device, is covered by the inventory (and so by the export and the
erasure) or is on the reviewed exempt list below with its reason. A new table that refers to
people and is on neither fails here."""

from __future__ import annotations

import re

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

from im2.migrations import all_metadata
from im2.privacy.inventory import declared_tables

# Column names that can hold personal data or identify someone (a foreign key to
# participants.id or people.id always counts).
PERSONAL_NAMES = re.compile(
    r"^(device_id|ip|.*_ip|.*_ip_hash|user_agent|nickname|.*email.*|.*phone.*|text|caption|body"
    r"|answers|destination|image_name|video_url|author|actor_id|actor_label|evidence|payload"
    r"|last_response|referred_by|referrer|code|.*_code|order_id|hint|.*_hint|details"
    r"|export_path|value|properties|src|dst|raw|url)$"
)

# Reviewed: (table, column) -> why it is not a person's data to export or erase.
EXEMPT: dict[tuple[str, str], str] = {
    ("audit_entries", "actor_id"): "a console user or API token (staff), not a participant",
    ("audit_entries", "actor_label"): "a console user's or token's name (staff)",
    ("console_sessions", "user_agent"): "console users' sessions (staff)",
    ("users", "email"): "console users (staff), not campaign participants",
    ("consent_texts", "text"): "the brand's consent text",
    ("quiz_questions", "text"): "the brand's question",
    ("survey_questions", "text"): "the brand's question",
    ("conversions", "coupon_code"): "the brand's coupon code; the row is anonymised",
    ("coupon_codes", "code"): "the brand's coupon code; the row is anonymised",
    ("groupbuy_teams", "code"): "the team's join link, shared with the team, not a person's",
    ("join_codes", "code"): "an activity's six-digit join code on the big screen (the brand's)",
    ("idempotency_keys", "status_code"): "an HTTP status",
    ("webhook_deliveries", "last_status_code"): "an HTTP status",
    ("webhook_endpoints", "url"): "the brand's receiver",
    ("listening_feeds", "url"): "the brand's feed",
    ("listening_settings", "alert_emails"): "the brand's staff addresses",
    ("listening_reply_templates", "body"): "the brand's reply text",
    ("listening_inbox_notes", "body"): "staff notes on a public mention",
    ("listening_inbox_notes", "author"): "staff",
    # A public post refers to no person by a column; one whose (platform, author) is a person's
    # social account is theirs, exported and blanked through that match (im2.privacy.mentions).
    ("listening_mentions", "url"): "a public post; matched by account (im2.privacy.mentions)",
    ("listening_mentions", "author"): "a public post; matched by account (im2.privacy.mentions)",
    ("listening_mentions", "text"): "a public post; matched by account (im2.privacy.mentions)",
    ("listening_mentions", "raw"): "a public post; matched by account (im2.privacy.mentions)",
    ("listening_sentiment_corrections", "text"): (
        "a public post's text, for the model; blanked with a matched mention (im2.privacy.mentions)"
    ),
    ("influence_edges", "src"): "an uploaded graph of platform accounts, linked to no person",
    ("influence_edges", "dst"): "an uploaded graph of platform accounts, linked to no person",
    ("wechat_tokens", "value"): "the official account's access_token or jsapi_ticket (the brand's)",
}


def uncovered(metadata: MetaData) -> list[tuple[str, str]]:
    """Columns that refer to people or can hold personal data, declared nowhere."""
    declared = declared_tables()
    found = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        covered: set[str] = set()
        for data in declared.get(table.name, []):
            covered.update(data.columns())
            if data.via is not None:
                covered.add(data.via.split("->")[0])
        for column in table.columns:
            refers = any(
                fk.target_fullname in ("participants.id", "people.id") for fk in column.foreign_keys
            )
            personal = refers or PERSONAL_NAMES.match(column.name)
            if personal and column.name not in covered and (table.name, column.name) not in EXEMPT:
                found.append((table.name, column.name))
    return found


def test_every_personal_column_is_covered_or_exempt() -> None:
    assert uncovered(all_metadata()) == []


def test_a_new_table_that_refers_to_people_fails_the_walk() -> None:
    metadata = MetaData()
    for table in all_metadata().tables.values():
        table.to_metadata(metadata)
    Table(
        "loyalty_notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("participant_id", ForeignKey("participants.id")),
        Column("nickname", String(40)),
    )
    new = set(uncovered(metadata)) - set(uncovered(all_metadata()))
    assert new == {("loyalty_notes", "nickname"), ("loyalty_notes", "participant_id")}


def test_every_declared_column_exists() -> None:
    tables = all_metadata().tables
    for name, decls in declared_tables().items():
        assert name in tables, name
        for data in decls:
            missing = [c for c in data.columns() if c not in tables[name].c]
            assert missing == [], (name, missing)


def test_every_exemption_names_a_real_column() -> None:
    tables = all_metadata().tables
    for table, column in EXEMPT:
        assert table in tables, table
        assert column in tables[table].c, (table, column)
