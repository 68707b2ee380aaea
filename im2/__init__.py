"""IM2: an open, self-hostable platform for interactive media 2.0 marketing."""

__version__ = "0.1.0"
