"""Imported follow / friend graphs of a workspace: import, list, delete.

Callers own the transaction; nothing here commits. A file that writes ``p:12`` or
``weibo:name`` links to that participant or listening author when the influence graph is built
(``im2.influence.network``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.influence.edgefile import parse_edge_file
from im2.influence.errors import InfluenceError
from im2.influence.models import InfluenceEdge, InfluenceGraph
from im2.influence.schemas import (
    GraphImportRead,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

MAX_IMPORT_EDGES = 200_000
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _graph_read(row: InfluenceGraph) -> GraphImportRead:
    return GraphImportRead.model_validate(row)


def do_import_graph(
    session: Session,
    *,
    actor: Actor,
    name: str,
    filename: str,
    data: bytes,
    directed: bool,
    now: datetime,
) -> GraphImportRead:
    """Store a follow / friend list for the workspace; a bad file stores nothing."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput(_("Give the graph a name of 1 to 120 characters."), field="name")
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            _("The file is larger than {mb} MB.").format(mb=MAX_IMPORT_BYTES // (1024 * 1024)),
            field="file",
        )
    try:
        parsed = parse_edge_file(data, name=filename or "upload", directed=directed)
    except InfluenceError as exc:
        raise InvalidInput(str(exc), field="file") from None
    if len(parsed.src) > MAX_IMPORT_EDGES:
        raise InvalidInput(
            _("The file has {n} edges; at most {max} can be imported here.").format(
                n=len(parsed.src), max=MAX_IMPORT_EDGES
            ),
            field="file",
        )
    taken = session.scalar(
        select(InfluenceGraph.id).where(
            InfluenceGraph.workspace_id == actor.workspace_id, InfluenceGraph.name == name
        )
    )
    if taken is not None:
        raise Conflict(_("A graph named “{name}” exists already.").format(name=name), field="name")
    report = {
        "lines_read": parsed.lines_read,
        "self_loops_dropped": parsed.self_loops_dropped,
        "duplicates_dropped": parsed.duplicates_dropped,
        "with_header": parsed.with_header,
    }
    row = InfluenceGraph(
        workspace_id=actor.workspace_id,
        name=name,
        filename=(filename or "upload")[:255],
        directed=directed,
        nodes=parsed.nodes,
        edges=len(parsed.src),
        with_probabilities=parsed.prob is not None,
        report=report,
        created_by=actor.label[:254],
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the unique (workspace, name) index settled a concurrent import
        raise Conflict(
            _("A graph named “{name}” exists already.").format(name=name), field="name"
        ) from None
    probs = parsed.prob if parsed.prob is not None else [None] * len(parsed.src)
    session.execute(
        insert(InfluenceEdge),
        [
            {"graph_id": row.id, "src": u, "dst": v, "prob": p}
            for u, v, p in zip(parsed.src, parsed.dst, probs, strict=True)
        ],
    )
    record_event(
        session,
        kind=EventKind.INFLUENCE_GRAPH_IMPORTED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        actor_type=ActorType(actor.type),
        actor_id=actor.id,
        properties={"graph_id": row.id, "edges": row.edges, "nodes": row.nodes},
    )
    record_audit(
        session,
        actor,
        "influence.graph_imported",
        ("influence_graph", row.id),
        f"imported follow graph {name!r} ({row.edges} edges)",
        now=now,
        after={"name": name, "edges": row.edges, "nodes": row.nodes, "directed": directed},
    )
    return _graph_read(row)


def list_graphs(session: Session, *, actor: Actor) -> list[GraphImportRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(InfluenceGraph)
        .where(InfluenceGraph.workspace_id == actor.workspace_id)
        .order_by(InfluenceGraph.id.desc())
    )
    return [_graph_read(r) for r in rows]


def do_delete_graph(session: Session, *, actor: Actor, graph_id: int, now: datetime) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = session.scalar(
        select(InfluenceGraph).where(
            InfluenceGraph.id == graph_id, InfluenceGraph.workspace_id == actor.workspace_id
        )
    )
    if row is None:
        raise NotFound(_("There is no such graph."))
    before = {"name": row.name, "edges": row.edges}
    session.execute(delete(InfluenceEdge).where(InfluenceEdge.graph_id == row.id))
    session.delete(row)
    record_event(
        session,
        kind=EventKind.INFLUENCE_GRAPH_DELETED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        actor_type=ActorType(actor.type),
        actor_id=actor.id,
        properties={"graph_id": graph_id},
    )
    record_audit(
        session,
        actor,
        "influence.graph_deleted",
        ("influence_graph", graph_id),
        f"deleted follow graph {before['name']!r}",
        now=now,
        before=before,
    )
