"""SMS benchmark: queueing phone codes and draining them through a provider (issue #22).

    .venv/bin/python benchmarks/sms.py [--quick|--smoke] [--codes N] [--latency-ms MS]
        [--concurrency N]

A workspace with an Alibaba Cloud account whose endpoint is a loopback HTTP server answering
`SendSms` after `--latency-ms` (the round trip to the provider; it checks each request's
HMAC-SHA1 signature, so every message is a real signed request).

1. **Queue**: `--codes` codes are queued one per committed transaction, as a participant's
   request queues it (`do_queue_code`: the caps, the number's keyed hash, the encrypted number
   and code, one insert). Each is timed against a baseline taken just before it under the same
   load: a transaction that changes one row and commits (the commit and its sync, which a code
   request pays anyway: the delivery shares the code's transaction). What SMS adds is the
   difference: the work of queueing and the extra pages the commit writes.
2. **Drain**: the job (`send_messages_job`, 8 at a time by default) runs tick after tick until
   every code is sent; messages per second over the whole drain.

SQLite file database in a temporary folder (PRAGMA synchronous=FULL: one sync per commit, as
in production). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Mode, emit, fail, mode_argument, mode_of, target
from im2.clock import ManualClock
from im2.db import Database
from im2.messaging import service as messaging
from im2.messaging.caps import SmsCaps
from im2.messaging.jobs import send_messages_job
from im2.messaging.schemas import SmsProvider, SmsSettingsUpdate
from im2.migrations import upgrade
from im2.workspaces import service as workspaces

BENCHMARK = "sms"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SIZES = {Mode.FULL: 2_000, Mode.QUICK: 300, Mode.SMOKE: 20}
SECRET = "benchmark-sms-secret-0123456789"
QUEUE_ADDED_MS = 10.0  # median: what queueing adds to a code request's own transaction
DRAIN_PER_SECOND = 20.0  # 1,200 codes a minute: a flash campaign's peak, per server


def _provider(latency: float) -> tuple[ThreadingHTTPServer, dict[str, int]]:
    counts = {"ok": 0, "refused": 0}
    lock = threading.Lock()

    def encode(value: str) -> str:
        return quote(value, safe="~")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            params = dict(parse_qsl(body, keep_blank_values=True))
            signature = params.pop("Signature", "")
            query = "&".join(f"{encode(k)}={encode(params[k])}" for k in sorted(params))
            to_sign = f"POST&{encode('/')}&{encode(query)}"
            mac = hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
            ok = hmac.compare_digest(base64.b64encode(mac).decode(), signature)
            time.sleep(latency)
            with lock:
                counts["ok" if ok else "refused"] += 1
            answer = (
                b'{"Code":"OK","Message":"OK","RequestId":"r","BizId":"b"}'
                if ok
                else b'{"Code":"SignatureDoesNotMatch","Message":"no","RequestId":"r"}'
            )
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode_argument(parser, quick="300 codes", smoke="20 codes")
    parser.add_argument("--codes", type=int, help="codes to queue and send (default by mode)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8, help="the job's (default 8)")
    args = parser.parse_args()
    mode = mode_of(args)
    codes = args.codes or SIZES[mode]

    import os

    from im2.config import get_settings

    server, counts = _provider(args.latency_ms / 1000)
    os.environ["IM2_SMS_ALIYUN_URL"] = f"http://127.0.0.1:{server.server_address[1]}/"
    get_settings.cache_clear()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/sms.db"
        upgrade(url)
        db = Database(url)
        clock = ManualClock(NOW)
        with db.transaction() as session:
            workspace = workspaces.do_create_workspace(
                session, slug="bench", name="Bench", timezone="Asia/Shanghai", now=NOW
            )
            actor = workspaces.system_actor(session, workspace_slug="bench")
            messaging.do_save_sms_settings(
                session,
                actor=actor,
                data=SmsSettingsUpdate(
                    provider=SmsProvider.ALIYUN,
                    access_key_id="LTAI-bench",
                    access_key_secret=SECRET,
                    sign_name="压测",
                    verify_template="SMS_1",
                    daily_cap_per_number=10,
                ),
                now=NOW,
            )
        caps = SmsCaps(per_ip="1000000/hour")
        queue_ms: list[float] = []
        baseline_ms: list[float] = []
        for n in range(codes):
            started = time.perf_counter()
            with db.transaction() as session:
                session.execute(
                    text("UPDATE sms_settings SET daily_cap_per_number = :cap"),
                    {"cap": 10 + n % 2},
                )
            baseline_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            with db.transaction() as session:
                messaging.do_queue_code(
                    session,
                    workspace_id=workspace.id,
                    participant_id=None,
                    phone=f"139{n:08d}",
                    code=f"{n % 1_000_000:06d}",
                    caps=caps,
                    ip="10.0.0.1",
                    now=NOW,
                )
            queue_ms.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        ticks = 0
        while counts["ok"] + counts["refused"] < codes and ticks < codes:
            send_messages_job(db, clock, budget_seconds=8.0, concurrency=args.concurrency)
            ticks += 1
        drain_seconds = time.perf_counter() - started
        db.dispose()
    server.shutdown()
    if counts["refused"] or counts["ok"] != codes:
        fail(BENCHMARK, f"the provider accepted {counts['ok']} of {codes} ({counts})")

    queue_p95 = statistics.quantiles(queue_ms, n=20)[-1] if len(queue_ms) > 1 else queue_ms[0]
    added = statistics.median(q - b for q, b in zip(queue_ms, baseline_ms, strict=True))
    per_second = codes / drain_seconds
    figures = {
        "codes": codes,
        "provider_latency_ms": args.latency_ms,
        "queue_ms_p50": round(statistics.median(queue_ms), 2),
        "queue_ms_p95": round(queue_p95, 2),
        "baseline_commit_ms_p50": round(statistics.median(baseline_ms), 2),
        "queue_added_ms_p50": round(added, 2),
        "drain_seconds": round(drain_seconds, 2),
        "job_ticks": ticks,
        "concurrency": args.concurrency,
        "sent_per_second": round(per_second, 1),
    }
    targets = {
        "queue_added_ms_p50": target(
            round(added, 2),
            f"<= {QUEUE_ADDED_MS:g} ms over the request's own commit",
            added <= QUEUE_ADDED_MS,
            mode=mode,
        ),
        "sent_per_second": target(
            round(per_second, 1),
            f">= {DRAIN_PER_SECOND:g} at {args.latency_ms:g} ms provider latency",
            per_second >= DRAIN_PER_SECOND,
            mode=mode,
        ),
    }
    emit(BENCHMARK, figures, targets, mode=mode)


if __name__ == "__main__":
    main()
