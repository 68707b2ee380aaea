"""Turning a hub channel into a server-sent event stream (sse-starlette does the protocol)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent
from starlette.requests import Request

from im2.live.hub import Hub

HEARTBEAT_SECONDS = 15.0


async def stream(
    request: Request, hub: Hub, channel: str, first: str, *, event: str
) -> AsyncIterator[ServerSentEvent]:
    """The current state first, then each newer snapshot; a comment now and then keeps
    proxies from closing an idle stream."""
    async for message in hub.subscribe(channel, first=first, heartbeat=HEARTBEAT_SECONDS):
        if await request.is_disconnected():
            return
        if message is None:
            yield ServerSentEvent(comment="keep-alive")
        else:
            yield ServerSentEvent(data=message, event=event)
