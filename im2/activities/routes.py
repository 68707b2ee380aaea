"""The formats' own routers, found through the registry: each format names the modules of
its package that hold a `router` (`ActivityFormat.routes`)."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

from im2.activities.registry import FORMATS, RegistryError


def format_routers(module: str) -> list[APIRouter]:
    """The `router` of `<format package>.<module>` of every registered format that has one."""
    routers = []
    for fmt in FORMATS:
        if module not in fmt.routes:
            continue
        router = getattr(importlib.import_module(f"{fmt.package}.{module}"), "router", None)
        if not isinstance(router, APIRouter):
            raise RegistryError(f"{fmt.kind.value}: {module}.py has no APIRouter named router")
        routers.append(router)
    return routers
