"""``im2 influence``: pick seed users on a graph file and forecast their spread.

Seeds (original node ids, one per line) go to stdout or ``--output`` so they can be piped;
everything for the human (load report, progress, spread estimate) goes to stderr.

numpy, numba and the kernels are imported inside the commands: ``im2 influence --help`` and
every other ``im2`` command start without them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from im2.influence.errors import GraphFormatError, InfluenceError

if TYPE_CHECKING:
    import numpy as np

    from im2.influence.graph import Graph
    from im2.influence.rrsets import Progress as ProgressCallback

app = typer.Typer(
    help="Influence maximization: choose seed users and forecast how far a message spreads.",
    no_args_is_help=True,
)


class ModelChoice(StrEnum):
    ic = "ic"
    lt = "lt"


class MethodChoice(StrEnum):
    imm = "imm"
    degree = "degree"
    degree_discount = "degree-discount"


@app.callback()
def influence() -> None:
    """Influence maximization on social graphs (edge-list files)."""


@contextmanager
def _progress_bar(console: Console, label: str) -> Iterator[ProgressCallback | None]:
    """A rich bar on stderr, fed by the core's (done, total) callbacks; none when stderr is
    not a terminal (keeps logs and pipes free of bar redraws)."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def load_costs(path: Path, graph: Graph) -> np.ndarray:
    """Per-node costs from ``id cost`` lines; nodes not listed can't be picked."""
    import numpy as np

    costs = np.full(graph.n, np.inf)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise GraphFormatError(f"{path}: cannot read costs ({error})") from None
    ids: list[str] = []
    values: list[float] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        fields = line.partition("#")[0].replace(",", " ").split()
        if not fields:
            continue
        try:
            if len(fields) != 2:
                raise ValueError
            value = float(fields[1])
        except ValueError:
            problems.append(f"  line {number}: expected 'node cost', got {line.strip()!r}")
            continue
        if not value > 0 or not np.isfinite(value):
            problems.append(f"  line {number}: cost must be positive, got {fields[1]}")
            continue
        ids.append(fields[0])
        values.append(value)
    if problems:
        raise GraphFormatError(
            f"{path.name}: {len(problems)} bad line(s)\n" + "\n".join(problems[:20])
        )
    if not ids:
        raise GraphFormatError(f"{path.name}: no costs given")
    costs[graph.index_of(ids)] = values
    return costs


@app.command()
def seeds(
    graph_path: Annotated[
        Path, typer.Argument(metavar="GRAPH", help="Edge list: 'u v' or 'u v p' lines.")
    ],
    k: Annotated[int, typer.Option("--k", "-k", help="Number of seeds.")] = 50,
    model: Annotated[ModelChoice, typer.Option(help="Diffusion model.")] = ModelChoice.ic,
    epsilon: Annotated[float, typer.Option(help="IMM accuracy: (1-1/e-eps) guarantee.")] = 0.1,
    probability: Annotated[
        str | None,
        typer.Option(
            help="Edge probabilities: file, wc (1/in-degree) or const:P. Default: file "
            "when the graph has a third column, else wc."
        ),
    ] = None,
    undirected: Annotated[bool, typer.Option(help="Each line is an edge both ways.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same answer).")] = 0,
    output: Annotated[
        Path | None, typer.Option(help="Write seed ids here instead of stdout.")
    ] = None,
    simulations: Annotated[
        int, typer.Option(min=0, help="Monte Carlo runs to estimate the spread (0 to skip).")
    ] = 10_000,
    method: Annotated[
        MethodChoice, typer.Option(help="imm, or a heuristic baseline to compare with.")
    ] = MethodChoice.imm,
    costs: Annotated[
        Path | None,
        typer.Option(help="'node cost' lines; with --budget, seeds fit the budget, not k."),
    ] = None,
    budget: Annotated[float | None, typer.Option(help="Total cost allowed (with --costs).")] = None,
    memory_gb: Annotated[
        float, typer.Option(min=0.0, help="Refuse to sample RR sets needing more memory (GiB).")
    ] = 1.0,
    cache: Annotated[
        bool,
        typer.Option(
            help="Keep the parsed graph in the user's cache (~/.cache/im2/graphs) and reuse "
            "it while the file is unchanged."
        ),
    ] = True,
) -> None:
    """Choose seed users that maximise expected spread and print their ids."""
    from im2.influence.baselines import degree_discount, top_degree
    from im2.influence.graph import load_graph, parse_probability
    from im2.influence.graphcache import load_graph_cached

    console = Console(stderr=True, soft_wrap=True)
    try:
        started = time.perf_counter()
        loaded = (load_graph_cached if cache else load_graph)(
            graph_path,
            directed=not undirected,
            probability=None if probability is None else parse_probability(probability),
        )
        graph = loaded.graph
        for line in loaded.report.summary():
            console.print(line, markup=False, highlight=False)
        if (costs is None) != (budget is None):
            raise InfluenceError("--costs and --budget go together: give both or neither")
        if method is MethodChoice.imm:
            chosen = _imm_seeds(
                console,
                graph,
                k=k,
                model=model,
                epsilon=epsilon,
                seed=seed,
                costs=None if costs is None else load_costs(costs, graph),
                budget=budget,
                memory_gb=memory_gb,
                started=started,
            )
        elif method is MethodChoice.degree:
            chosen = top_degree(graph, k)
        else:
            chosen = degree_discount(graph, k)
        _write_seeds(console, graph, chosen, output)
        if simulations > 0:
            _print_spread(console, graph, chosen, model=model, simulations=simulations, seed=seed)
    except InfluenceError as error:
        console.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    except OSError as error:
        console.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(code=1) from None


def _imm_seeds(
    console: Console,
    graph: Graph,
    *,
    k: int,
    model: ModelChoice,
    epsilon: float,
    seed: int,
    costs: np.ndarray | None,
    budget: float | None,
    memory_gb: float,
    started: float,
) -> np.ndarray:
    """IMM's seeds, with a progress bar and a one-line report on stderr."""
    from im2.influence.imm import select_seeds

    with _progress_bar(console, "sampling RR sets") as update:
        result = select_seeds(
            graph,
            k=k,
            model=model.value,
            epsilon=epsilon,
            seed=seed,
            costs=costs,
            budget=budget,
            memory_budget=int(memory_gb * 2**30),
            progress=update,
        )
    chosen = result.seeds
    cost_note = "" if result.total_cost is None else f", total cost {result.total_cost:g}"
    console.print(
        f"IMM ({model.value.upper()}, eps={epsilon:g}): {chosen.size} seeds from "
        f"{result.rr_sets:,} RR sets, RR estimate {result.estimated_spread:,.1f}"
        f"{cost_note} ({time.perf_counter() - started:.2f} s)",
        highlight=False,
    )
    return chosen


def _write_seeds(console: Console, graph: Graph, chosen: np.ndarray, output: Path | None) -> None:
    """The seed ids, one per line, to stdout or ``output``."""
    text = "".join(f"{graph.label(int(v))}\n" for v in chosen)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {chosen.size} seed ids to {output}", highlight=False)


def _print_spread(
    console: Console,
    graph: Graph,
    chosen: np.ndarray,
    *,
    model: ModelChoice,
    simulations: int,
    seed: int,
) -> None:
    """The seeds' expected spread by Monte Carlo, with its 95 % interval, on stderr."""
    from im2.influence.simulate import estimate_spread

    with _progress_bar(console, "simulating cascades") as update:
        spread = estimate_spread(
            graph,
            chosen,
            model=model.value,
            simulations=simulations,
            seed=seed,
            progress=update,
        )
    console.print(
        f"expected spread {spread.mean:,.1f} (95% CI {spread.ci_low:,.1f} to "
        f"{spread.ci_high:,.1f}, {simulations:,} {model.value.upper()} simulations)",
        highlight=False,
    )


@app.command("import-graph")
def import_graph(
    graph_file: Annotated[Path, typer.Argument(help="Edge list (u v [p]) or CSV with a header.")],
    workspace: Annotated[str, typer.Option(help="Workspace slug to store the graph in.")],
    name: Annotated[
        str | None, typer.Option(help="Name in the console (default: file name).")
    ] = None,
    undirected: Annotated[
        bool, typer.Option("--undirected", help="A friend list: every edge counts both ways.")
    ] = False,
) -> None:
    """Store a follow or friend list in a workspace for its KOL ranking and seed advice."""
    # The database and the workspace service load only for this command, so ``seeds`` on a
    # graph file stays free of them.
    from datetime import UTC, datetime

    from im2.cli_env import command_database
    from im2.errors import IM2Error
    from im2.influence import service
    from im2.workspaces.service import system_actor

    err = Console(stderr=True)
    try:
        data = graph_file.read_bytes()
    except OSError as exc:
        err.print(f"[red]error:[/red] {graph_file}: {exc.strerror}")
        raise typer.Exit(2) from None
    try:
        with command_database() as db, db.transaction() as session:
            actor = system_actor(session, workspace_slug=workspace)
            stored = service.do_import_graph(
                session,
                actor=actor,
                name=name or graph_file.name,
                filename=graph_file.name,
                data=data,
                directed=not undirected,
                now=datetime.now(UTC),
            )
    except IM2Error as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    err.print(
        f"graph {stored.name!r} stored in {workspace}: {stored.nodes:,} people, "
        f"{stored.edges:,} edges ({stored.report['self_loops_dropped']} self-loops and "
        f"{stored.report['duplicates_dropped']} duplicates dropped)"
    )
