"""Turning pydantic and service errors into per-field messages for console forms."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from im2.errors import IM2Error
from im2.i18n import _


def _message(error: Any) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in ("missing", "string_too_short"):
        return _("This field is required.")
    if kind == "string_too_long":
        return _("At most {n} characters.").format(n=ctx.get("max_length"))
    if kind in ("enum", "literal_error"):
        return _("Choose one of the options.")
    if kind.startswith(("datetime", "date")):
        return _("Enter a date and time.")
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type"):
        return _("Enter a number.")
    if kind == "greater_than":
        return _("Must be greater than {n}.").format(n=ctx.get("gt"))
    if kind == "greater_than_equal":
        return _("Must be at least {n}.").format(n=ctx.get("ge"))
    if kind in ("less_than_equal", "less_than"):
        return _("Must be at most {n}.").format(n=ctx.get("le", ctx.get("lt")))
    if kind == "string_pattern_mismatch":
        return _("The format is not valid.")
    return str(error.get("msg", _("The value is not valid.")))


def validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ())) or "__all__"
        errors.setdefault(field, _message(error))
    return errors


def service_error(exc: IM2Error) -> dict[str, str]:
    return {exc.field or "__all__": exc.message}


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value
