"""What every benchmark shares: the run modes, the target rule, the one way to print a result or
to refuse one, and the server and `wrk` helpers of the HTTP benchmarks.

Modes (`mode_argument`): the full run by default, `--quick` (under a few minutes) and `--smoke`
(tiny sizes, seconds long, nothing judged: it proves the benchmark still runs end to end).

The target rule (also at the top of benchmarks/README.md): every target key is present in every
mode, as `{"value", "target", "met"}`. `met` is true or false when the target is judged, and
null when it is not: every target in `--smoke`, and in `--quick` a target marked
`"full_size_only": true` (set for the full size; the quick size cannot reach it by design, so its
value is shown but not judged).

A benchmark that cannot measure (a tool is missing, a run answered nothing) calls `fail`: the
reason goes to stderr and the process exits non-zero. `emit` refuses empty figures or targets the
same way, so an empty result can never pass as a run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
EXIT_CANNOT_MEASURE = 3


class Mode(StrEnum):
    FULL = "full"
    QUICK = "quick"
    SMOKE = "smoke"


def mode_argument(parser: argparse.ArgumentParser, *, quick: str, smoke: str) -> None:
    """Add the mutually exclusive --quick and --smoke flags (their help says the sizes)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help=quick)
    group.add_argument("--smoke", action="store_true", help=smoke + "; no target is judged")


def mode_of(args: argparse.Namespace) -> Mode:
    if getattr(args, "smoke", False):
        return Mode.SMOKE
    return Mode.QUICK if getattr(args, "quick", False) else Mode.FULL


def target(
    value: Any, goal: str, met: bool, *, mode: Mode, full_size_only: bool = False
) -> dict[str, Any]:
    """One entry of `targets`, judged or not by the rule above."""
    entry: dict[str, Any] = {"value": value, "target": goal}
    judged = mode is Mode.FULL or (mode is Mode.QUICK and not full_size_only)
    entry["met"] = bool(met) if judged else None
    if full_size_only:
        entry["full_size_only"] = True
    return entry


def fail(benchmark: str, reason: str) -> NoReturn:
    """Stop: nothing (or nothing trustworthy) was measured."""
    print(f"{benchmark}: cannot measure: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_CANNOT_MEASURE)


def emit(
    benchmark: str, figures: dict[str, Any], targets: dict[str, dict[str, Any]], *, mode: Mode
) -> None:
    """Print the result line, the last line of the run; refuse an empty or malformed one."""
    if not figures:
        fail(benchmark, "no figures were measured")
    if not targets:
        fail(benchmark, "no targets were reported")
    for key, entry in targets.items():
        missing = {"value", "target", "met"} - set(entry)
        if missing:
            fail(benchmark, f"target {key} lacks {', '.join(sorted(missing))}")
        if entry["value"] is None:
            fail(benchmark, f"target {key} has no value")
    sys.stdout.flush()
    line = {"benchmark": benchmark, "mode": str(mode), "figures": figures, "targets": targets}
    print(json.dumps(line, ensure_ascii=False), flush=True)


def require_tool(benchmark: str, tool: str, debian_package: str) -> None:
    if shutil.which(tool) is None:
        fail(
            benchmark,
            f"`{tool}` is not on PATH (Debian: apt-get install -y {debian_package}; "
            "scripts/bench installs it)",
        )


# --- one `im2` server process and `wrk`, for the HTTP benchmarks ---------------------------

SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnop"
CONNECTIONS = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str,
    port: int,
    *,
    extra_code: str = "",
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """One uvicorn server (one worker, as `im2 serve` runs it, without the access log) serving
    the app on `url`, with `GET /bench/noop` (an async no-op, first in the route table) and
    `GET /bench/noop-last` (the same, after every route). `extra_code` runs after those routes
    are added, with `app` and `JSONResponse` in scope (participation adds its insert routes).

    `workers` > 1: uvicorn's supervisor with that many worker processes on one socket, as
    `im2 serve --workers N` runs them (each worker builds the app from a factory module
    written next to the database; PostgreSQL and IM2_REDIS_URL in `env`, as `im2 serve`
    requires). `env`: more IM2_* settings."""
    environment = {
        **os.environ,
        "IM2_DATABASE_URL": url,
        "IM2_SECRET_KEY": SECRET,
        "IM2_RUN_SCHEDULER": "false",
        "IM2_PARTICIPANT_RATE_PER_DEVICE": "1000/second",
        "IM2_PARTICIPANT_RATE_PER_IP": "10000000/second",
        **(env or {}),
    }
    # The ceiling is an async no-op route of the same app, through the same middleware. It is
    # put first in the route table: routes are matched in order and FastAPI's included routers
    # cost ~1.5 us per route tried, so a no-op appended after the app's ~380 routes spent
    # ~0.6 ms per request scanning them (more than the vote's own routing, which is near the
    # front), and that lowered the ceiling the votes were compared with.
    build = (
        "from fastapi.responses import JSONResponse\n"
        "from im2.app import create_app\n"
        "def make():\n"
        "    app = create_app()\n"
        "    async def noop() -> JSONResponse:\n"
        "        return JSONResponse({'status': 'ok'})\n"
        "    app.add_api_route('/bench/noop', noop)\n"
        "    app.router.routes.insert(0, app.router.routes.pop())\n"
        "    app.add_api_route('/bench/noop-last', noop)\n"
        + textwrap.indent(extra_code, "    ")
        + "    return app\n"
    )
    if workers == 1:
        code = (
            build + "import uvicorn\n"
            f"uvicorn.run(make(), host='127.0.0.1', port={port}, log_level='warning', "
            "access_log=False)\n"
        )
        log = None
    else:
        factories = Path(tempfile.mkdtemp(prefix="im2-bench-app-"))
        (factories / "im2_bench_app.py").write_text(build)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(factories), str(ROOT), environment.get("PYTHONPATH", "")]
        )
        # At log level info each worker says when its app has started: the supervisor binds
        # the socket first, so an answer only proves that one worker is up.
        code = (
            "import uvicorn\n"
            f"uvicorn.run('im2_bench_app:make', factory=True, workers={workers}, "
            f"host='127.0.0.1', port={port}, log_level='info', access_log=False)\n"
        )
        log = factories / "server.log"
    if log is None:
        server = subprocess.Popen([sys.executable, "-c", code], env=environment, cwd=ROOT)
    else:
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-c", code],
                env=environment,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    for _ in range(1800):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode} before serving")
        if log is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return server
            except OSError:
                pass
        elif log.read_text(errors="replace").count("Application startup complete") >= workers:
            return server
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start within 3 minutes")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, request and error counts and the p50/p99 latency from `wrk --latency`."""

    def ms(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rps is None or total is None:
        raise ValueError(f"wrk printed no request rate:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    pct = {
        m.group(1): ms(m.group(2), m.group(3))
        for m in re.finditer(r"\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)", output)
    }
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "p50_ms": pct.get("50", float("nan")),
        "p99_ms": pct.get("99", float("nan")),
    }


def wrk(benchmark: str, args: list[str]) -> dict[str, float]:
    """One `wrk` run; a run that fails or answers no request cannot be measured."""
    result = subprocess.run(["wrk", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        fail(benchmark, f"wrk {' '.join(args)} exited {result.returncode}: {result.stderr}")
    try:
        found = parse_wrk(result.stdout)
    except ValueError as error:
        fail(benchmark, str(error))
    if found["requests"] == 0 or found["requests"] == found["non_2xx"]:
        fail(benchmark, f"wrk {' '.join(args)}: no request was answered:\n{result.stdout}")
    return found


@contextlib.contextmanager
def redis_server(benchmark: str) -> Iterator[str]:
    """A redis-server of this run's own on a free loopback port (no persistence), as the
    several-process tests start one; yields its URL. Debian's `redis-server` package."""
    require_tool(benchmark, "redis-server", "redis-server")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="im2-bench-redis-"))
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                fail(benchmark, "redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
