"""The audit log and a campaign's history in the reader's words: "状态：草稿 → 已排期 · 定时任务"
for an entry stored as `campaign.status` {"status": "draft"} → {"status": "scheduled"} by
"scheduler", the same entry in English for an English reader, and a phrase for every action the
code records (no raw key ever shown)."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime

from im2.i18n import use_locale
from im2.web.audit_words import ACTIONS, AREAS, describe
from im2.workspaces.schemas import AuditRead
from tests.conftest import repo_root


def _entry(action: str, before: dict | None, after: dict | None, who: str) -> AuditRead:
    return AuditRead(
        id=1,
        occurred_at=datetime(2026, 3, 10, 2, tzinfo=UTC),
        actor_type="system",
        actor_id=None,
        actor_label=who,
        action=action,
        target_type="campaign",
        target_id=7,
        summary="draft → scheduled",
        before=before,
        after=after,
    )


def test_a_status_change_by_the_scheduler_reads_as_a_sentence_in_each_language() -> None:
    entry = _entry("campaign.status", {"status": "scheduled"}, {"status": "live"}, "scheduler")
    with use_locale("zh_CN"):
        line = describe(entry)
        assert (line.what, line.who) == ("状态：已排期 → 进行中", "定时任务")
    with use_locale("en"):
        line = describe(entry)
        assert (line.what, line.who) == ("Status: Scheduled → Live", "Scheduler")


def test_changed_fields_are_named_with_values_in_words_and_local_times() -> None:
    entry = _entry(
        "campaign.update",
        {"name": "春季投票", "starts_at": "2026-03-10T02:00:00+00:00", "tags": ["a"]},
        {"name": "春季新品投票", "starts_at": "2026-03-11T02:00:00+00:00", "tags": ["b"]},
        "owner@acme.example",
    )
    with use_locale("zh_CN"):
        line = describe(entry, zone="Asia/Shanghai")
    assert line.what == (
        "编辑活动：名称：春季投票 → 春季新品投票；开始时间：2026-03-10 10:00 → 2026-03-11 10:00"
    )
    assert line.who == "owner@acme.example"
    created = _entry("prize.created", None, {"name": "保温杯", "units": 8}, "owner@acme.example")
    with use_locale("zh_CN"):
        assert describe(created).what == "新增奖品：「保温杯」"
        assert describe(
            _entry("member.role", {"role": "viewer"}, {"role": "editor"}, "x")
        ).what == ("修改成员角色：角色：只读成员 → 编辑")


def _actions_passed(source: str) -> set[str]:
    """The literal actions given to `record_audit`/`record_write` (the third argument), both
    branches of a conditional one included."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"record_audit", "record_write"}
            and len(node.args) >= 3
        ):
            for part in ast.walk(node.args[2]):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    found.add(part.value)
    return {a for a in found if re.fullmatch(r"[a-z_]+\.[a-z_.]+", a)}


def test_every_action_the_code_records_has_words() -> None:
    recorded = set()
    for path in (repo_root() / "im2").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "record_audit" in text or "record_write" in text or "_record(" in text:
            recorded |= set(re.findall(r'\baction="([a-z_]+\.[a-z_.]+)"', text))
            recorded |= _actions_passed(text)
    assert len(recorded) > 50
    missing = sorted(a for a in recorded if a not in ACTIONS)
    assert missing == [], missing
    # An action built at run time (`question.{action}`) is named by its area, not its key.
    with use_locale("zh_CN"):
        assert describe(_entry("question.unpin", None, None, "x")).what == "问答：操作"
    assert "question" in AREAS
