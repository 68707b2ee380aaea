"""The HTTP face: app factory, shared layout, request context, error bodies, static files."""
