"""Every activity format is a package here (models, schemas, service, format, api, pages,
public). Formats are registered in `im2.activities.registry`; this module only imports their
tables, so that the metadata (migrations, through `formats/models.py`) holds them without
importing any service. A test checks that it lists exactly the registered formats.

What the formats share, so that a format's own modules hold only its rules:
- `common`: the console's read of an activity, texts-only edits, a new activity's row, the
  review of held rows (`HeldReview`) and a participant's event;
- `pages`: console routes made from those (the review of a held row);
- `api`: the participant API dependency and the JSON routes of one shape (a brand's read of
  one activity, a participant's write);
- `declare`: helpers for `format.py` (detail page context, create form texts, `json_api`);
- `demos`: what every demo participant's write takes;
- `builder`: the visual question builders' form fields (surveys and quizzes)."""

from __future__ import annotations

from im2.activities.formats.cards import models as cards
from im2.activities.formats.checkin import models as checkin
from im2.activities.formats.draw import models as draw
from im2.activities.formats.groupbuy import models as groupbuy
from im2.activities.formats.poll import models as poll
from im2.activities.formats.qa import models as qa
from im2.activities.formats.quiz import models as quiz
from im2.activities.formats.referral import models as referral
from im2.activities.formats.survey import models as survey
from im2.activities.formats.ugc import models as ugc

TABLE_MODULES = (cards, checkin, draw, groupbuy, poll, qa, quiz, referral, survey, ugc)
