"""The embeddable widget: a workspace's allowed embed origins, the framed activity pages
(`/e/<slug>/<activity id>`), the widget's token identity and the public read API
(docs/embed.md)."""
