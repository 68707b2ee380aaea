"""Submitting a console form as a browser does, and reading what the page says by a field."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from tests.test_console import form_token


def post_form(client: TestClient, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """`data` posted to `action` with the CSRF token of the form on `page` that posts there;
    the answer itself, not where it redirects."""
    token = form_token(client, page, action)
    return client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)


def field_error_text(html: str, name: str) -> str | None:
    """The message shown under the form field `name`, if any."""
    match = re.search(rf'<p class="field-error" id="{name}-error"[^>]*>([^<]*)</p>', html)
    return match.group(1) if match else None
