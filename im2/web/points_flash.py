"""'+5 积分' after any participant action that earned points, whatever route answered it.

`ParticipantPost.write` pays the campaign's point rules in the action's transaction and notes
the amount on the request (`points_earned`). This middleware tells the participant: a redirect
after the action carries `points=<n>` to the page it leads to (`public_base.html` shows it),
and an HTMX swap carries an `HX-Trigger` event `im2-points` that `live.js` shows the same way.
No route has to remember it, so no public action can forget it.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from im2.web.participant_forms import POINTS_FLAG


def _with_points(location: str, points: int) -> str:
    parts = urlsplit(location)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != POINTS_FLAG]
    return urlunsplit(parts._replace(query=urlencode([*query, (POINTS_FLAG, str(points))])))


class PointsFlashMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith("/c/")
        ):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with the request, even a copied scope

        async def tell(message: Message) -> None:
            if message["type"] == "http.response.start":
                points = int(state.get("points_earned", 0) or 0)
                if points > 0:
                    headers = MutableHeaders(scope=message)
                    location = headers.get("location")
                    if location is not None and 300 <= message["status"] < 400:
                        headers["location"] = _with_points(location, points)
                    elif headers.get("content-type", "").startswith("text/html"):
                        headers["hx-trigger"] = json.dumps({"im2-points": points})
            await send(message)

        await self.app(scope, receive, tell)
