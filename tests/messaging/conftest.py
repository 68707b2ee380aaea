"""Alibaba Cloud and Tencent Cloud SMS as local HTTP servers on loopback (http.server in a
thread) that check each request the way the providers document it, recomputing the signature
here, independently of im2's code, and answer with the documented bodies.

- Alibaba Cloud SMS `SendSms` (RPC, API version 2017-05-25): the common parameters and the
  HMAC-SHA1 signature of the canonicalised query ("signature mechanism for RPC APIs": the
  documentation's Java sample URL-encodes, then swaps + for %20, * for %2A and %7E for ~).
- Tencent Cloud SMS `SendSms` (API 3.0, version 2021-01-11): the X-TC-* headers and the
  TC3-HMAC-SHA256 signature ("Signature v3").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import pytest

ALIYUN_KEY_ID = "LTAI5tSmsTestKeyId0001"
ALIYUN_SECRET = "aliyun-Secret-9f8e7d6c5b4a3210"
TENCENT_SECRET_ID = "AKIDsmsTestSecretId00000000000000001"
TENCENT_SECRET_KEY = "tencent-SecretKey-0a1b2c3d4e5f6789"
TENCENT_APP_ID = "1400006666"

ALIYUN_PARAMS = {
    "AccessKeyId", "Action", "Format", "OutId", "PhoneNumbers", "RegionId", "SignName",
    "Signature", "SignatureMethod", "SignatureNonce", "SignatureVersion", "TemplateCode",
    "TemplateParam", "Timestamp", "Version",
}  # fmt: skip
ALIYUN_REQUIRED = ALIYUN_PARAMS - {"OutId", "RegionId", "Format"}
TENCENT_REQUIRED = {"PhoneNumberSet", "SmsSdkAppId", "SignName", "TemplateId", "TemplateParamSet"}


@dataclass
class Provider:
    """One fake provider: what it received, what it answered, how slow it is."""

    url: str = ""
    # The first `slow` requests are answered after `delay` seconds (a provider timing out).
    slow: int = 0
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent_codes(self) -> list[str]:
        return [r["code"] for r, a in zip(self.requests, self.answers, strict=True) if a["ok"]]


def _serve(provider: Provider, handle: Any) -> Iterator[Provider]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with provider.lock:
                index = len(provider.requests)
                provider.requests.append({})
                provider.answers.append({"ok": False})
            if index < provider.slow:
                time.sleep(provider.delay)
            status, answer, ok, seen = handle(self, body)
            with provider.lock:
                provider.requests[index] = seen
                provider.answers[index] = {"ok": ok, "status": status, "body": answer}
            payload = json.dumps(answer, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout under test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()


# --- Alibaba Cloud -------------------------------------------------------------------------


def aliyun_encode(value: str) -> str:
    """The documentation's special URL encoding (Java: URLEncoder, then three replacements)."""
    return quote_plus(value, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    query = "&".join(
        aliyun_encode(k) + "=" + aliyun_encode(params[k])
        for k in sorted(params)
        if k != "Signature"
    )
    to_sign = method + "&" + aliyun_encode("/") + "&" + aliyun_encode(query)
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _aliyun(handler: BaseHTTPRequestHandler, body: bytes, provider: Provider) -> Any:
    request_id = str(uuid.uuid4()).upper()
    ctype = handler.headers.get("Content-Type", "")
    pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
    params = dict(pairs)
    seen: dict[str, Any] = {"params": params, "code": None}

    def refuse(status: int, code: str, message: str) -> Any:
        return status, {"RequestId": request_id, "Code": code, "Message": message}, False, seen

    if not ctype.startswith("application/x-www-form-urlencoded") or len(pairs) != len(params):
        return refuse(400, "InvalidParameter", "form body expected, each parameter once")
    missing = ALIYUN_REQUIRED - params.keys()
    unknown = params.keys() - ALIYUN_PARAMS
    if missing or unknown:
        return refuse(
            400, "MissingParameter", f"missing {sorted(missing)} unknown {sorted(unknown)}"
        )
    fixed = {
        "Action": "SendSms", "Version": "2017-05-25", "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0", "Format": "JSON", "RegionId": "cn-hangzhou",
    }  # fmt: skip
    wrong = {k: params.get(k) for k, v in fixed.items() if params.get(k) != v}
    if wrong:
        return refuse(400, "InvalidParameter", f"wrong values {wrong}")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", params["Timestamp"]):
        return refuse(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
    if params["SignatureNonce"] in provider.nonces:
        return refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    provider.nonces.add(params["SignatureNonce"])
    if not re.fullmatch(r"1\d{10}", params["PhoneNumbers"]):
        return refuse(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    template_param = json.loads(params["TemplateParam"])
    seen["code"] = template_param.get("code")
    if params["AccessKeyId"] != ALIYUN_KEY_ID:
        return refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    expected = aliyun_signature(ALIYUN_SECRET, "POST", params)
    if not hmac.compare_digest(expected, params["Signature"]):
        # As Alibaba Cloud answers: the string it signed (which holds the number and the code).
        query = "&".join(
            aliyun_encode(k) + "=" + aliyun_encode(params[k])
            for k in sorted(params)
            if k != "Signature"
        )
        return refuse(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign "
            f"is:POST&%2F&{aliyun_encode(query)}",
        )
    answer = {
        "Message": "OK",
        "RequestId": request_id,
        "Code": "OK",
        "BizId": "900619746936498440^0",
    }
    return 200, answer, True, seen


@pytest.fixture
def aliyun() -> Iterator[Provider]:
    provider = Provider()
    yield from _serve(provider, lambda h, b: _aliyun(h, b, provider))


# --- Tencent Cloud -------------------------------------------------------------------------


def _tc3_sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tencent_signature(
    secret_key: str, *, date: str, service: str, timestamp: str, canonical_request: str
) -> str:
    string_to_sign = (
        "TC3-HMAC-SHA256\n"
        + timestamp
        + "\n"
        + f"{date}/{service}/tc3_request\n"
        + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    )
    secret_date = _tc3_sign(("TC3" + secret_key).encode("utf-8"), date)
    secret_service = _tc3_sign(secret_date, service)
    secret_signing = _tc3_sign(secret_service, "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


AUTH_RE = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d\d-\d\d)/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def _tencent(handler: BaseHTTPRequestHandler, body: bytes) -> Any:
    request_id = str(uuid.uuid4())
    seen: dict[str, Any] = {"body": None, "code": None, "headers": dict(handler.headers.items())}

    def refuse(code: str, message: str) -> Any:
        # Tencent Cloud answers errors with HTTP 200 and Response.Error.
        answer = {
            "Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}
        }
        return 200, answer, False, seen

    h = handler.headers
    if h.get("X-TC-Action") != "SendSms" or h.get("X-TC-Version") != "2021-01-11":
        return refuse("InvalidAction", "X-TC-Action SendSms with X-TC-Version 2021-01-11 expected")
    if not h.get("X-TC-Region") or not (h.get("X-TC-Timestamp") or "").isdigit():
        return refuse("MissingParameter", "X-TC-Region and X-TC-Timestamp are required")
    if h.get("Content-Type") != "application/json; charset=utf-8":
        return refuse("InvalidParameter", "Content-Type must be application/json; charset=utf-8")
    match = AUTH_RE.fullmatch(h.get("Authorization", ""))
    if match is None:
        return refuse("AuthFailure.InvalidAuthorization", "Authorization is not TC3-HMAC-SHA256")
    timestamp = h["X-TC-Timestamp"]
    date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    signed = match["signed"].split(";")
    if match["date"] != date or match["service"] != "sms":
        return refuse("AuthFailure.InvalidAuthorization", "credential scope date/service")
    if not {"content-type", "host"} <= set(signed) or signed != sorted(signed):
        return refuse("AuthFailure.InvalidAuthorization", "SignedHeaders needs content-type;host")
    try:
        payload = json.loads(body)
    except ValueError:
        return refuse("InvalidParameter", "body is not JSON")
    seen["body"] = payload
    missing = TENCENT_REQUIRED - payload.keys()
    if missing:
        return refuse("MissingParameter", f"missing {sorted(missing)}")
    params = payload["TemplateParamSet"]
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        return refuse("InvalidParameterValue.TemplateParameterFormatError", "strings expected")
    seen["code"] = params[0] if params else None
    if match["id"] != TENCENT_SECRET_ID:
        return refuse("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    canonical = (
        "POST\n/\n\n"
        + "".join(f"{name}:{h[name].strip().lower()}\n" for name in signed)
        + "\n"
        + ";".join(signed)
        + "\n"
        + hashlib.sha256(body).hexdigest()
    )
    expected = tencent_signature(
        TENCENT_SECRET_KEY,
        date=date,
        service="sms",
        timestamp=timestamp,
        canonical_request=canonical,
    )
    if not hmac.compare_digest(expected, match["signature"]):
        return refuse(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is "
            "correct.",
        )
    if payload["SmsSdkAppId"] != TENCENT_APP_ID:
        return refuse("FailedOperation.SmsSdkAppIdVerifyFail", "SdkAppId verification failed.")
    phones = payload["PhoneNumberSet"]
    if not all(re.fullmatch(r"\+861\d{10}", p) for p in phones):
        return refuse("InvalidParameterValue.IncorrectPhoneNumber", "Incorrect phone number.")
    statuses = [
        {
            "SerialNo": "5000:1045710669157053657849499619",
            "PhoneNumber": phone,
            "Fee": 1,
            "SessionContext": payload.get("SessionContext", ""),
            "Code": "Ok",
            "Message": "send success",
            "IsoCode": "CN",
        }
        for phone in phones
    ]
    return 200, {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}, True, seen


@pytest.fixture
def tencent() -> Iterator[Provider]:
    provider = Provider()
    yield from _serve(provider, _tencent)
