"""The audit log in the reader's words: "状态：草稿 → 已排期" for `campaign.status draft →
scheduled · scheduler`.

An entry keeps its action key and its before/after data; its `summary` was written in the
writer's language (and often names keys), so pages show `describe(entry)` instead: the action
as a translated phrase, what changed as "field: old → new" with values in words (statuses, roles,
yes/no, local times), and who did it, the scheduler and the system named in words too. An action
with no phrase of its own is named by its area ("问答：操作"), never by its key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from im2.campaigns.schemas import STATUS_LABELS
from im2.i18n import N_, _, get_locale
from im2.workspaces.schemas import ROLE_LABELS, AuditRead

ACTIONS: dict[str, str] = {
    "activity.create": N_("Added an activity"),
    "activity.update": N_("Edited an activity"),
    "brand.update": N_("Changed the brand"),
    "campaign.create": N_("Created the campaign"),
    "campaign.status": N_("Status"),
    "campaign.update": N_("Edited the campaign"),
    "checkin.approve": N_("Reviewed a held check-in"),
    "comment.moderate": N_("Moderated a comment"),
    "consent.grant": N_("Recorded a consent"),
    "consent.withdraw": N_("Recorded a withdrawn consent"),
    "consent_text.create": N_("Added a consent text"),
    "conversion.record": N_("Recorded an order"),
    "coupon.issued": N_("Issued a coupon"),
    "coupon.redeemed": N_("Redeemed a coupon"),
    "coupon_codes.generated": N_("Generated coupon codes"),
    "coupon_codes.imported": N_("Imported coupon codes"),
    "coupon_pool.created": N_("Created a coupon pool"),
    "draw_entry.approve": N_("Reviewed a held draw entry"),
    "embed_origin.add": N_("Allowed a site to embed the pages"),
    "embed_origin.remove": N_("Removed a site allowed to embed the pages"),
    "experiment.conclude": N_("Concluded an experiment"),
    "experiment.create": N_("Created an experiment"),
    "experiment.start": N_("Started an experiment"),
    "export.download": N_("Downloaded an export"),
    "influence.graph_deleted": N_("Deleted a follow graph"),
    "influence.graph_imported": N_("Imported a follow graph"),
    "ladder.rules_updated": N_("Changed the engagement stages"),
    "listening.feed.add": N_("Added a listening feed"),
    "listening.feed.remove": N_("Removed a listening feed"),
    "listening.import": N_("Imported mentions"),
    "listening.inbox.update": N_("Handled a mention"),
    "listening.mapping": N_("Saved a column mapping"),
    "listening.mapping.delete": N_("Deleted a column mapping"),
    "listening.sentiment": N_("Corrected a sentiment"),
    "listening.sentiment.retrain": N_("Retrained the sentiment model"),
    "listening.sentiment.variant": N_("Chose the sentiment model"),
    "listening.settings": N_("Changed the listening settings"),
    "listening.template": N_("Added listening topics from a template"),
    "listening.topic.create": N_("Created a listening topic"),
    "listening.topic.delete": N_("Deleted a listening topic"),
    "listening.topic.update": N_("Edited a listening topic"),
    "member.add": N_("Added a member"),
    "member.remove": N_("Removed a member"),
    "member.role": N_("Changed a member's role"),
    "people.exported": N_("Exported people"),
    "people.imported": N_("Imported people"),
    "person.account_added": N_("Linked a social account to a person"),
    "person.merge_undone": N_("Undid a merge of people"),
    "person.merged": N_("Merged people"),
    "person.tagged": N_("Tagged a person"),
    "person.untagged": N_("Removed a person's tag"),
    "point_rule.deleted": N_("Deleted a point rule"),
    "point_rule.saved": N_("Saved a point rule"),
    "prediction.settle": N_("Settled a prediction"),
    "privacy.settings": N_("Changed the privacy settings"),
    "prize.created": N_("Added a prize"),
    "prize.restocked": N_("Restocked a prize"),
    "question.answered": N_("Marked a question answered"),
    "question.hide": N_("Hid a question"),
    "question.pin": N_("Pinned a question"),
    "quiz_answer.approve": N_("Reviewed a held quiz answer"),
    "quiz_question.close": N_("Closed a quiz question"),
    "redemption.approved": N_("Reviewed a flagged redemption"),
    "report.generated": N_("Generated a report"),
    "retention.update": N_("Changed how long data is kept"),
    "reward.approved": N_("Reviewed a held reward"),
    "segment.archive": N_("Archived a segment"),
    "segment.save": N_("Saved a segment"),
    "sms_settings.saved": N_("Changed the SMS settings"),
    "survey_response.approve": N_("Reviewed a held survey response"),
    "token.create": N_("Created an API token"),
    "token.revoke": N_("Revoked an API token"),
    "ugc.approve": N_("Approved an entry"),
    "ugc.count_held_votes": N_("Counted held votes"),
    "ugc.score": N_("Scored an entry"),
    "ugc.reject": N_("Rejected an entry"),
    "ugc.winners": N_("Chose the winners"),
    "vote.approve": N_("Reviewed a held vote"),
    "webhook.create": N_("Added a webhook"),
    "webhook.delete": N_("Deleted a webhook"),
    "webhook.resend": N_("Resent a webhook delivery"),
    "webhook.rotate_secret": N_("Changed a webhook's secret"),
    "webhook.update": N_("Edited a webhook"),
    "wechat.account_removed": N_("Removed the WeChat account"),
    "wechat.account_set": N_("Connected a WeChat account"),
}

# An action without a phrase is named by its area, the part before the first dot.
AREAS: dict[str, str] = {
    "activity": N_("Activity"),
    "campaign": N_("Campaign"),
    "consent": N_("Consent"),
    "coupon": N_("Coupons"),
    "experiment": N_("Experiments"),
    "listening": N_("Social listening"),
    "member": N_("Members"),
    "person": N_("People"),
    "people": N_("People"),
    "privacy": N_("Privacy"),
    "question": N_("Q&A"),
    "ugc": N_("Entries"),
    "webhook": N_("Webhooks"),
}

# The fields whose change is worth a line, in the reader's words.
FIELDS: dict[str, str] = {
    "status": N_("Status"),
    "name": N_("Name"),
    "title": N_("Title"),
    "starts_at": N_("Start time"),
    "ends_at": N_("End time"),
    "role": N_("Role"),
    "points": N_("Points"),
    "pinned": N_("Pinned"),
    "answered": N_("Answered"),
    "score": N_("Score"),
    "units": N_("Units"),
    "count": N_("Count"),
    "active": N_("Active"),
    "timezone": N_("Time zone"),
    "objective": N_("Objective"),
}

# Statuses of things under review, and actors that are not people.
VALUES: dict[str, str] = {
    "pending": N_("Pending review"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "hidden": N_("Hidden"),
    "held": N_("Held for review"),
    "granted": N_("Granted"),
    "voided": N_("Voided"),
}
ACTORS: dict[str, str] = {"scheduler": N_("Scheduler"), "system": N_("System")}

_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
MAX_CHANGES = 4


@dataclass(frozen=True, slots=True)
class AuditLine:
    what: str  # "状态：草稿 → 已排期" or "新建活动：「春季新品投票」"
    who: str


def _value(field: str, value: Any, zone: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str):
        if _ISO_TIME.match(value):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
            if moment.tzinfo is not None:
                moment = moment.astimezone(ZoneInfo(zone))
            return moment.strftime("%Y-%m-%d %H:%M")
        labels: dict[str, str] = {
            **{str(k): v for k, v in STATUS_LABELS.items()},
            **{str(k): v for k, v in ROLE_LABELS.items()},
            **VALUES,
        }
        if field in ("status", "role") and value in labels:
            return _(labels[value])
        return value
    if isinstance(value, int | float):
        return f"{value:,}"
    return ""  # lists and objects: said by the action itself


def _changes(entry: AuditRead, zone: str) -> list[str]:
    before, after = entry.before or {}, entry.after or {}
    if not before:
        return []
    lines = []
    for field, label in FIELDS.items():
        if field not in before and field not in after:
            continue
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        shown_old, shown_new = _value(field, old, zone), _value(field, new, zone)
        if shown_old or shown_new:
            lines.append(
                _("{field}: {old} → {new}").format(field=_(label), old=shown_old, new=shown_new)
            )
    return lines[:MAX_CHANGES]


def _named(entry: AuditRead) -> str:
    """What a new thing is called, when the entry says ("「樱花拿铁」")."""
    after = entry.after or {}
    for key in ("name", "title", "email"):
        value = after.get(key)
        if isinstance(value, str) and value:
            return _("“{name}”").format(name=value)
    return ""


def action_phrase(action: str) -> str:
    if action in ACTIONS:
        return _(ACTIONS[action])
    area = action.split(".", 1)[0]
    return _("{area}: a change").format(area=_(AREAS[area])) if area in AREAS else _("A change")


def describe(entry: AuditRead, *, zone: str = "Asia/Shanghai") -> AuditLine:
    """The entry in the reader's language; times in `zone`."""
    who = _(ACTORS[entry.actor_label]) if entry.actor_label in ACTORS else entry.actor_label
    phrase = action_phrase(entry.action)
    if entry.action == "campaign.status":
        before, after = entry.before or {}, entry.after or {}
        what = _("{field}: {old} → {new}").format(
            field=phrase,
            old=_value("status", before.get("status"), zone),
            new=_value("status", after.get("status"), zone),
        )
        return AuditLine(what=what, who=who)
    details = _changes(entry, zone) or ([_named(entry)] if _named(entry) else [])
    if not details:
        return AuditLine(what=phrase, who=who)
    separator = "；" if get_locale().startswith("zh") else "; "
    what = _("{action}: {details}").format(action=phrase, details=separator.join(details))
    return AuditLine(what=what, who=who)
