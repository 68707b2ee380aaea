"""Sharing: share links and codes, QR codes, the share tree (cascades), channel attribution.

`cascade` is the pure core that measures a share tree from plain arrays; `cascade_import` turns
edge lists and public retweet cascades into those arrays.
"""
