"""Brands (workspaces), console users and their roles, API tokens, sessions and the audit log."""
