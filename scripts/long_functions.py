"""List the functions longer than a limit (default 100 lines), longest first.

    python scripts/long_functions.py [FOLDER] [--limit N] [--skip-migrations]

Issue 17 asks for no function over 100 lines except declarative tables; this is how to find
them (a migration's `upgrade` is a declarative table of DDL, so `--skip-migrations` leaves those
out). Lines are counted from the `def` to the last line of the body, decorators excluded.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def long_functions(folder: Path, limit: int, skip_migrations: bool) -> list[tuple[int, str, str]]:
    rows = []
    for path in sorted(folder.rglob("*.py")):
        if skip_migrations and "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > limit:
                    rows.append((lines, f"{path}:{node.lineno}", node.name))
    return sorted(rows, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="im2", type=Path)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--skip-migrations", action="store_true")
    args = parser.parse_args(argv)
    rows = long_functions(args.folder, args.limit, args.skip_migrations)
    for lines, where, name in rows:
        print(f"{lines:5d}  {where}  {name}")
    print(f"{len(rows)} functions over {args.limit} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
