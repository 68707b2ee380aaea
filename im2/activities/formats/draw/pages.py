"""Console pages of lucky draws that are their own: review held entries (adding one, its page,
the text editor and the export are the shared console routes, made from `format.FORMAT`)."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.draw import service
from im2.activities.formats.pages import add_review

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


add_review(router, service.do_review_entry)
