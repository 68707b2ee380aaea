"""Tencent Cloud SMS `SendSms` (API 3.0, version 2021-01-11), signed with TC3-HMAC-SHA256.

The signature (Tencent Cloud's "Signature v3"): the canonical request is
`POST\\n/\\n\\n` + the signed headers as `name:value\\n` (lower-case names, sorted) + `\\n` +
their names joined by `;` + `\\n` + hex SHA-256 of the body; the string to sign is
`TC3-HMAC-SHA256\\n<timestamp>\\n<date>/sms/tc3_request\\n` + hex SHA-256 of the canonical
request; the key is HMAC-SHA256 chained from "TC3" + secret over the UTC date, the service and
"tc3_request". The documentation's worked example (SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE,
timestamp 1539084154, gives 5da7a33f…c474) is a test in tests/messaging/test_signatures.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from im2.messaging.providers import Account, Message, Outcome, SendResult, e164, json_of

ENDPOINT = "https://sms.tencentcloudapi.com/"
SERVICE = "sms"
VERSION = "2021-01-11"
ACTION = "SendSms"
REGION = "ap-guangzhou"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = ("content-type", "host", "x-tc-action")
RETRY_PREFIXES = ("InternalError", "RequestLimitExceeded", "ResourceUnavailable")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def canonical_request(
    *, method: str, query: str, headers: dict[str, str], signed: tuple[str, ...], payload: bytes
) -> str:
    lines = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in sorted(signed))
    return "\n".join(
        [
            method,
            "/",
            query,
            lines,
            ";".join(sorted(signed)),
            hashlib.sha256(payload).hexdigest(),
        ]
    )


def tc3_signature(*, secret: str, service: str, timestamp: int, canonical: str) -> tuple[str, str]:
    """(signature, credential scope) of a canonical request."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), scope


def request_body(account: Account, message: Message) -> bytes:
    body = {
        "PhoneNumberSet": [e164(message.phone)],
        "SmsSdkAppId": account.app_id or "",
        "SignName": account.sign_name,
        "TemplateId": message.template,
        # The template's {1}, {2} … in order.
        "TemplateParamSet": list(message.params.values()),
        "SessionContext": message.reference,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def request_headers(
    account: Account, *, host: str, payload: bytes, timestamp: int
) -> dict[str, str]:
    headers = {
        "content-type": CONTENT_TYPE,
        "host": host,
        "x-tc-action": ACTION,
    }
    canonical = canonical_request(
        method="POST", query="", headers=headers, signed=SIGNED_HEADERS, payload=payload
    )
    signed, scope = tc3_signature(
        secret=account.secret, service=SERVICE, timestamp=timestamp, canonical=canonical
    )
    authorization = (
        f"{ALGORITHM} Credential={account.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(SIGNED_HEADERS)}, Signature={signed}"
    )
    return {
        "Authorization": authorization,
        "Content-Type": CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": ACTION,
        "X-TC-Version": VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": account.region or REGION,
    }


def read_answer(status_code: int, text: str) -> SendResult:
    body = json_of(text)
    response = body.get("Response") if body else None
    if not isinstance(response, dict):
        outcome = Outcome.RETRY if status_code >= 500 else Outcome.FAILED
        return SendResult(outcome, error=f"HTTP {status_code}: not a Tencent Cloud answer")
    request_id = str(response.get("RequestId") or "") or None
    error = response.get("Error")
    if isinstance(error, dict):
        code = str(error.get("Code") or "")
        retry = code.startswith(RETRY_PREFIXES) or status_code >= 500
        return SendResult(
            Outcome.RETRY if retry else Outcome.FAILED,
            provider_status=code or None,
            error=str(error.get("Message") or "")[:300] or None,
            request_id=request_id,
        )
    statuses = response.get("SendStatusSet")
    first = statuses[0] if isinstance(statuses, list) and statuses else None
    if not isinstance(first, dict):
        return SendResult(
            Outcome.FAILED, error="no SendStatusSet in the answer", request_id=request_id
        )
    code = str(first.get("Code") or "")
    fee = first.get("Fee")
    fee_count = fee if isinstance(fee, int) else None
    if code == "Ok":
        return SendResult(
            Outcome.SENT,
            provider_status=code,
            request_id=request_id,
            biz_id=str(first.get("SerialNo") or "") or None,
            fee=fee_count,
        )
    retry = code.startswith(RETRY_PREFIXES)
    return SendResult(
        Outcome.RETRY if retry else Outcome.FAILED,
        provider_status=code or None,
        error=str(first.get("Message") or "")[:300] or None,
        request_id=request_id,
        fee=fee_count,
    )


def send(
    client: httpx.Client, account: Account, message: Message, *, now: datetime, base_url: str | None
) -> SendResult:
    url = base_url or ENDPOINT
    payload = request_body(account, message)
    headers = request_headers(
        account, host=urlsplit(url).netloc, payload=payload, timestamp=int(now.timestamp())
    )
    response = client.post(url, content=payload, headers=headers)
    return read_answer(response.status_code, response.text)
