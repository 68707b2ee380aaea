"""Campaign templates' activities (`im2.campaigns.presets`): each is made through its format's
declared create route input and service (`ActivityFormat.api`), as the JSON API would make it.
`im2.app` registers `make_preset_activity` with `presets.use_activity_maker`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from im2.activities.registry import FORMATS
from im2.campaigns.presets import ActivityPreset
from im2.workspaces.schemas import Actor


def make_preset_activity(
    session: Session, actor: Actor, campaign_id: int, preset: ActivityPreset, now: datetime
) -> None:
    fmt = FORMATS.get(preset.kind)
    if fmt is None or fmt.api is None:
        raise LookupError(f"campaign template names an unknown activity kind: {preset.kind}")
    data = fmt.api.create_model.model_validate(preset.data())
    fmt.api.create(session, actor=actor, campaign_id=campaign_id, data=data, now=now)
