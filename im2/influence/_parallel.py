"""Running a numba kernel over index ranges on several Python threads.

Kernels are compiled with ``nogil=True`` and every RR set or simulation draws from its own
random stream ``(seed, index)``, so splitting an index range between threads changes neither
the results nor their order. Plain threads are used instead of numba's ``parallel=True``:
its default threading layer aborts the process when two Python threads (two web requests,
say) launch parallel kernels at the same time, while ordinary threads have no such limit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import TypeVar

T = TypeVar("T")


def default_threads() -> int:
    """The number of cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def split_range(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive, nearly equal, non-empty ranges covering ``start..stop-1``."""
    parts = max(1, min(parts, stop - start))
    bounds = [start + (stop - start) * p // parts for p in range(parts + 1)]
    return list(pairwise(bounds))


def run_ranges(work: Callable[[int, int, int], T], start: int, stop: int, threads: int) -> list[T]:
    """``work(part, lo, hi)`` over a split of ``start..stop-1``, results in range order."""
    ranges = split_range(start, stop, threads)
    if len(ranges) == 1:
        return [work(0, *ranges[0])]
    with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
        futures = [pool.submit(work, part, lo, hi) for part, (lo, hi) in enumerate(ranges)]
        return [future.result() for future in futures]
