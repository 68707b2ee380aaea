"""Every activity format is a package here (models, schemas, service, format, api, pages,
public). Formats are registered in `im2.activities.registry`; this module only imports their
tables, so that the metadata (migrations, through `formats/models.py`) holds them without
importing any service. A test checks that it lists exactly the registered formats."""

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
