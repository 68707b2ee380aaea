"""集卡, collect the set: cards drawn for taking part elsewhere in the campaign, gifted by link,
and a reward for the full set (the worked example of `docs/architecture.md`)."""
