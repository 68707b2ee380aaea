"""The event-kind sets the registry's metrics are defined over, in one module so that the
rollup (im2.analytics.rollup) flags exactly the sets the metrics test."""

from __future__ import annotations

from im2.events.schemas import VIEW_KINDS as VIEW_KINDS  # the registry reads every set here
from im2.events.schemas import EventKind as K

# Reach counts people who saw the campaign, including those who arrived by a shared link.
REACH_KINDS = (*VIEW_KINDS, K.SHARE_CLICKED)
INTERACTION_KINDS = (
    K.VOTE_CAST,
    K.QUIZ_ANSWERED,
    K.SURVEY_SUBMITTED,
    K.QUESTION_ASKED,
    K.QUESTION_UPVOTED,
    K.UGC_SUBMITTED,
    K.UGC_VOTED,
    K.DRAW_ENTERED,
    K.CHECKIN_DONE,
    K.GROUPBUY_OPENED,
    K.GROUPBUY_JOINED,
    K.COMMENT_POSTED,
    K.LIKE_GIVEN,
    K.SHARE_CREATED,
)
# A participant is anyone who joined or did something beyond looking.
PARTICIPATION_KINDS = (K.PARTICIPANT_JOINED, *INTERACTION_KINDS)
CONVERSION_KINDS = (K.CONVERSION_RECORDED,)

# AISAS (Dentsu): each stage counts the distinct people with at least one event of its kinds.
AISAS_ATTENTION = REACH_KINDS  # saw the campaign
AISAS_INTEREST = (  # interacted without committing anything
    K.LIKE_GIVEN,
    K.COMMENT_POSTED,
    K.VOTE_CAST,
    K.QUIZ_ANSWERED,
    K.SURVEY_SUBMITTED,
    K.QUESTION_ASKED,
    K.QUESTION_UPVOTED,
    K.UGC_VOTED,
    K.CHECKIN_DONE,
)
# Search: came through a share (share.clicked, or a view carrying a referrer), through search
# (a view whose properties say source=search), or came back (views on two or more days).
AISAS_SEARCH = (*VIEW_KINDS, K.SHARE_CLICKED)
AISAS_ACTION = (  # participated for real or converted
    K.PARTICIPANT_JOINED,
    K.UGC_SUBMITTED,
    K.DRAW_ENTERED,
    K.GROUPBUY_OPENED,
    K.GROUPBUY_JOINED,
    K.COUPON_REDEEMED,
    K.REFERRAL_CONVERTED,
    K.CONVERSION_RECORDED,
)
AISAS_SHARE = (K.SHARE_CREATED,)
# K-factor and cascades: arrivals that can carry a referrer.
REFERRED_KINDS = (K.PARTICIPANT_JOINED, K.SHARE_CLICKED)
