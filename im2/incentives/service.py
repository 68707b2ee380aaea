"""The incentives domain's operations, for its routes, its jobs and every other domain.

Points, reward grants, coupons, prizes and the points store, each in its own module behind this
one facade: other domains import this module (and `schemas`), never the modules behind it.

- `ledger`: wallets, awards, spends and expiry of points;
- `grants`: a reward (points, a coupon or a prize) given once per key, held for review if need
  be, at the participant's experiment reward level (`levels`);
- `coupons`: pools and their codes; `redemptions`: a code used at a shop;
- `prizes`: prizes and their stock, shared with the lucky draws;
- `store`: coupons and prizes bought with points;
- `review`: held grants and flagged redemptions decided by the brand;
- `rules`: points for kinds of events, and the follower that pays them.

Callers own the transaction; nothing here commits. What must hold under concurrency is held by
the database: unique keys make every grant and ledger entry idempotent, `uses <= max_uses` and
`stock >= 0` are CHECK constraints behind conditional UPDATEs, and a participant's spends are
serialized by locking their wallet row (PostgreSQL `FOR UPDATE`; SQLite write transactions are
serialized by `Database.transaction()` already).
"""

from __future__ import annotations

from im2.incentives._common import campaign_is_theirs, check_participant
from im2.incentives.coupons import (
    CodeTypo,
    do_create_pool,
    do_generate_codes,
    do_import_codes,
    find_coupon,
    format_code,
    generate_code,
    get_pool,
    is_typo,
    list_codes,
    list_pools,
    looks_generated,
    normalise_code,
    participant_coupons,
    typo_error,
)
from im2.incentives.grants import (
    OutOfStock,
    check_reward_spec,
    do_issue_coupon,
    grant_coupon_code,
    grant_reward,
)
from im2.incentives.ledger import (
    NotEnoughPoints,
    award_points,
    expire_points,
    expiry_watermark,
    get_balance,
    list_ledger,
    participants_with_expired_credit,
    set_expiry_watermark,
    spend_points,
)
from im2.incentives.levels import use_reward_levels
from im2.incentives.prizes import (
    check_prize_for_draw,
    claim_prize_for_draw,
    do_create_prize,
    do_restock_prize,
    get_prize,
    list_prizes,
    participant_prizes,
    prize_stocks,
    release_prize_reserve,
    reserve_prize_stock,
)
from im2.incentives.redemptions import CouponExpired, CouponUsedUp, do_redeem
from im2.incentives.review import (
    do_decide_grant,
    do_decide_redemption,
    list_flagged_redemptions,
    list_grants,
    participant_pending,
)
from im2.incentives.rules import (
    RULES_BATCH,
    RulesRun,
    apply_rules,
    award_at_once,
    do_delete_rule,
    do_save_rule,
    list_rules,
    points_due_at,
)
from im2.incentives.schemas import GrantResult
from im2.incentives.store import do_buy, store_items

__all__ = [
    "RULES_BATCH",
    "CodeTypo",
    "CouponExpired",
    "CouponUsedUp",
    "GrantResult",
    "NotEnoughPoints",
    "OutOfStock",
    "RulesRun",
    "apply_rules",
    "award_at_once",
    "award_points",
    "campaign_is_theirs",
    "check_participant",
    "check_prize_for_draw",
    "check_reward_spec",
    "claim_prize_for_draw",
    "do_buy",
    "do_create_pool",
    "do_create_prize",
    "do_decide_grant",
    "do_decide_redemption",
    "do_delete_rule",
    "do_generate_codes",
    "do_import_codes",
    "do_issue_coupon",
    "do_redeem",
    "do_restock_prize",
    "do_save_rule",
    "expire_points",
    "expiry_watermark",
    "find_coupon",
    "format_code",
    "generate_code",
    "get_balance",
    "get_pool",
    "get_prize",
    "grant_coupon_code",
    "grant_reward",
    "is_typo",
    "list_codes",
    "list_flagged_redemptions",
    "list_grants",
    "list_ledger",
    "list_pools",
    "list_prizes",
    "list_rules",
    "looks_generated",
    "normalise_code",
    "participant_coupons",
    "participant_pending",
    "participant_prizes",
    "participants_with_expired_credit",
    "points_due_at",
    "prize_stocks",
    "release_prize_reserve",
    "reserve_prize_stock",
    "set_expiry_watermark",
    "spend_points",
    "store_items",
    "typo_error",
    "use_reward_levels",
]
