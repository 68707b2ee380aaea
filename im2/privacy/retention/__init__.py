"""Retention: a workspace's policy (anonymise inactive people, truncate raw IPs, delete UGC
media after a campaign ends), the periodic job that enforces it, and the record of its runs."""
