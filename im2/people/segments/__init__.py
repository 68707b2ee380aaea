"""Segments (人群): saved, versioned rules over a workspace's people (docs/people.md)."""
