"""Consent by purpose: texts, grants, withdrawals, and the conditions other work filters by.

A grant is one `consent_records` row with the exact text version shown (and the text's
SHA-256), the time, the channel and who gave it (the person, or a guardian for a child under
14). A withdrawal stamps every standing grant of that purpose at once; granting again adds a
new row. Nothing here commits.

Which people may be processed for a purpose (`consented`): everyone who has not withdrawn it.
A withdrawal takes effect on the next query: segments, exports and the webhook outbox ask
`consented` / `withdrawn_participants` every time, nothing is cached. Contacting someone for
marketing needs more than not having said no: `granted` is the stricter condition (a standing
grant), for the work that needs a yes.

The code lives in three modules beside this one, which stays the one callers import:
`service_texts` (the texts and their versions), `service_grants` (grants, withdrawals, states,
records) and `service_conditions` (the conditions other work filters by).
"""

from __future__ import annotations

from im2.people.consent.service_conditions import (
    consented,
    granted,
    withdrawn_participants,
    withdrawn_people,
    withheld_from_receivers,
)
from im2.people.consent.service_grants import (
    do_grant,
    do_grant_many,
    do_record_change,
    do_withdraw,
    get_states,
    list_records,
    states,
)
from im2.people.consent.service_texts import (
    check_language,
    current_text,
    current_texts,
    do_add_text,
    find_text,
    half_width_marks,
    list_texts,
    sha256,
    shipped_text,
    taking_part_text,
    text_versions,
)

__all__ = [
    "check_language",
    "consented",
    "current_text",
    "current_texts",
    "do_add_text",
    "do_grant",
    "do_grant_many",
    "do_record_change",
    "do_withdraw",
    "find_text",
    "get_states",
    "granted",
    "half_width_marks",
    "list_records",
    "list_texts",
    "sha256",
    "shipped_text",
    "states",
    "taking_part_text",
    "text_versions",
    "withdrawn_participants",
    "withdrawn_people",
    "withheld_from_receivers",
]
