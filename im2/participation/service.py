"""Participation: finding or creating the participant behind a device, with consent; risk
signals; the participant's profile and verified identity; reads over participants.

Other domains use participation through this facade (and `schemas`); the operations live in
`joining`, `risk`, `profile` and `roster`. Nothing here commits.
"""

from __future__ import annotations

from im2.participation.joining import (
    AGE_FIRST,
    NOT_ELIGIBLE,
    JoinConsent,
    NewJoin,
    do_join,
    do_join_many,
    eligibility_error,
    get_participant,
    minors_gate,
)
from im2.participation.profile import (
    CODE_ATTEMPTS,
    CODE_LIFETIME,
    CODE_WINDOW,
    CODES_PER_WINDOW,
    NICKNAME_MAX,
    PHONE_RE,
    CodeCheck,
    check_destination,
    check_nickname,
    do_confirm_code,
    do_request_code,
    do_set_nickname,
    get_profile,
)
from im2.participation.risk import (
    MIN_SECONDS_TO_ACT,
    RISK_IP_WINDOW,
    assess_risk,
    identities_from_ips,
    score_risk,
)
from im2.participation.roster import (
    Join,
    Signals,
    count_participants,
    find_participants,
    get_signals,
    list_joins,
)

__all__ = [
    "AGE_FIRST",
    "CODES_PER_WINDOW",
    "CODE_ATTEMPTS",
    "CODE_LIFETIME",
    "CODE_WINDOW",
    "MIN_SECONDS_TO_ACT",
    "NICKNAME_MAX",
    "NOT_ELIGIBLE",
    "PHONE_RE",
    "RISK_IP_WINDOW",
    "CodeCheck",
    "Join",
    "JoinConsent",
    "NewJoin",
    "Signals",
    "assess_risk",
    "check_destination",
    "check_nickname",
    "count_participants",
    "do_confirm_code",
    "do_join",
    "do_join_many",
    "do_request_code",
    "do_set_nickname",
    "eligibility_error",
    "find_participants",
    "get_participant",
    "get_profile",
    "get_signals",
    "identities_from_ips",
    "list_joins",
    "minors_gate",
    "score_risk",
]
