"""What the visual question builders of surveys and quizzes share: reading their numbered form
fields (`q-0-text`, `q-0-opt-1-label`, ...) and reporting every problem of a submit at once,
each under the form field it belongs to.

The builders post one field per input, numbered by the order on screen; the console's shared
create route (`im2.activities.console`) shows the errors of a pydantic `ValidationError` next to
the fields named by their locations, so a builder's parse raises one with all its problems."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from im2.i18n import _

_QUESTION = re.compile(r"^q-(\d+)-")
_OPTION = re.compile(r"^q-(\d+)-opt-(\d+)-")
Problem = tuple[str, str]  # (form field, message in the user's language)
MAX_ITEMS = 60  # more numbered rows than any builder allows are ignored, never looped over


def has_builder_fields(raw: Mapping[str, str]) -> bool:
    return any(_QUESTION.match(key) for key in raw)


def question_indexes(raw: Mapping[str, str]) -> list[int]:
    found = {int(m.group(1)) for key in raw if (m := _QUESTION.match(key))}
    return sorted(i for i in found if i < MAX_ITEMS)


def option_indexes(raw: Mapping[str, str], question: int) -> list[int]:
    found = {
        int(m.group(2)) for key in raw if (m := _OPTION.match(key)) and int(m.group(1)) == question
    }
    return sorted(i for i in found if i < MAX_ITEMS)


def field_of(loc: tuple[int | str, ...]) -> str:
    """The builder's form field of a location in the create model's input:
    ("questions", 2, "text") → "q-2-text"; ("questions", 2, "options", 0, "label") →
    "q-2-opt-0-label"; ("questions", 2, "options") → "q-2-options"; ("title",) → "title"."""
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        prefix = f"q-{loc[1]}"
        rest = loc[2:]
        if not rest:
            return f"{prefix}-text"
        if rest[0] == "options" and len(rest) >= 2 and isinstance(rest[1], int):
            return f"{prefix}-opt-{rest[1]}-{rest[2] if len(rest) > 2 else 'label'}"
        return f"{prefix}-{rest[0]}"
    return str(loc[0]) if loc else "__all__"


def relocated(exc: ValidationError) -> list[InitErrorDetails]:
    """Every error of a create model's validation, moved to its builder field (its type and
    context kept, so the console translates it as any other)."""
    details: list[InitErrorDetails] = []
    for error in exc.errors():
        detail: InitErrorDetails = {
            "type": error["type"],
            "loc": (field_of(tuple(error.get("loc", ()))),),
            "input": error.get("input"),
        }
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return details


def own(field: str, message: str) -> InitErrorDetails:
    """A problem the builder found itself, its message already in the user's language (the
    console shows a `value_error`'s message as it is)."""
    return {
        "type": PydanticCustomError("value_error", "{error}", {"error": message}),
        "loc": (field,),
        "input": None,
    }


def refuse(title: str, details: list[InitErrorDetails]) -> ValidationError:
    return ValidationError.from_exception_data(title, details)


def check_all(
    model: type[BaseModel], data: dict[str, Any], problems: Callable[[], Iterable[Problem]]
) -> None:
    """Raise one ValidationError with every problem of a builder's `data`: the `model`'s, each
    on its builder field; "add at least one question" when there is none; then the builder's
    own `problems()` (field, message), each on a field that has no message yet."""
    details: list[InitErrorDetails] = []
    try:
        model.model_validate(data)
    except ValidationError as exc:
        details = relocated(exc)
    if not data["questions"]:
        details.append(own("questions", _("Add at least one question.")))
    seen = {str(d["loc"][0]) for d in details}
    for field, message in problems():
        if field not in seen:
            seen.add(field)
            details.append(own(field, message))
    if details:
        raise refuse(model.__name__, details)
