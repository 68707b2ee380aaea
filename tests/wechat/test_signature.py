"""The JS-SDK signature, against the example in WeChat's own JS-SDK documentation (附录1)."""

from __future__ import annotations

import hashlib

from im2.wechat.client import authorize_url, jsapi_signature

DOC_TICKET = (
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
)


def test_the_signature_of_wechats_documentation_example() -> None:
    assert (
        jsapi_signature(
            ticket=DOC_TICKET,
            noncestr="Wm3WZYTPz0wzccnW",
            timestamp=1414587457,
            url="http://mp.weixin.qq.com?params=value",
        )
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_the_fragment_of_the_page_address_is_not_signed() -> None:
    with_fragment = jsapi_signature(
        ticket=DOC_TICKET,
        noncestr="Wm3WZYTPz0wzccnW",
        timestamp=1414587457,
        url="http://mp.weixin.qq.com?params=value#section-2",
    )
    assert with_fragment == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_a_page_address_with_a_query_is_signed_as_it_is() -> None:
    url = "https://h5.example.cn/c/spring?ch=wechat&utm_source=moments"
    text = f"jsapi_ticket=T&noncestr=N&timestamp=1&url={url}"
    assert jsapi_signature(ticket="T", noncestr="N", timestamp=1, url=url) == (
        hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeChat's scheme)
    )


def test_the_oauth_address_keeps_wechats_order_and_ends_with_wechat_redirect() -> None:
    url = authorize_url(
        "https://open.weixin.qq.com",
        app_id="wx1234567890abcdef",
        redirect_uri="https://h5.example.cn/wechat/oauth/callback",
        scope="snsapi_base",
        state="abc.def",
    )
    assert url == (
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx1234567890abcdef"
        "&redirect_uri=https%3A%2F%2Fh5.example.cn%2Fwechat%2Foauth%2Fcallback"
        "&response_type=code&scope=snsapi_base&state=abc.def#wechat_redirect"
    )
