"""Campaign operations: validate, write, record the event and the audit entry.

Other domains use campaigns through this facade (and `schemas`); the operations live in
`editing` (create, edit, duplicate), `lifecycle` (status transitions and the scheduler) and
`reads`. Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from im2.campaigns.editing import (
    SegmentCheck,
    check_schedule,
    do_create_campaign,
    do_duplicate_campaign,
    do_update_campaign,
    use_segment_check,
)
from im2.campaigns.history import CAMPAIGN_CHANGED
from im2.campaigns.lifecycle import (
    StatusChange,
    do_advance_campaign,
    do_advance_campaigns,
    do_transition_campaign,
    due_campaign_ids,
    live_campaign_zones,
)
from im2.campaigns.reads import (
    CampaignStamp,
    PublicCampaignRef,
    get_campaign,
    get_public_campaign,
    get_public_campaign_by_id,
    get_public_campaign_stamp,
    get_visible_campaign,
    list_campaigns,
    public_languages,
)

__all__ = [
    "CAMPAIGN_CHANGED",
    "CampaignStamp",
    "PublicCampaignRef",
    "SegmentCheck",
    "StatusChange",
    "check_schedule",
    "do_advance_campaign",
    "do_advance_campaigns",
    "do_create_campaign",
    "do_duplicate_campaign",
    "do_transition_campaign",
    "do_update_campaign",
    "due_campaign_ids",
    "get_campaign",
    "get_public_campaign",
    "get_public_campaign_by_id",
    "get_public_campaign_stamp",
    "get_visible_campaign",
    "list_campaigns",
    "live_campaign_zones",
    "public_languages",
    "use_segment_check",
]
