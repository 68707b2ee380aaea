"""People: one person per workspace across devices and campaigns (docs/people.md)."""
