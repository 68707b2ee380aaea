"""A tiny counter-based random generator usable inside numba kernels.

numba's own ``np.random`` keeps one hidden state per thread, so results would depend on how
work is split between threads. Seeding every independent unit of work (one RR-set block, one
simulation) from ``(seed, index)`` with splitmix64 makes results identical for any thread count.
"""

import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """Finalise a 64-bit value (splitmix64 output function)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def stream_state(seed: np.uint64, index: np.uint64) -> np.uint64:
    """Starting state of the independent stream number ``index`` for a user seed."""
    return mix64(mix64(seed) + index * _GOLDEN + _GOLDEN)


@njit(cache=True, inline="always")
def next_uniform(state: np.ndarray) -> float:
    """Advance ``state`` (a 1-element uint64 array) and return a float in [0, 1)."""
    state[0] += _GOLDEN
    return float(mix64(state[0]) >> _S11) * _TWO_POW_MINUS_53


@njit(cache=True, inline="always")
def step_uniform(state: np.uint64) -> tuple[np.uint64, float]:
    """Return the advanced state and a float in [0, 1); keeps the state in a register."""
    state = state + _GOLDEN
    return state, float(mix64(state) >> _S11) * _TWO_POW_MINUS_53


@njit(cache=True, inline="always")
def next_success(
    state: np.uint64, position: int, end: int, inv_log_q: float
) -> tuple[np.uint64, int]:
    """Next success after ``position`` among Bernoulli(p) trials numbered up to ``end - 1``.

    ``inv_log_q`` is ``1 / log(1 - p)`` (``-0.0`` when p = 1). One geometric draw (failures
    before a success) replaces testing each trial; returns ``end`` when none succeeds.
    """
    state, r = step_uniform(state)
    jump = math.log1p(-r) * inv_log_q  # log1p(-r) is finite because r < 1
    if not jump < end - position - 1:  # also catches NaN (0 * inf when p underflows)
        return state, end
    return state, position + 1 + int(jump)


# What a stream is used for. Keys differ per purpose so that, for one user seed, the RR sets
# that choose seeds and the simulations that evaluate them never share random numbers
# (shared numbers would make the evaluation optimistic).
RR_ESTIMATION = 0
RR_SELECTION = 1
SIMULATION = 2
_PURPOSES = 4


def stream_key(seed: int, purpose: int) -> np.uint64:
    """The kernel seed for a user seed (>= 0) and one of the purposes above."""
    return np.uint64((seed * _PURPOSES + purpose) % 2**64)
