"""Data-subject requests: the facade the routes, the jobs and other domains import.

Receiving and tracking a request (the due date, the log, reading) live in
`im2.privacy.tracking`; the actions that answer it (export, correction, erasure, restriction,
withdrawal of consent, refusal) in `im2.privacy.answers`. A request moves received → verified
→ in progress → done, or to refused from any open status; every step appends a log entry and
an audit entry in the caller's transaction. The export zip is built outside the request that
asks for it (`im2.privacy.jobs.build_request_export`, run after commit or by the job).
"""

from __future__ import annotations

from im2.privacy.answers import (
    ExportTarget,
    do_attach_export,
    do_correct,
    do_download_export,
    do_erase,
    do_expire_export,
    do_refuse,
    do_restrict,
    do_start_export,
    do_verify,
    do_withdraw,
    expired_exports,
    export_file,
    export_target,
    new_export_name,
    pending_exports,
    start_export,
    withdraw,
)
from im2.privacy.tracking import (
    EXPORTS_FOLDER,
    JOB,
    PARTICIPANT,
    PERSON,
    SYSTEM,
    Doer,
    access_request,
    do_create_request,
    do_self_service_request,
    do_update_privacy_settings,
    due_date,
    export_expiry,
    forget_requests,
    get_privacy_settings,
    get_request,
    list_person_requests,
    list_requests,
    require_read,
)

__all__ = [
    "EXPORTS_FOLDER",
    "JOB",
    "PARTICIPANT",
    "PERSON",
    "SYSTEM",
    "Doer",
    "ExportTarget",
    "access_request",
    "do_attach_export",
    "do_correct",
    "do_create_request",
    "do_download_export",
    "do_erase",
    "do_expire_export",
    "do_refuse",
    "do_restrict",
    "do_self_service_request",
    "do_start_export",
    "do_update_privacy_settings",
    "do_verify",
    "do_withdraw",
    "due_date",
    "expired_exports",
    "export_expiry",
    "export_file",
    "export_target",
    "forget_requests",
    "get_privacy_settings",
    "get_request",
    "list_person_requests",
    "list_requests",
    "new_export_name",
    "pending_exports",
    "require_read",
    "start_export",
    "withdraw",
]
