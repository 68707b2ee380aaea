"""Areas of the console and API that a permission opens, by URL.

The services check `campaigns:read` / `campaigns:write` on every read and write; these areas add
the finer read permissions of the role matrix (`schemas.ROLE_PERMISSIONS`) at the boundary, so a
viewer is refused a whole area, including routes added to it later. A test checks that every
listening and influence route and every download falls in its area.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from im2.workspaces.schemas import Permission

_WS = r"/console/w/[^/]+"


@dataclass(frozen=True, slots=True)
class Area:
    name: str
    permission: Permission
    pattern: re.Pattern[str]


AREAS: tuple[Area, ...] = (
    # Downloads of rows (CSV, Excel): participants' answers, codes, metric tables.
    Area(
        "data exports",
        Permission.EXPORT_DATA,
        re.compile(r".*(\.(csv|xlsx)|/export(\.[^/]+|/.+)?)"),
    ),
    Area(
        "social listening",
        Permission.READ_LISTENING,
        re.compile(
            rf"(/api/v1/(mentions|listening|alerts|inbox|topics|reply-templates)|{_WS}/listening)"
            r"(/.*)?"
        ),
    ),
    Area(
        "people",
        Permission.READ_PEOPLE,
        re.compile(rf"(/api/v1|{_WS})/(people|privacy)(/.*)?"),
    ),
    Area(
        "influence",
        Permission.READ_INFLUENCE,
        re.compile(rf"(/api/v1|{_WS})(/campaigns/[^/]+)?/influence(/.*)?"),
    ),
)


def area_permissions(path: str) -> tuple[Permission, ...]:
    """The permissions the areas containing `path` ask for (none outside every area)."""
    return tuple(area.permission for area in AREAS if area.pattern.fullmatch(path))
