"""Check one benchmark's output as scripts/bench does: its last line must be a result.

    python benchmarks/_result_check.py smoke|quick|full OUTPUT_FILE

A result is one JSON object {"benchmark", "figures", "targets"} with non-empty figures and
targets, each target holding "value", "target" and "met" (null for every target under
--smoke), or {"benchmark", "skipped": "<reason>"}. Prints the summary ("3 targets, 2 met, 1 NOT
MET (...)") and exits 0, or prints why the output is not a result and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def summarise(mode: str, output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        raise ValueError("printed nothing")
    try:
        result = json.loads(lines[-1])
    except ValueError:
        raise ValueError(f"the last line is not JSON: {lines[-1][:200]}") from None
    if not isinstance(result, dict) or "benchmark" not in result:
        raise ValueError(f"the last line is not a result object: {lines[-1][:200]}")
    if result.get("skipped"):
        return f"SKIPPED: {result['skipped']}"
    figures, targets = result.get("figures"), result.get("targets")
    if not isinstance(figures, dict) or not figures:
        raise ValueError("no figures")
    if not isinstance(targets, dict) or not targets:
        raise ValueError("no targets")
    verdicts: dict[bool | None, list[str]] = {True: [], False: [], None: []}
    for key, entry in targets.items():
        if not isinstance(entry, dict) or not {"value", "target", "met"} <= set(entry):
            raise ValueError(f"target {key} lacks value, target or met")
        if mode == "smoke" and entry["met"] is not None:
            raise ValueError(f"target {key} is judged under --smoke")
        if entry["met"] not in (True, False, None):
            raise ValueError(f"target {key}: met is {entry['met']!r}")
        verdicts[entry["met"]].append(key)
    parts = [f"{len(targets)} target{'s' if len(targets) > 1 else ''}"]
    if verdicts[True]:
        parts.append(f"{len(verdicts[True])} met")
    if verdicts[False]:
        why = "; ".join(
            f"{k}: {targets[k]['value']} vs {targets[k]['target']}" for k in verdicts[False]
        )
        parts.append(f"{len(verdicts[False])} NOT MET ({why})")
    if verdicts[None]:
        unjudged = len(verdicts[None])
        parts.append("none judged" if unjudged == len(targets) else f"{unjudged} not judged")
    return ", ".join(parts)


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    try:
        print(summarise(mode, path.read_text(encoding="utf-8", errors="replace")))
    except ValueError as error:
        print(error)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
