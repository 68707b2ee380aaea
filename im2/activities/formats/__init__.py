"""Every activity format is a package here (models, schemas, service, api, pages, public,
live); importing this package registers their tables, and the activities routers include
each format's routers."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def format_names() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules([str(_HERE)]) if info.ispkg)


def format_modules(module: str) -> list[ModuleType]:
    """`im2.activities.formats.<kind>.<module>` for every format that has one."""
    return [
        importlib.import_module(f"{__name__}.{name}.{module}")
        for name in format_names()
        if (_HERE / name / f"{module}.py").is_file()
    ]


format_modules("models")
