"""Finding the domain packages (one folder per product area, see DESIGN.md).

The migrations ask this module for every domain's `models.py`, so a new domain's tables are
migrated without a list. Its routers are not found here: `im2/app.py` names each of them, in
traffic order, and `tests/test_architecture.py` fails for a router the app does not serve or a
folder the layers contract does not place.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
NOT_DOMAINS = frozenset({"web", "migrations", "locale"})


def domain_names() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if info.ispkg and info.name not in NOT_DOMAINS
    )


def import_domain_modules(module: str) -> list[ModuleType]:
    """Import `im2.<domain>.<module>` for every domain that has one, and
    `im2.<domain>.<part>.<module>` for the parts of a domain kept in sub-packages (people's
    ladder, segments and consents)."""
    found = []
    for name in domain_names():
        folder = PACKAGE_DIR / name
        if (folder / f"{module}.py").is_file():
            found.append(importlib.import_module(f"im2.{name}.{module}"))
        for part in pkgutil.iter_modules([str(folder)]):
            if part.ispkg and (folder / part.name / f"{module}.py").is_file():
                found.append(importlib.import_module(f"im2.{name}.{part.name}.{module}"))
    return found
