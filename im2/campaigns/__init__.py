"""Campaign lifecycle, objectives, KPI targets, audience and channels."""
