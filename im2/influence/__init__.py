"""Influence maximization core: load social graphs, pick seed sets, forecast their spread.

Pure functions over numpy arrays and frozen dataclasses (no database): ``graph`` loads and
validates graphs, ``imm`` selects seeds with the IMM algorithm under the independent cascade
(IC) and linear threshold (LT) models, ``simulate`` estimates spread by Monte Carlo, and
``baselines`` gives simple heuristics to compare against. ``cli`` is the ``im2 influence``
command group.
"""
