"""Quiz (scored at once, optional time bonus) and prediction game (竞猜, settled later)."""
