"""Finding the domain packages (one folder per product area, see DESIGN.md).

The app factory, the migrations and the template loader ask this module which domains exist, so
adding a domain is adding a folder: its `models.py` is migrated, its `api.py` and `pages.py`
routers are served, its `templates/` are found.
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
    """Import `im2.<domain>.<module>` for every domain that has one."""
    found = []
    for name in domain_names():
        if (PACKAGE_DIR / name / f"{module}.py").is_file():
            found.append(importlib.import_module(f"im2.{name}.{module}"))
    return found
