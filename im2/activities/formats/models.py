"""The formats' tables, found by `im2.domains` like every domain's `models.py` (the migrations
and the privacy inventory import them through it); `im2.activities.formats` lists them."""

from __future__ import annotations

from im2.activities.formats import TABLE_MODULES as TABLE_MODULES
