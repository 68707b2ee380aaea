"""Every activity format, one module each; importing this package registers their tables."""

from im2.activities.formats import poll

__all__ = ["poll"]
