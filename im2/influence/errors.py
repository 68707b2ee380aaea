"""Errors the influence core raises for bad input or impossible requests.

Every message is written for the person who supplied the input; the CLI prints it as is.
"""


class InfluenceError(ValueError):
    """Base class: the request cannot be served as given."""


class GraphFormatError(InfluenceError):
    """The graph input is unusable; the message says where and why."""


class MemoryBudgetError(InfluenceError):
    """Sampling would need more memory than the caller allowed."""
