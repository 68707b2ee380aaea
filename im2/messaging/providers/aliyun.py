"""Alibaba Cloud SMS `SendSms` (API version 2017-05-25), RPC style, signed with HMAC-SHA1.

The signature (Alibaba Cloud's "RPC signature mechanism"): every parameter but `Signature`,
names and values percent-encoded (RFC 3986: space as %20, `*` as %2A, `~` kept), sorted by
name and joined as `a=b&c=d`; the string to sign is `METHOD&%2F&` + that string encoded once
more; the signature is Base64(HMAC-SHA1(secret + "&", string to sign)). The documentation's
worked example (AccessKeyId testId, secret testSecret, gives zJDF+Lrzhj/ThnlvIToysFRq6t4=) is
a test in tests/messaging/test_signatures.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from im2.messaging.providers import Account, Message, Outcome, SendResult, json_of, national

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
VERSION = "2017-05-25"
REGION = "cn-hangzhou"
# Answers worth another try: the platform's own trouble, not ours.
RETRY_CODES = frozenset(
    {"isp.SYSTEM_ERROR", "ServiceUnavailable", "Throttling", "isp.RAM_PERMISSION_DENY_TEMP"}
)


def percent_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: dict[str, str]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(secret: str, method: str, params: dict[str, str]) -> str:
    mac = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def request_params(
    account: Account, message: Message, *, now: datetime, nonce: str | None = None
) -> dict[str, str]:
    """Every parameter of the request, `Signature` last."""
    params = {
        "AccessKeyId": account.access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "OutId": message.reference,
        "PhoneNumbers": national(message.phone),
        "RegionId": REGION,
        "SignName": account.sign_name,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "TemplateCode": message.template,
        "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
        "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": VERSION,
    }
    params["Signature"] = signature(account.secret, "POST", params)
    return params


def _clean(message: str) -> str:
    """The provider's message without the string it signed, which holds the number and code."""
    return message.split("server string to sign", 1)[0].strip(" :")


def read_answer(status_code: int, text: str) -> SendResult:
    body = json_of(text)
    if body is None:
        outcome = Outcome.RETRY if status_code >= 500 else Outcome.FAILED
        return SendResult(outcome, error=f"HTTP {status_code}: not a JSON answer")
    code = str(body.get("Code") or "")
    request_id = str(body.get("RequestId") or "") or None
    if code == "OK":
        return SendResult(
            Outcome.SENT,
            provider_status=code,
            request_id=request_id,
            biz_id=str(body.get("BizId") or "") or None,
        )
    retry = code in RETRY_CODES or status_code >= 500
    return SendResult(
        Outcome.RETRY if retry else Outcome.FAILED,
        provider_status=code or f"HTTP {status_code}",
        error=_clean(str(body.get("Message") or ""))[:300] or None,
        request_id=request_id,
    )


def send(
    client: httpx.Client, account: Account, message: Message, *, now: datetime, base_url: str | None
) -> SendResult:
    """POST the signed form (the parameters in the body, so the number is in no URL log)."""
    response = client.post(
        base_url or ENDPOINT,
        data=request_params(account, message, now=now),
        headers={"Accept": "application/json"},
    )
    return read_answer(response.status_code, response.text)
