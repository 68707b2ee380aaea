"""Benchmark the influence-maximization core (im2.influence) on real social graphs.

1. NetHEPT as shipped with the IMM reference code (15,229 nodes, 62,752 directed edges, file
   probabilities = weighted cascade), IC, k=50, epsilon=0.1:
   - seconds for load_graph + select_seeds, after one warm-up call so numba's JIT compile (or
     loading its on-disk cache) is excluded; the first call's time is reported separately,
     with whether it compiled the kernels or found them in numba's cache;
   - peak resident memory of the whole process (ru_maxrss: interpreter, numba and LLVM
     included, so an upper bound on what IMM itself needs);
   - the spread of the chosen seeds from 10,000 independent IC simulations and how long those
     simulations take;
   - the top-50-by-out-degree baseline (and degree discount) evaluated the same way, in the
     same run, with the ratio IMM / degree.
2. ego-Facebook (undirected) and email-Eu-core (directed) with constant p=0.01 and with
   weighted cascade: the same figures, no targets.

Sampling and simulation use every core the process may run on (threads; the results are the
same for any thread count).

Usage: python benchmarks/influence.py [--quick]. --quick times one run instead of the median
of three and skips the LT figures. The last line printed is one JSON object. When
/work/shared/data is absent, says so and prints a JSON line with no targets.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from im2.influence._parallel import default_threads
from im2.influence.baselines import degree_discount, top_degree
from im2.influence.graph import Graph, Probability, load_graph, parse_probability
from im2.influence.imm import SeedSelection, select_seeds
from im2.influence.rrsets import Model, _extend, _greedy
from im2.influence.simulate import estimate_spread

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NETHEPT = DATA / "nethept_imm" / "graph_ic.inf"
OTHERS = {
    "ego_facebook": (DATA / "ego_facebook" / "facebook_combined.txt", False),
    "email_eu_core": (DATA / "email_eu_core" / "email-Eu-core.txt", True),
}
K = 50
EPSILON = 0.1
SIMULATIONS = 10_000
# Evaluation simulations use another seed than selection so they are independent of it.
EVALUATION_SEED = 20_151_231


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def load_and_select(
    path: Path, *, directed: bool, probability: Probability | None, model: Model
) -> tuple[Graph, SeedSelection]:
    loaded = load_graph(path, directed=directed, probability=probability)
    return loaded.graph, select_seeds(loaded.graph, k=K, model=model, epsilon=EPSILON)


def spread(graph: Graph, seeds: np.ndarray, model: Model) -> tuple[float, float, float]:
    """Mean, standard error and seconds of SIMULATIONS independent simulations."""
    seconds, estimate = timed(
        lambda: estimate_spread(
            graph, seeds, model=model, simulations=SIMULATIONS, seed=EVALUATION_SEED
        )
    )
    return estimate.mean, estimate.std_error, seconds


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def nethept_figures(quick: bool) -> dict[str, Any]:
    first, _ = timed(lambda: load_and_select(NETHEPT, directed=True, probability=None, model="ic"))
    # Whether that first call compiled the kernels or loaded them from numba's disk cache.
    compiled = any(kernel.stats.cache_misses for kernel in (_extend, _greedy))
    figures: dict[str, Any] = {"nethept_first_call_compiled": compiled}
    estimate_spread(load_graph(NETHEPT).graph, np.arange(K), simulations=10)  # warm the kernel
    figures["nethept_first_call_seconds"] = round(first, 3)
    runs = [
        timed(lambda: load_and_select(NETHEPT, directed=True, probability=None, model="ic"))
        for _ in range(1 if quick else 3)
    ]
    seconds = statistics.median(t for t, _ in runs)
    load_seconds, _ = timed(lambda: load_graph(NETHEPT))
    graph, result = runs[0][1]
    figures.update(
        nethept_nodes=graph.n,
        nethept_edges=graph.m,
        nethept_load_seconds=round(load_seconds, 3),
        nethept_load_and_imm_seconds=round(seconds, 3),
        nethept_load_and_imm_seconds_all_runs=[round(t, 3) for t, _ in runs],
        nethept_rr_sets_final=result.rr_sets,
        nethept_rr_sets_total=result.rr_sets_total,
        nethept_mean_rr_size=round(result.mean_rr_size, 3),
        nethept_imm_rr_estimate=round(result.estimated_spread, 1),
    )
    print(
        f"NetHEPT: {graph.n:,} nodes, {graph.m:,} edges; load {load_seconds:.3f} s; "
        f"load + IMM (IC, k={K}, eps={EPSILON}) {seconds:.3f} s "
        f"({'1 run' if quick else 'median of 3'}, after warm-up; first call {first:.2f} s, "
        f"{'JIT compile' if compiled else 'kernels from the numba cache'}); "
        f"{result.rr_sets_total:,} RR sets sampled"
    )
    mean, error, mc_seconds = spread(graph, result.seeds, "ic")
    degree_mean, degree_error, _ = spread(graph, top_degree(graph, K), "ic")
    discount_mean, _, _ = spread(graph, degree_discount(graph, K), "ic")
    figures.update(
        nethept_imm_spread=round(mean, 1),
        nethept_imm_spread_std_error=round(error, 2),
        nethept_mc_10000_seconds=round(mc_seconds, 3),
        nethept_degree_spread=round(degree_mean, 1),
        nethept_degree_spread_std_error=round(degree_error, 2),
        nethept_degree_discount_spread=round(discount_mean, 1),
        nethept_imm_vs_degree_ratio=round(mean / degree_mean, 3),
    )
    print(
        f"NetHEPT IC spread, {SIMULATIONS:,} simulations: IMM {mean:.1f} ± {error:.2f} "
        f"({mc_seconds:.2f} s), top-{K} degree {degree_mean:.1f} (IMM/degree "
        f"{mean / degree_mean:.3f}), degree discount {discount_mean:.1f}"
    )
    if not quick:
        lt_seconds, (lt_graph, lt_result) = timed(
            lambda: load_and_select(NETHEPT, directed=True, probability=None, model="lt")
        )
        lt_mean, _, _ = spread(lt_graph, lt_result.seeds, "lt")
        lt_degree, _, _ = spread(lt_graph, top_degree(lt_graph, K), "lt")
        figures.update(
            nethept_lt_load_and_imm_seconds=round(lt_seconds, 3),
            nethept_lt_imm_spread=round(lt_mean, 1),
            nethept_lt_degree_spread=round(lt_degree, 1),
        )
        print(
            f"NetHEPT LT: load + IMM {lt_seconds:.3f} s, spread IMM {lt_mean:.1f}, "
            f"top-{K} degree {lt_degree:.1f}"
        )
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return figures


def other_figures() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, (path, directed) in OTHERS.items():
        for label, spec in (("p001", "const:0.01"), ("wc", "wc")):
            probability = parse_probability(spec)
            started = time.perf_counter()
            graph, result = load_and_select(
                path, directed=directed, probability=probability, model="ic"
            )
            seconds = time.perf_counter() - started
            mean, error, mc_seconds = spread(graph, result.seeds, "ic")
            degree_mean, _, _ = spread(graph, top_degree(graph, K), "ic")
            key = f"{name}_{label}"
            figures.update(
                {
                    f"{key}_load_and_imm_seconds": round(seconds, 3),
                    f"{key}_imm_spread": round(mean, 1),
                    f"{key}_imm_spread_std_error": round(error, 2),
                    f"{key}_mc_10000_seconds": round(mc_seconds, 3),
                    f"{key}_degree_spread": round(degree_mean, 1),
                    f"{key}_rr_sets_total": result.rr_sets_total,
                }
            )
            print(
                f"{name} ({graph.n:,} nodes, {graph.m:,} directed edges), IC {spec}: "
                f"load + IMM {seconds:.3f} s, spread IMM {mean:.1f} ± {error:.2f}, "
                f"top-{K} degree {degree_mean:.1f}"
            )
    return figures


def target(value: float, text: str, met: bool) -> dict[str, Any]:
    return {"value": value, "target": text, "met": met}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed run, no LT figures")
    args = parser.parse_args()
    if not NETHEPT.is_file():
        print(f"influence benchmark: {DATA} is absent; nothing to measure")
        print(json.dumps({"benchmark": "influence", "figures": {}, "targets": {}}))
        return
    figures: dict[str, Any] = {
        "quick": args.quick,
        "k": K,
        "epsilon": EPSILON,
        "threads": default_threads(),
    }
    figures.update(nethept_figures(args.quick))
    figures.update(other_figures())
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(f"peak resident memory of the whole process: {figures['peak_rss_mb']:.0f} MB")
    seconds = figures["nethept_load_and_imm_seconds"]
    rss = figures["peak_rss_mb"]
    imm_spread = figures["nethept_imm_spread"]
    mc = figures["nethept_mc_10000_seconds"]
    targets = {
        "nethept_load_and_imm_seconds": target(seconds, "<= 1.5 s", seconds <= 1.5),
        "peak_rss_mb": target(rss, "< 1024 MB", rss < 1024),
        "nethept_imm_spread": target(imm_spread, ">= 960", imm_spread >= 960),
        "nethept_mc_10000_seconds": target(mc, "< 3 s", mc < 3),
    }
    sys.stdout.flush()
    print(json.dumps({"benchmark": "influence", "figures": figures, "targets": targets}))


if __name__ == "__main__":
    main()
