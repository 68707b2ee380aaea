"""Console editor of consent texts: per purpose and language, the text shown now, its earlier
versions with how many people agreed to each, a preview as the participant sees it, and
publishing a new version (the old ones stay: every consent record names the version shown).

    GET  /console/w/<ws>/privacy/consent-texts?purpose=…&language=…
    POST /console/w/<ws>/privacy/consent-texts   (action=preview | publish)
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.errors import IM2Error
from im2.i18n import LOCALES, N_, _, use_locale
from im2.people.consent import service
from im2.people.consent.schemas import (
    PURPOSE_NAMES,
    REQUIRED,
    TEXT_MAX,
    ConsentTextCreate,
    Purpose,
)
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import service_error, validation_errors
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}/privacy/consent-texts", include_in_schema=False)

# The languages' names in the editor (a language added to im2.i18n.LOCALES without a name
# here is shown by its code).
LANGUAGE_NAMES = {
    "zh_CN": N_("Simplified Chinese"),
    "zh_TW": N_("Traditional Chinese"),
    "en": N_("English"),
}


def _chosen(request: Request) -> tuple[Purpose, str]:
    raw = request.query_params.get("purpose", "")
    purpose = Purpose(raw) if raw in {p.value for p in Purpose} else Purpose.TAKING_PART
    language = request.query_params.get("language", "")
    return purpose, language if language in LOCALES else LOCALES[0]


def _page(
    request: Request,
    actor: Actor,
    db: DbDep,
    *,
    purpose: Purpose,
    language: str,
    draft: str | None = None,
    preview: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        versions = service.text_versions(session, actor=actor, purpose=purpose, language=language)
        overview = {
            (p, lang): service.current_text(
                session, workspace_id=actor.workspace_id, purpose=p, language=lang
            )
            for p in Purpose
            for lang in LOCALES
        }
    current = versions[0]
    # The preview's own words in the text's language, as the participant's page shows them.
    with use_locale(language):
        shown = {
            "name": _(PURPOSE_NAMES[purpose]),
            "note": _("(needed to take part)") if purpose in REQUIRED else _("(optional)"),
            "agree": _("I agree"),
        }
    return render(
        request,
        "consent/texts.html",
        {
            "nav": "privacy",
            "base": f"/console/w/{actor.workspace_slug}/privacy/consent-texts",
            "can_write": actor.can(Permission.WRITE_PEOPLE),
            "purposes": list(Purpose),
            "required": REQUIRED,
            "purpose_names": PURPOSE_NAMES,
            "languages": LOCALES,
            "language_names": LANGUAGE_NAMES,
            "purpose": purpose,
            "language": language,
            "overview": overview,
            "versions": versions,
            "current": current,
            "shown": shown,
            "older_agreed": sum(v.agreed for v in versions[1:]),
            "draft": current.text if draft is None else draft,
            "preview": preview,
            "half_width": service.half_width_marks(preview)
            if preview and language.startswith("zh")
            else [],
            "text_max": TEXT_MAX,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("")
def texts_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    purpose, language = _chosen(request)
    return _page(request, actor, db, purpose=purpose, language=language)


@router.post("")
def texts_post(
    request: Request, actor: ConsoleActor, form: CsrfForm, db: DbDep, now: NowDep
) -> Response:
    raw_purpose = str(form.get("purpose", ""))
    raw_language = str(form.get("language", ""))
    purpose = (
        Purpose(raw_purpose) if raw_purpose in {p.value for p in Purpose} else Purpose.TAKING_PART
    )
    language = raw_language if raw_language in LOCALES else LOCALES[0]
    draft = str(form.get("text", ""))
    try:
        data = ConsentTextCreate(purpose=raw_purpose, language=raw_language, text=draft)
        if form.get("action") == "preview":
            with db.session() as session:  # the reader's rights and the language are checked
                service.text_versions(session, actor=actor, purpose=purpose, language=language)
            return _page(
                request,
                actor,
                db,
                purpose=purpose,
                language=language,
                draft=draft,
                preview=data.text,
            )
        with db.transaction() as session:
            saved = service.do_add_text(session, actor=actor, data=data, now=now)
    except ValidationError as exc:
        return _page(
            request,
            actor,
            db,
            purpose=purpose,
            language=language,
            draft=draft,
            errors=validation_errors(exc),
            status_code=422,
        )
    except IM2Error as exc:
        return _page(
            request,
            actor,
            db,
            purpose=purpose,
            language=language,
            draft=draft,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    query = urlencode(
        {"purpose": saved.purpose.value, "language": saved.language, "published": saved.version}
    )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/privacy/consent-texts?{query}", status_code=303
    )
