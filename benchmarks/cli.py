"""Benchmark how long the `im2` command line takes to answer, as whole processes.

What a user waits for after pressing Enter: the interpreter starting, the imports, the work
and the exit, timed around a fresh process each time (`im2` is the console script of this
environment, next to its Python). Measured:

- `im2 --help` (target: at most 0.3 s, median wall time) and the `--help` of a few commands
  (`influence`, `influence seeds`, `report`, `analytics`, `cascade`, `sentiment`, `events
  export`), which import their own module but none of its heavy libraries;
- the baseline, in the same rounds: `python -c pass` (the interpreter alone, the floor of any
  Python command line) and `python -c "import typer, rich.console"` (the floor of a typer
  command line with rich help);
- per command: median and fastest wall time, median CPU time (user + system, from the
  process's own rusage: less sensitive to other work on a shared machine) and peak RSS;
- which of sqlalchemy, duckdb, scipy, numpy, pyarrow, numba `im2 --help` loaded (none
  expected; tests/test_cli_startup.py asserts it).

Commands take turns in every round, after two warm-up rounds, so all of them see the same load
from the rest of the machine. `--realtime` (root) runs the timed processes at real-time
priority, ahead of everything else: on a shared machine that approximates a quiet one, which
the targets are set for. Usage: python benchmarks/cli.py [--quick|--smoke] [--realtime] (full:
30 rounds, --quick: 10, --smoke: 3 with one warm-up, nothing judged). The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Mode, emit, fail, mode_argument, mode_of, target

BENCHMARK = "cli"
PYTHON = sys.executable
IM2 = str(Path(sys.executable).with_name("im2"))
HEAVY = ("sqlalchemy", "duckdb", "scipy", "numpy", "pyarrow", "numba")
HELP_TARGET_SECONDS = 0.3

COMMANDS: dict[str, list[str]] = {
    "python_pass": [PYTHON, "-c", "pass"],
    "python_typer_rich": [PYTHON, "-c", "import typer, rich.console"],
    "im2_help": [IM2, "--help"],
    "im2_influence_help": [IM2, "influence", "--help"],
    "im2_influence_seeds_help": [IM2, "influence", "seeds", "--help"],
    "im2_report_help": [IM2, "report", "--help"],
    "im2_analytics_help": [IM2, "analytics", "--help"],
    "im2_cascade_help": [IM2, "cascade", "--help"],
    "im2_sentiment_help": [IM2, "sentiment", "--help"],
    "im2_events_export_help": [IM2, "events", "export", "--help"],
}


@dataclass(frozen=True)
class ProcessRun:
    """One finished process: wall seconds, CPU seconds (user + system), peak RSS in MB."""

    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def _realtime_priority() -> None:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))


def run_process(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    realtime: bool = False,
) -> ProcessRun:
    """Run ``command`` to its end and measure it from the outside, as a shell's `time` does.

    ``realtime`` runs it under SCHED_FIFO (root only), ahead of every ordinary process, which
    approximates a quiet machine on a shared one (`chrt -f 10 COMMAND`).
    """
    # Output goes to files, not pipes: nothing can block, and the process is reaped by
    # os.wait4 alone, which reports its own rusage (not summed over earlier children).
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        try:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=err,
                env={**os.environ, "COLUMNS": "100", **(env or {})},
                cwd=cwd,
                preexec_fn=_realtime_priority if realtime else None,
            )
        except (PermissionError, subprocess.SubprocessError) as error:
            fail(BENCHMARK, f"cannot start {command[0]} ({error}); --realtime needs root")
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return ProcessRun(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        returncode=process.returncode,
        stdout=stdout.decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
    )


def realtime_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run the timed processes at real-time priority (root): on a shared machine, "
        "close to what a quiet one would show; without it, what a user waits on this one",
    )


def heavy_modules_of_help() -> list[str]:
    probe = (
        "import sys\nfrom im2.cli import app\n"
        "try:\n    app(['--help'], prog_name='im2')\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = run_process([PYTHON, "-c", probe])
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not last.startswith("loaded:"):
        fail(BENCHMARK, f"the import probe failed:\n{done.stderr[-2000:]}")
    return [name for name in last.removeprefix("loaded:").split(",") if name]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode_argument(parser, quick="10 rounds", smoke="3 rounds, one warm-up")
    realtime_argument(parser)
    args = parser.parse_args()
    mode = mode_of(args)
    rounds = {Mode.FULL: 30, Mode.QUICK: 10, Mode.SMOKE: 3}[mode]
    warmups = 1 if mode is Mode.SMOKE else 2
    if not Path(IM2).is_file():
        fail(BENCHMARK, f"{IM2} is missing: install the project into this environment")

    runs: dict[str, list[ProcessRun]] = {name: [] for name in COMMANDS}
    for round_number in range(warmups + rounds):
        for name, command in COMMANDS.items():
            run = run_process(command, realtime=args.realtime)
            if run.returncode != 0:
                fail(BENCHMARK, f"{' '.join(command)} exited {run.returncode}:\n{run.stderr}")
            if round_number >= warmups:
                runs[name].append(run)
    heavy = heavy_modules_of_help()

    figures: dict[str, Any] = {
        "rounds": rounds,
        "warmup_rounds": warmups,
        "realtime": args.realtime,
    }
    print(f"{rounds} rounds after {warmups} warm-up, every command once per round:")
    print(f"{'command':28} {'median s':>9} {'fastest s':>9} {'CPU s':>7} {'RSS MB':>7}")
    for name, measured in runs.items():
        wall = statistics.median(r.wall for r in measured)
        fastest = min(r.wall for r in measured)
        cpu = statistics.median(r.cpu for r in measured)
        rss = max(r.peak_rss_mb for r in measured)
        figures.update(
            {
                f"{name}_seconds": round(wall, 3),
                f"{name}_fastest_seconds": round(fastest, 3),
                f"{name}_cpu_seconds": round(cpu, 3),
                f"{name}_peak_rss_mb": round(rss, 1),
            }
        )
        print(f"{name:28} {wall:9.3f} {fastest:9.3f} {cpu:7.3f} {rss:7.1f}")
    help_seconds = figures["im2_help_seconds"]
    figures["im2_help_over_python_pass"] = round(help_seconds / figures["python_pass_seconds"], 2)
    figures["im2_help_heavy_modules"] = heavy
    print(
        f"im2 --help: {help_seconds:.3f} s ({figures['im2_help_over_python_pass']}x python -c "
        f"pass); heavy modules loaded: {', '.join(heavy) or 'none'}"
    )
    targets = {
        "im2_help_seconds": target(
            help_seconds,
            f"<= {HELP_TARGET_SECONDS} s (whole process, median)",
            help_seconds <= HELP_TARGET_SECONDS,
            mode=mode,
        ),
    }
    emit(BENCHMARK, figures, targets, mode=mode)


if __name__ == "__main__":
    main()
