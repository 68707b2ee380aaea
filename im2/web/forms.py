"""Turning pydantic and service errors into per-field messages for console forms.

Pydantic's own messages are English sentences for developers ("List should have at least 2
items after validation, not 0"). A form shows the catalog's message for the error's *type*
instead, with the numbers from its context, so every form speaks the user's language through
one table. Every error of a submit is reported at once (one per field); the routes render the
form again with what was typed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.errors import IM2Error
from im2.i18n import N_, _

# Error types that need no number: type -> message (msgid, translated when shown).
PLAIN: Final[Mapping[str, str]] = {
    "missing": N_("This field is required."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "float_type": N_("Enter a number."),
    "decimal_parsing": N_("Enter a number."),
    "decimal_type": N_("Enter a number."),
    "finite_number": N_("Enter a number."),
    "bool_parsing": N_("Choose yes or no."),
    "bool_type": N_("Choose yes or no."),
    "string_pattern_mismatch": N_("The format is not valid."),
    "url_parsing": N_("Enter a full web address, starting with https://."),
    "url_scheme": N_("Enter a full web address, starting with https://."),
    "url_type": N_("Enter a full web address, starting with https://."),
    "json_invalid": N_("The request body is not valid JSON."),
    "extra_forbidden": N_("This field is not expected here."),
    "string_unicode": N_("The text contains characters that cannot be read."),
}

# Error types whose message carries a number from the error's context.
COUNTED: Final[Mapping[str, tuple[str, str]]] = {
    "string_too_long": (N_("At most {n} characters."), "max_length"),
    "too_long": (N_("At most {n} items."), "max_length"),
    "greater_than": (N_("Must be greater than {n}."), "gt"),
    "greater_than_equal": (N_("Must be at least {n}."), "ge"),
    "less_than": (N_("Must be less than {n}."), "lt"),
    "less_than_equal": (N_("Must be at most {n}."), "le"),
    "multiple_of": (N_("Must be a multiple of {n}."), "multiple_of"),
    "decimal_max_digits": (N_("At most {n} digits."), "max_digits"),
    "decimal_max_places": (N_("At most {n} decimal places."), "decimal_places"),
    "decimal_whole_digits": (N_("At most {n} digits before the decimal point."), "whole_digits"),
}


def _too_short(ctx: Mapping[str, Any]) -> str:
    n = ctx.get("min_length", 1)
    return _("Give at least {n} items.").format(n=n) if n != 1 else _("Give at least one item.")


def _string_too_short(ctx: Mapping[str, Any]) -> str:
    n = ctx.get("min_length", 1)
    if n == 1:  # a blank required text field
        return _("This field is required.")
    return _("At least {n} characters.").format(n=n)


def _own_message(ctx: Mapping[str, Any]) -> str:
    """A model's own validator raised ValueError or AssertionError with its message, which the
    model wrote through the catalog; shown as it is."""
    reason = ctx.get("error")
    return str(reason) if reason else _("The value is not valid.")


SHAPED: Final[Mapping[str, Callable[[Mapping[str, Any]], str]]] = {
    "too_short": _too_short,
    "string_too_short": _string_too_short,
    "value_error": _own_message,
    "assertion_error": _own_message,
}


def error_message(error: Mapping[str, Any]) -> str:
    """The user's-language message for one pydantic error (an item of `errors()`)."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind in PLAIN:
        return _(PLAIN[kind])
    if kind in COUNTED:
        message, key = COUNTED[kind]
        return _(message).format(n=ctx.get(key))
    if kind in SHAPED:
        return SHAPED[kind](ctx)
    if kind.startswith(("datetime", "date", "time", "timezone")):
        return _("Enter a date and time.")
    # A type not in the table: never pydantic's English sentence in a translated form.
    return _("The value is not valid.")


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Every field's first error, keyed by its dotted location (`__all__` for the form)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ())) or "__all__"
        errors.setdefault(field, error_message(error))
    return errors


def service_error(exc: IM2Error) -> dict[str, str]:
    return {exc.field or "__all__": exc.message}


def raw_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The posted text fields (uploads left out), to read and to show again as typed."""
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def first_field(errors: Mapping[str, str]) -> dict[str, str]:
    """Errors on parts of a field (`milestones.1.friends`) on the form field they came from
    (`milestones`), the first of each."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        out.setdefault(key.split(".")[0], message)
    return out


def field_errors(exc: ValidationError) -> dict[str, str]:
    """`validation_errors` on the form fields they came from (`first_field`)."""
    return first_field(validation_errors(exc))


def form_errors(
    exc: ValidationError,
    *,
    fields: Mapping[str, str] | None = None,
    messages: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`field_errors` for a form that differs from its model: a model field's error on the form
    field it was typed in (`fields`: {"model field": "form field"}), said in the form's own
    terms (`messages`: {"form field": `N_()`-marked message}), e.g. a percentage typed for a
    fraction the model bounds by 1."""
    renamed = {(fields or {}).get(k, k): v for k, v in field_errors(exc).items()}
    own = messages or {}
    return {k: _(own[k]) if k in own else v for k, v in renamed.items()}


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FormState:
    """What a console form page shows besides its data: what was typed (`values`; None shows
    the stored or default values), each refused field's message (`errors`, `__all__` for the
    form), and the status the page answers with: 200 when first shown, 422 or the service's
    refusal when it comes again."""

    values: Mapping[str, Any] | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    status_code: int = 200

    @classmethod
    def refused(cls, exc: IM2Error, values: Mapping[str, Any] | None = None) -> FormState:
        """The form again after the service refused it: the message on its field, its status."""
        return cls(values, service_error(exc), exc.status_code)

    def shown(self, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The template's `values` (what was typed, else `defaults`) and `errors`."""
        return {"values": self.values or defaults or {}, "errors": dict(self.errors)}


class ShowAgain(Protocol):
    """Renders the form's page once more in the given state: the page's own function with its
    data bound to it (`partial(_page, request, actor)`)."""

    def __call__(self, *, state: FormState) -> Response: ...


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get: the browser fetches `url` after a form was written."""
    return RedirectResponse(url, status_code=303)


def save_or_show_again(
    write: Callable[[], T],
    *,
    again: ShowAgain,
    done: Callable[[T], Response] | str,
    values: Mapping[str, Any] | None = None,
    invalid: Callable[[ValidationError], dict[str, str]] = validation_errors,
    refused: Callable[[IM2Error], dict[str, str]] = service_error,
    propagate: Collection[int] = (403, 404),
) -> Response:
    """A console form's write, the one way every form answers.

    `write` validates (a pydantic model) and writes in its own transaction. Refused by the
    model, the form comes `again` with what was typed (`values`), every field's error,
    `invalid(exc)`, and 422; refused by the service, with `refused(exc)` and its status, except
    the statuses in `propagate`, which go on to the error page (a form the user may not see, or
    that is gone).
    Written, `done` answers: a URL to redirect to (303), or a function of what `write` returned.
    Each field's first error is shown, every field at once.
    """
    try:
        result = write()
    except ValidationError as exc:
        return again(state=FormState(values, invalid(exc), 422))
    except IM2Error as exc:
        if exc.status_code in propagate:
            raise
        return again(state=FormState(values, refused(exc), exc.status_code))
    return see_other(done) if isinstance(done, str) else done(result)


def act_or_show_again(
    act: Callable[[], T],
    *,
    again: Callable[[IM2Error], Response],
    done: Callable[[T], Response] | str,
    propagate: Collection[int] = (403, 404),
) -> Response:
    """A console action with nothing for a model to validate (a button, or a form checked
    before): `act` writes in its own transaction. Refused by the service, the page comes
    `again` with the refusal, except the statuses in `propagate` (to the error page); done,
    `done` answers as in `save_or_show_again`."""
    try:
        result = act()
    except IM2Error as exc:
        if exc.status_code in propagate:
            raise
        return again(exc)
    return see_other(done) if isinstance(done, str) else done(result)
