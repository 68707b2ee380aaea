"""An open-loop HTTP load generator: requests leave on a fixed schedule whatever the server
does, and each one's latency counts from when it was due to leave.

`wrk` is closed-loop (each connection waits for its answer before sending again), so a slow
server slows the load down and its p99 reads better than a participant would see it. `hey -q`
paces each worker but still waits for answers, and sends one set of headers to every request
(each vote here needs a device cookie of its own). This sends request i at `start + i / rate`
on an idle kept-alive connection, or on a new one when none is idle, so the offered load holds
however late the answers are (coordinated omission: a request due while the others wait is
timed from when it was due, not from when a connection was free).

A bare HTTP/1.1 client on asyncio streams (uvloop when installed): httpx would cost more CPU
per request than the server's no-op, on the same cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpenLoopResult:
    offered_rps: float
    sent: int
    answered: int
    statuses: dict[int, int]
    errors: int
    latencies_ms: list[float]  # of answered requests, in the order they were due
    connections: int  # the most open at once

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(
    host: str,
    port: int,
    request: Callable[[int], bytes],
    *,
    rate: float,
    seconds: float,
    timeout: float = 30.0,
) -> OpenLoopResult:
    """Send `request(i)` (a whole HTTP/1.1 request) at `rate` per second for `seconds`."""
    try:
        import uvloop

        runner: Callable[..., OpenLoopResult] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency of the server
        runner = asyncio.run
    return runner(_drive(host, port, request, rate, seconds, timeout))


async def _drive(
    host: str,
    port: int,
    request: Callable[[int], bytes],
    rate: float,
    seconds: float,
    timeout: float,
) -> OpenLoopResult:
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    statuses: dict[int, int] = {}
    latencies: dict[int, float] = {}
    errors = 0
    opened = 0
    most_open = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors, opened, most_open
        try:
            if idle:
                reader, writer = idle.pop()
            else:
                reader, writer = await asyncio.open_connection(host, port)
                opened += 1
                most_open = max(most_open, opened)
            async with asyncio.timeout(timeout):
                writer.write(request(i))
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
            latencies[i] = (time.perf_counter() - due) * 1000
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
            idle.append((reader, writer))
        except (OSError, ValueError, IndexError, TimeoutError, asyncio.IncompleteReadError):
            errors += 1
            opened -= 1

    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return OpenLoopResult(
        offered_rps=rate,
        sent=total,
        answered=len(latencies),
        statuses=statuses,
        errors=errors,
        latencies_ms=[latencies[i] for i in sorted(latencies)],
        connections=most_open,
    )
