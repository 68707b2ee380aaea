"""One event writer: `im2.events.service.record_event` (one event) and `record_events` (many in
one insert) are the only code that appends to the event log (docs/architecture.md, "Events").

A second writer would skip the after-commit announcement the live dashboards follow, and the
checks every event gets. import-linter keeps `im2.events.models` private to its domain; these
tests keep that rule without exceptions and catch a writer that goes around the model.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "im2"
# An insert into the events table by any road: the model, its table, raw SQL, the metadata.
WRITES_EVENTS = re.compile(
    r"insert\(\s*Event\b|Event\.__table__|INSERT\s+INTO\s+events\b"
    r"|tables\[\s*[\"']events[\"']\s*\]\s*\.insert",
    re.IGNORECASE,
)


def writers_of_events(root: Path) -> list[str]:
    """Files under `root` (outside its events/ and migrations/) that insert events."""
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if parts[0] in ("events", "migrations"):
            continue
        if WRITES_EVENTS.search(path.read_text(encoding="utf-8")):
            found.append(path.relative_to(root).as_posix())
    return found


def test_no_module_outside_the_events_domain_inserts_events() -> None:
    assert writers_of_events(PACKAGE) == [], (
        "write events through im2.events.service.record_event / record_events"
    )


def test_the_contracts_let_no_other_module_import_the_events_models() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    ignored = [line for c in contracts for line in c.get("ignore_imports", [])]
    assert [line for line in ignored if "im2.events.models" in line] == []


def test_a_second_writer_is_found(tmp_path: Path) -> None:
    # given a domain module that inserts events itself
    (tmp_path / "rogue").mkdir()
    (tmp_path / "rogue" / "service.py").write_text(
        "def f(session, rows):\n    session.execute(insert(Event), rows)\n", encoding="utf-8"
    )
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "service.py").write_text(
        "def g(session, rows):\n    session.execute(Event.__table__.insert(), rows)\n",
        encoding="utf-8",
    )
    # then the check names it, and not the events domain's own writer
    assert writers_of_events(tmp_path) == ["rogue/service.py"]
