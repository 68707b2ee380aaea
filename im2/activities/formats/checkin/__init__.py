"""Daily check-in (打卡): one a local day, streaks, milestone events, a calendar."""
