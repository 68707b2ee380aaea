"""The two signature schemes against the worked examples the providers publish: the strongest
proof that a request im2 signs is one the provider accepts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from im2.messaging.providers import Account, Message, aliyun, tencent
from tests.messaging.conftest import aliyun_signature, tencent_signature

# Alibaba Cloud SMS, "HTTP protocol and signature" (SendSms): the documented request and the
# signature it gives with AccessKeySecret "testSecret".
ALIYUN_EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
ALIYUN_EXAMPLE_QUERY = (
    "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001"
    "&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B"
    "%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1"
    "&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0"
    "&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
    "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
)
ALIYUN_EXAMPLE_SIGNATURE = "zJDF+Lrzhj/ThnlvIToysFRq6t4="

# Tencent Cloud API 3.0, "Signature v3" (TC3-HMAC-SHA256): the documented GET of CVM
# DescribeInstances with Limit=10&Offset=0 at timestamp 1539084154, its hashed canonical
# request, and the signature it gives with SecretKey "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".
TENCENT_EXAMPLE_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
TENCENT_EXAMPLE_HASHED_REQUEST = "91c9c192c14460df6c1ffc69e34e6c5e90708de2a6d282cccf957dbf1aa7f3a7"
TENCENT_EXAMPLE_SIGNATURE = "5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474"


def test_aliyun_signature_matches_the_documented_example() -> None:
    assert aliyun.canonical_query(ALIYUN_EXAMPLE) == ALIYUN_EXAMPLE_QUERY
    assert aliyun.signature("testSecret", "GET", ALIYUN_EXAMPLE) == ALIYUN_EXAMPLE_SIGNATURE
    # The test server's own implementation agrees, so it can be trusted to check im2's.
    assert aliyun_signature("testSecret", "GET", ALIYUN_EXAMPLE) == ALIYUN_EXAMPLE_SIGNATURE


def test_aliyun_percent_encoding_follows_rfc_3986() -> None:
    assert aliyun.percent_encode("a b*c~d/e+f") == "a%20b%2Ac~d%2Fe%2Bf"


def test_tencent_signature_matches_the_documented_example() -> None:
    canonical = tencent.canonical_request(
        method="GET",
        query="Limit=10&Offset=0",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "host": "cvm.tencentcloudapi.com",
        },
        signed=("content-type", "host"),
        payload=b"",
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == TENCENT_EXAMPLE_HASHED_REQUEST
    signature, scope = tencent.tc3_signature(
        secret=TENCENT_EXAMPLE_KEY, service="cvm", timestamp=1539084154, canonical=canonical
    )
    assert scope == "2018-10-09/cvm/tc3_request"
    assert signature == TENCENT_EXAMPLE_SIGNATURE
    assert (
        tencent_signature(
            TENCENT_EXAMPLE_KEY,
            date="2018-10-09",
            service="cvm",
            timestamp="1539084154",
            canonical_request=canonical,
        )
        == TENCENT_EXAMPLE_SIGNATURE
    )


def test_tencent_credential_date_is_the_utc_date_of_the_timestamp() -> None:
    """The documentation's warning: 1551113065 is 2019-02-26 00:44 in Beijing, but the
    credential's date is the UTC one, 2019-02-25."""
    _signature, scope = tencent.tc3_signature(
        secret="k", service="sms", timestamp=1551113065, canonical=""
    )
    assert scope == "2019-02-25/sms/tc3_request"


def test_a_request_names_the_number_as_each_provider_wants_it() -> None:
    account = Account(access_key_id="id", secret="s3cr3t", sign_name="品牌", app_id="1400")
    message = Message(phone="13800138000", template="T1", params={"code": "042917"}, reference="7")
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    params = aliyun.request_params(account, message, now=now, nonce="n-1")
    assert params["PhoneNumbers"] == "13800138000"
    assert params["TemplateParam"] == '{"code":"042917"}'
    assert params["Timestamp"] == "2026-03-02T02:00:00Z"
    assert params["Signature"] == aliyun_signature("s3cr3t", "POST", params)
    body = tencent.request_body(account, message)
    assert body == (
        b'{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400",'
        + '"SignName":"品牌",'.encode()
        + b'"TemplateId":"T1","TemplateParamSet":["042917"],"SessionContext":"7"}'
    )
    # Neither the secret nor anything derived from it shows in the account's repr.
    assert "s3cr3t" not in repr(account)
