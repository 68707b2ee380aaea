"""Poll / vote."""
