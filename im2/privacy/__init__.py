"""Data-subject requests, erasure, consent by purpose and retention (issue #20; docs/privacy.md)."""
