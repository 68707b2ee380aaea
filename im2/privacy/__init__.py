"""Privacy: the personal-data inventory, data-subject requests, erasure, consent and retention
(docs/privacy.md; the law behind it: PRIVACY.md)."""
