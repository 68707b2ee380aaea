"""Incentives: the points ledger and its rules, reward grants (held for review when suspicious),
coupon pools and redemptions, prizes with stock, the points store, "my rewards"."""
