"""Influence maximization core: load social graphs, pick seed sets, forecast their spread.

Pure functions over numpy arrays and frozen dataclasses (no database): ``graph`` loads and
validates graphs, ``imm`` selects seeds with the IMM algorithm under the independent cascade
(IC) and linear threshold (LT) models on the reverse-reachable sets of ``rrsets``,
``simulate`` estimates spread and its time profile by Monte Carlo, ``baselines`` gives
degree heuristics to compare against and ``exact`` computes exact spreads of tiny graphs to
validate all of them. ``cli`` is the ``im2 influence`` command group, and ``graphcache`` keeps
the graphs it parsed in the user's cache so a repeated run skips the text.
"""
