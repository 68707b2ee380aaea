"""A workspace's brand on the public pages: its table (the operations: `workspaces.branding`)."""
