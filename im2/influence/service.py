"""The influence product: graphs built from the workspace's data, KOL ranking, seed advice.

Callers own the transaction; nothing here commits.

The influence graph of a campaign (or of the whole workspace) joins four sources, each edge
``u -> v`` meaning "u can influence v":

- the share tree (``im2.sharing.service.share_stats``): inviter -> invitee, node ``p:<id>``;
- reposts in listening mentions: a Weibo-style ``//@B:`` or ``RT @B`` in A's post means A
  passed on B's post, so ``B -> A`` (nodes ``<platform>:<author>``). Mentions store no
  repost relation of their own (no parent post id), so the repost markers in the text are the
  evidence used;
- plain ``@B`` in A's post: B is notified of what A says, so ``A -> B`` ("mention" edges);
- imported follow / friend lists (``influence_edges``): ids as written in the file, so a file
  that writes ``p:12`` or ``weibo:name`` links to that participant or listening author.

Edge probabilities: weighted cascade ``1 / in-degree``, a constant, the imported values
(weighted cascade where a file gave none), or learned from observed shares with Beta
smoothing (``im2.influence.learn``; evidence: one share per campaign in which a participant
took a share link, an action when the contact joined or took part with that link's code).

Everything runs on the request path, so sizes are capped (``MAX_NODES``, ``MAX_EDGES``,
``schemas.MAX_K``, ``schemas.MIN_EPSILON``, a 256 MB RR-set budget and one thread).
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignFilter
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import list_events, record_event
from im2.i18n import _
from im2.influence.edgefile import parse_edge_file
from im2.influence.errors import InfluenceError
from im2.influence.graph import Graph, Probability, graph_from_edges
from im2.influence.imm import select_seeds
from im2.influence.kol import KolSignals, Reason, pagerank, rank_kols
from im2.influence.learn import learned_probabilities
from im2.influence.models import InfluenceEdge, InfluenceGraph
from im2.influence.schemas import (
    Forecast,
    GraphImportRead,
    GraphOptions,
    GraphSummary,
    KolPage,
    KolReason,
    KolRow,
    ProbabilityModel,
    SeedRecommendation,
    SeedRequest,
    SeedRow,
    SpreadRead,
)
from im2.influence.simulate import SpreadEstimate, estimate_spread
from im2.listening import service as listening
from im2.listening.schemas import MentionFilter
from im2.sharing import service as sharing
from im2.sharing.cascade import node_metrics
from im2.sharing.cascade_import import forest_from_edges
from im2.spreadsheet import safe_row
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

MAX_NODES = 100_000
MAX_EDGES = 1_000_000
MAX_IMPORT_EDGES = 200_000
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_MENTIONS = 20_000
MAX_EVENTS = 500_000
MAX_CAMPAIGNS = 500
SIMULATIONS = 2_000
MEMORY_BUDGET = 256 * 1024 * 1024

ACTION_KINDS = (
    EventKind.PARTICIPANT_JOINED,
    EventKind.VOTE_CAST,
    EventKind.QUIZ_ANSWERED,
    EventKind.SURVEY_SUBMITTED,
    EventKind.QUESTION_ASKED,
    EventKind.QUESTION_UPVOTED,
    EventKind.UGC_SUBMITTED,
    EventKind.UGC_VOTED,
    EventKind.DRAW_ENTERED,
    EventKind.CHECKIN_DONE,
    EventKind.GROUPBUY_OPENED,
    EventKind.GROUPBUY_JOINED,
    EventKind.COMMENT_POSTED,
    EventKind.LIKE_GIVEN,
    EventKind.SHARE_CREATED,
)
REPOST = re.compile(r"(?://@|\bRT @)([^\s:：,，/@]+)")
MENTION = re.compile(r"@([^\s:：,，/@]+)")


# --- imported follow / friend graphs ----------------------------------------------------------


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
        actor=actor,
        workspace_id=actor.workspace_id,
        action="influence.graph_imported",
        target_type="influence_graph",
        target_id=row.id,
        summary=f"imported follow graph {name!r} ({row.edges} edges)",
        before=None,
        after={"name": name, "edges": row.edges, "nodes": row.nodes, "directed": directed},
        now=now,
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
        actor=actor,
        workspace_id=actor.workspace_id,
        action="influence.graph_deleted",
        target_type="influence_graph",
        target_id=graph_id,
        summary=f"deleted follow graph {before['name']!r}",
        before=before,
        after=None,
        now=now,
    )


# --- building the influence graph -------------------------------------------------------------


@dataclass
class _Builder:
    keys: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    edges: dict[tuple[int, int], tuple[str, float | None]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def node(self, key: str, label: str, kind: str) -> int:
        found = self.index.get(key)
        if found is not None:
            return found
        self.index[key] = len(self.keys)
        self.keys.append(key)
        self.labels.append(label)
        self.kinds.append(kind)
        return len(self.keys) - 1

    def edge(self, u: int, v: int, kind: str, prob: float | None = None) -> None:
        if u == v:
            return
        if (u, v) not in self.edges:
            self.edges[(u, v)] = (kind, prob)
            self.counts[kind] += 1
        elif prob is not None and self.edges[(u, v)][1] is None:
            self.edges[(u, v)] = (self.edges[(u, v)][0], prob)


@dataclass(frozen=True, eq=False)
class InfluenceNetwork:
    """The graph with per-person signals, indexed like ``keys``."""

    keys: list[str]
    labels: list[str]
    kinds: list[str]
    graph: Graph | None  # None when there are no edges yet
    src: np.ndarray
    dst: np.ndarray
    prob: np.ndarray
    followers: np.ndarray
    descendants: np.ndarray
    engagement: np.ndarray
    posts: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    mentions: np.ndarray
    summary: GraphSummary

    @property
    def n(self) -> int:
        return len(self.keys)


def _participant(builder: _Builder, participant_id: int) -> int:
    return builder.node(f"p:{participant_id}", f"#{participant_id}", "participant")


def _campaign_ids(session: Session, actor: Actor, campaign_id: int | None) -> list[int]:
    if campaign_id is not None:
        return [campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id).id]
    ids: list[int] = []
    cursor = None
    while len(ids) < MAX_CAMPAIGNS:
        page = campaigns.list_campaigns(
            session,
            actor=actor,
            filters=CampaignFilter(include_archived=True),
            cursor=cursor,
            limit=100,
        )
        ids.extend(c.id for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return ids[:MAX_CAMPAIGNS]


def _share_tree(session: Session, actor: Actor, campaign_id: int) -> list[tuple[int, int | None]]:
    """(participant, who brought them) for everyone who joined through the campaign."""
    stats = sharing.share_stats(session, actor=actor, campaign_id=campaign_id)
    return [(e.participant_id, e.parent_id) for e in stats.edges]


def build_network(
    session: Session, *, actor: Actor, campaign_id: int | None, options: GraphOptions
) -> InfluenceNetwork:
    """The influence graph of a campaign (``campaign_id``) or of the whole workspace."""
    require(actor, Permission.READ_CAMPAIGNS)
    builder = _Builder()
    notes: list[str] = []
    descendants: dict[int, float] = defaultdict(float)

    # 1. Share trees: inviter -> invitee, and everyone's observed spread.
    campaign_ids = _campaign_ids(session, actor, campaign_id)
    for cid in campaign_ids:
        edges = _share_tree(session, actor, cid)
        if not edges:
            continue
        for child_id, parent_id in edges:
            child = _participant(builder, child_id)
            if parent_id is not None:
                builder.edge(_participant(builder, parent_id), child, "share")
        if any(parent_id is not None for _c, parent_id in edges):
            build = forest_from_edges([p for _c, p in edges], [c for c, _p in edges])
            spread = node_metrics(build.forest).descendants
            for pid, d in zip(build.ids, spread.tolist(), strict=True):
                if d:
                    descendants[_participant(builder, int(str(pid)))] += d

    # 2. Participants' actions: engagement, and the evidence for learned probabilities.
    engagement: dict[int, float] = defaultdict(float)
    events = list_events(
        session,
        workspace_id=actor.workspace_id,
        kinds=[k.value for k in ACTION_KINDS],
        limit=MAX_EVENTS,
    )
    if len(events) == MAX_EVENTS:
        notes.append(_("Only the first {n} participant actions were read.").format(n=MAX_EVENTS))
    scope = set(campaign_ids)
    code_owner: dict[str, int] = {}
    shares: Counter[int] = Counter()
    for ev in events:
        if ev.kind == EventKind.SHARE_CREATED and ev.actor_id is not None:
            code = str(ev.properties.get("code") or "")
            if code:
                code_owner[code] = int(ev.actor_id)
                shares[int(ev.actor_id)] += 1
    acted_pairs: set[tuple[int | None, int, int]] = set()
    for ev in events:
        if ev.actor_id is None or ev.actor_type != ActorType.PARTICIPANT:
            continue
        who = int(ev.actor_id)
        if ev.campaign_id in scope:
            engagement[_participant(builder, who)] += 1.0
        if ev.referrer and ev.kind != EventKind.SHARE_CREATED:
            sharer = code_owner.get(ev.referrer)
            if sharer is not None and sharer != who:
                acted_pairs.add((ev.campaign_id, sharer, who))

    # 3. Listening: reach, engagement, sentiment, reposts and mentions.
    followers: dict[int, float] = defaultdict(float)
    posts: dict[int, float] = defaultdict(float)
    interactions: dict[int, float] = defaultdict(float)
    positive: dict[int, float] = defaultdict(float)
    negative: dict[int, float] = defaultdict(float)
    mentions_read = 0
    cursor = None
    while mentions_read < MAX_MENTIONS:
        page = listening.list_mentions(
            session,
            actor=actor,
            filters=MentionFilter(),
            cursor=cursor,
            limit=min(500, MAX_MENTIONS - mentions_read),
        )
        for m in page.items:
            mentions_read += 1
            author = m.author.strip()
            if not author:
                continue
            platform = m.platform.value
            a = builder.node(f"{platform}:{author}", f"@{author}", "author")
            followers[a] = max(followers[a], float(m.author_followers))
            posts[a] += 1
            interactions[a] += m.likes + m.reposts + m.comments
            if m.sentiment is not None and m.sentiment.value == "positive":
                positive[a] += 1
            elif m.sentiment is not None and m.sentiment.value == "negative":
                negative[a] += 1
            reposted = set(REPOST.findall(m.text))
            for name in reposted:
                b = builder.node(f"{platform}:{name}", f"@{name}", "author")
                builder.edge(b, a, "repost")
            for name in set(MENTION.findall(m.text)) - reposted:
                b = builder.node(f"{platform}:{name}", f"@{name}", "author")
                builder.edge(a, b, "mention")
        cursor = page.next_cursor
        if cursor is None:
            break
    if cursor is not None:
        notes.append(_("Only the latest {n} mentions were read.").format(n=MAX_MENTIONS))

    # 4. Imported follow / friend lists.
    follow_out: dict[int, set[int]] = defaultdict(set)
    rows = session.execute(
        select(InfluenceEdge.src, InfluenceEdge.dst, InfluenceEdge.prob, InfluenceGraph.directed)
        .join(InfluenceGraph, InfluenceGraph.id == InfluenceEdge.graph_id)
        .where(InfluenceGraph.workspace_id == actor.workspace_id)
        .order_by(InfluenceEdge.id)
        .limit(MAX_EDGES + 1)
    ).all()
    if len(rows) > MAX_EDGES:
        raise InvalidInput(
            _(
                "The imported graphs have more than {n} edges; use the command line for them."
            ).format(n=MAX_EDGES)
        )
    for src_key, dst_key, p, directed in rows:
        u = builder.node(src_key, src_key, "imported")
        v = builder.node(dst_key, dst_key, "imported")
        builder.edge(u, v, "follow", p)
        follow_out[u].add(v)
        if not directed:
            builder.edge(v, u, "follow", p)
            follow_out[v].add(u)
        if len(builder.keys) > MAX_NODES:
            break
    if len(builder.keys) > MAX_NODES:
        raise InvalidInput(
            _("The influence graph has more than {n} people; use the command line for it.").format(
                n=MAX_NODES
            )
        )
    for u, out in follow_out.items():
        followers[u] = max(followers[u], float(len(out)))

    n = len(builder.keys)
    pairs = list(builder.edges)
    src = np.array([u for u, _v in pairs], dtype=np.int64)
    dst = np.array([v for _u, v in pairs], dtype=np.int64)
    given = np.array(
        [np.nan if builder.edges[e][1] is None else builder.edges[e][1] for e in pairs],
        dtype=np.float64,
    )
    in_degree = np.bincount(dst, minlength=n) if n else np.zeros(0, dtype=np.int64)
    wc = 1.0 / np.maximum(in_degree[dst], 1) if pairs else np.zeros(0)
    learned_edges = 0
    if options.probability == ProbabilityModel.WC:
        prob = wc
    elif options.probability == ProbabilityModel.CONST:
        prob = np.full(len(pairs), options.constant)
    elif options.probability == ProbabilityModel.FILE:
        prob = np.where(np.isnan(given), wc, given)
    else:
        share_count = np.zeros(n)
        for pid, count in shares.items():
            i = builder.index.get(f"p:{pid}")
            if i is not None:
                share_count[i] = count
        acted_count: Counter[tuple[int, int]] = Counter()
        for _cid, sharer, who in acted_pairs:
            giver, taker = builder.index.get(f"p:{sharer}"), builder.index.get(f"p:{who}")
            if giver is not None and taker is not None:
                acted_count[(giver, taker)] += 1
        acted = np.array([acted_count.get(e, 0) for e in pairs], dtype=np.float64)
        learned = learned_probabilities(
            src, dst, shares=share_count, acted=acted, prior=wc, strength=options.strength
        )
        prob = learned.prob
        learned_edges = learned.edges_with_evidence

    graph: Graph | None = None
    if pairs:
        keys = np.array(builder.keys, dtype=object)
        graph = graph_from_edges(
            src,
            dst,
            n=n,
            labels=keys,
            prob=prob,
            probability=Probability(kind="file"),
            source="influence graph",
        ).graph

    def arr(values: dict[int, float]) -> np.ndarray:
        out = np.zeros(n)
        for i, value in values.items():
            out[i] = value
        return out

    post_count = arr(posts)
    per_post = np.divide(arr(interactions), post_count, out=np.zeros(n), where=post_count > 0)
    actions = arr(engagement)
    summary = GraphSummary(
        nodes=n,
        edges=len(pairs),
        share_edges=builder.counts["share"],
        repost_edges=builder.counts["repost"],
        mention_edges=builder.counts["mention"],
        follow_edges=builder.counts["follow"],
        probability=options.probability,
        mean_probability=float(prob.mean()) if len(pairs) else None,
        learned_edges=learned_edges,
        mentions_read=mentions_read,
        notes=notes,
    )
    return InfluenceNetwork(
        keys=builder.keys,
        labels=builder.labels,
        kinds=builder.kinds,
        graph=graph,
        src=src,
        dst=dst,
        prob=prob,
        followers=arr(followers),
        descendants=arr(descendants),
        engagement=np.where(post_count > 0, per_post, actions),
        posts=post_count,
        positive=arr(positive),
        negative=arr(negative),
        mentions=post_count,
        summary=summary,
    )


# --- KOL ranking ------------------------------------------------------------------------------


def _top(top: float) -> str:
    return f"{max(1, math.ceil(top * 100))}%"


def reason_text(reason: Reason, kind: str) -> str:
    """One line a brand manager can read: what the signal is and how rare it is."""
    value = reason.value
    if reason.kind == "spread":
        return _("brought {n} people through their shares, all generations (top {top})").format(
            n=f"{value:,.0f}", top=_top(reason.top)
        )
    if reason.kind == "reach":
        return _("{n} followers (top {top})").format(n=f"{value:,.0f}", top=_top(reason.top))
    if reason.kind == "centrality":
        return _("central in the network: PageRank in the top {top}").format(top=_top(reason.top))
    if reason.kind == "engagement":
        if kind == "participant":
            return _("{n} actions in the campaign (top {top})").format(
                n=f"{value:,.0f}", top=_top(reason.top)
            )
        return _("{n} interactions per post (top {top})").format(
            n=f"{value:,.1f}", top=_top(reason.top)
        )
    if reason.kind == "positive":
        return _("speaks well of the brand: {n} of {total} mentions positive").format(
            n=f"{value:,.0f}", total=f"{reason.top:,.0f}"
        )
    if reason.kind == "negative":
        return _("speaks badly of the brand: {n} of {total} mentions negative").format(
            n=f"{value:,.0f}", total=f"{reason.top:,.0f}"
        )
    return _(
        "suspicious audience: {followers} followers but only {rate} interactions per post "
        "per follower"
    ).format(followers=f"{reason.top:,.0f}", rate=f"{value:.3%}")


def centrality(network: InfluenceNetwork) -> np.ndarray:
    """PageRank where each influence edge u -> v is v's vote for u, weighted by p."""
    if network.n == 0:
        return np.zeros(0)
    return pagerank(network.n, network.dst, network.src, network.prob)


def rank_network(network: InfluenceNetwork, *, limit: int | None) -> tuple[list[KolRow], int]:
    signals = KolSignals(
        followers=network.followers,
        descendants=network.descendants,
        centrality=centrality(network),
        engagement=network.engagement,
        posts=network.posts,
        positive=network.positive,
        negative=network.negative,
        mentions=network.mentions,
    )
    scores = rank_kols(signals)
    rows = [
        KolRow(
            rank=position,
            key=network.keys[s.node],
            label=network.labels[s.node],
            kind=network.kinds[s.node],
            score=round(s.score, 2),
            followers=int(s.reach),
            descendants=int(s.spread),
            centrality=s.centrality,
            engagement=s.engagement,
            net_sentiment=s.net_sentiment,
            mentions=s.mentions,
            suspicious=s.suspicious,
            reasons=[
                KolReason(
                    kind=r.kind,
                    value=r.value,
                    top=r.top,
                    text=reason_text(r, network.kinds[s.node]),
                )
                for r in s.reasons
            ],
        )
        for position, s in enumerate(scores[:limit] if limit else scores, start=1)
    ]
    return rows, len(scores)


def kol_ranking(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int | None,
    options: GraphOptions,
    limit: int | None = 50,
) -> KolPage:
    """KOLs of a campaign (or of the workspace when ``campaign_id`` is None), best first."""
    network = build_network(session, actor=actor, campaign_id=campaign_id, options=options)
    rows, candidates = rank_network(network, limit=limit)
    return KolPage(
        campaign_id=campaign_id, graph=network.summary, candidates=candidates, items=rows
    )


CSV_COLUMNS = (
    "rank",
    "key",
    "label",
    "kind",
    "score",
    "followers",
    "descendants",
    "centrality",
    "engagement",
    "net_sentiment",
    "mentions",
    "suspicious",
    "reasons",
)


def kols_csv(page: KolPage) -> str:
    """The ranking as CSV (UTF-8 with BOM so that Excel opens Chinese text correctly)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in page.items:
        writer.writerow(
            safe_row(
                [
                    row.rank,
                    row.key,
                    row.label,
                    row.kind,
                    f"{row.score:.2f}",
                    row.followers,
                    row.descendants,
                    f"{row.centrality:.6f}",
                    f"{row.engagement:.2f}",
                    f"{row.net_sentiment:.2f}",
                    row.mentions,
                    "yes" if row.suspicious else "no",
                    "; ".join(r.text for r in row.reasons),
                ]
            )
        )
    return "\ufeff" + out.getvalue()


# --- seed selection and forecast --------------------------------------------------------------


def _spread(estimate: SpreadEstimate) -> SpreadRead:
    return SpreadRead(
        mean=estimate.mean,
        std_error=estimate.std_error,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        simulations=estimate.simulations,
    )


def _curve(estimate: SpreadEstimate, steps: int) -> list[float]:
    cumulative = estimate.cumulative().tolist()
    cumulative += [cumulative[-1]] * (steps + 1 - len(cumulative))
    return [round(x, 3) for x in cumulative[: steps + 1]]


def own_pick_by_followers(network: InfluenceNetwork, k: int) -> np.ndarray:
    """The brand's usual pick: the k people with the most followers (out-degree breaks ties)."""
    assert network.graph is not None
    degree = network.graph.out_degree().astype(np.float64)
    order = np.lexsort((np.arange(network.n), -degree, -network.followers))
    return order[:k].astype(np.int32)


def recommend_seeds(
    session: Session, *, actor: Actor, campaign_id: int | None, request: SeedRequest
) -> SeedRecommendation:
    """IMM seeds with an independent Monte Carlo check and a forecast against the own pick."""
    started = time.perf_counter()
    options = GraphOptions(
        probability=request.probability, constant=request.constant, strength=request.strength
    )
    network = build_network(session, actor=actor, campaign_id=campaign_id, options=options)
    graph = network.graph
    if graph is None:
        raise InvalidInput(
            _(
                "The influence graph has no edges yet: it needs shares, reposts or an imported "
                "follow list before seeds can be chosen."
            )
        )
    if request.k > graph.n:
        raise InvalidInput(
            _("k is {k} but the influence graph has only {n} people.").format(
                k=request.k, n=graph.n
            ),
            field="k",
        )
    costs = None
    if request.costs is not None and request.budget is None:
        raise InvalidInput(_("Costs need a budget to spend."), field="budget")
    if request.budget is not None:
        # People without a listed cost cost 1, so a budget alone buys that many seeds.
        given = request.costs or {}
        unknown = [key for key in given if key not in set(network.keys)]
        if unknown:
            raise InvalidInput(
                _("Not in the influence graph: {ids}").format(ids=", ".join(unknown[:10])),
                field="costs",
            )
        costs = np.ones(graph.n)
        position = {key: i for i, key in enumerate(network.keys)}
        for key, cost in given.items():
            costs[position[key]] = cost
    if request.own_pick:
        position = {key: i for i, key in enumerate(network.keys)}
        unknown = [key for key in request.own_pick if key not in position]
        if unknown:
            raise InvalidInput(
                _("Not in the influence graph: {ids}").format(ids=", ".join(unknown[:10])),
                field="own_pick",
            )
        own = np.array(
            list(dict.fromkeys(position[key] for key in request.own_pick)), dtype=np.int32
        )
        own_source = "given"
    else:
        own = own_pick_by_followers(network, min(request.k, graph.n))
        own_source = "followers"
    model = request.model.value
    try:
        selection = select_seeds(
            graph,
            k=request.k,
            model=model,  # type: ignore[arg-type]
            epsilon=request.epsilon,
            seed=0,
            costs=costs,
            budget=request.budget,
            memory_budget=MEMORY_BUDGET,
            threads=1,
        )
        # Common random numbers: both seed sets meet the same simulated cascades.
        ours = estimate_spread(
            graph,
            selection.seeds,
            model=model,  # type: ignore[arg-type]
            simulations=SIMULATIONS,
            seed=1,
            max_steps=request.steps,
            threads=1,
        )
        theirs = estimate_spread(
            graph,
            own,
            model=model,  # type: ignore[arg-type]
            simulations=SIMULATIONS,
            seed=1,
            max_steps=request.steps,
            threads=1,
        )
    except InfluenceError as exc:
        raise InvalidInput(str(exc)) from None

    def row(i: int, gain: float) -> SeedRow:
        return SeedRow(
            key=network.keys[i],
            label=network.labels[i],
            marginal_spread=round(gain, 3),
            cost=None if costs is None else float(costs[i]),
        )

    return SeedRecommendation(
        campaign_id=campaign_id,
        k=int(selection.seeds.shape[0]),
        model=request.model,
        epsilon=request.epsilon,
        approximation=selection.approximation,
        seeds=[
            row(int(i), float(g))
            for i, g in zip(selection.seeds, selection.marginal_spread, strict=True)
        ],
        imm_estimate=selection.estimated_spread,
        spread=_spread(ours),
        own_pick=[row(int(i), 0.0) for i in own],
        own_pick_source=own_source,
        own_spread=_spread(theirs),
        forecast=Forecast(
            steps=list(range(request.steps + 1)),
            recommended=_curve(ours, request.steps),
            own=_curve(theirs, request.steps),
        ),
        graph=network.summary,
        rr_sets=selection.rr_sets,
        total_cost=selection.total_cost,
        seconds=round(time.perf_counter() - started, 3),
    )
