"""Live numbers: one in-process hub that fans published snapshots out to SSE subscribers."""
