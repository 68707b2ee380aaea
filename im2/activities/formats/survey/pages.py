"""Console pages of surveys that are their own: review held responses, and the builder's
import of questions written in the text format (adding one, the summary charts, the text
editor and the export are the shared console routes, from `format.FORMAT`)."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.pages import add_review, add_text_import
from im2.activities.formats.survey import builder, service
from im2.activities.formats.survey.logic import parse_questions
from im2.activities.schemas import ActivityKind

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


add_review(router, service.do_review_response)
add_text_import(
    router,
    ActivityKind.SURVEY,
    fields={"questions": ""},
    check=lambda values: parse_questions(values["questions"]),
    state=builder.state,
)
