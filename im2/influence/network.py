"""The influence graph of a campaign or of the whole workspace, with each person's signals.

Callers own the transaction; nothing here commits. The sources, the edge probabilities and the
caps are described in ``im2.influence.service``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignFilter
from im2.errors import InvalidInput
from im2.events.schemas import ActorType, EventKind
from im2.events.service import list_events
from im2.i18n import _
from im2.influence.graph import Graph, Probability, graph_from_edges
from im2.influence.learn import learned_probabilities
from im2.influence.models import InfluenceEdge, InfluenceGraph
from im2.influence.schemas import (
    GraphOptions,
    GraphSummary,
    ProbabilityModel,
)
from im2.listening import service as listening
from im2.listening.schemas import MentionFilter, MentionRead
from im2.masking import mask_name
from im2.participation import service as participation
from im2.sharing import service as sharing
from im2.sharing.cascade import node_metrics
from im2.sharing.cascade_import import forest_from_edges
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

MAX_NODES = 100_000
MAX_EDGES = 1_000_000
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


@dataclass
class _Builder:
    keys: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    edges: dict[tuple[int, int], tuple[str, float | None]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # Each person's signals, by node index.
    descendants: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    engagement: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    followers: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    posts: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    interactions: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    positive: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    negative: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))

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


def _add_share_trees(
    session: Session, actor: Actor, builder: _Builder, campaign_ids: list[int]
) -> None:
    """Share trees: inviter -> invitee, and everyone's observed spread."""
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
                    builder.descendants[_participant(builder, int(str(pid)))] += d


@dataclass
class _Actions:
    """The evidence for learned probabilities: shares per participant, and who acted through
    whose share link (campaign, sharer, actor)."""

    shares: Counter[int]
    acted_pairs: set[tuple[int | None, int, int]]


def _add_actions(
    session: Session, actor: Actor, builder: _Builder, campaign_ids: list[int]
) -> _Actions:
    """Participants' actions: engagement, and the evidence for learned probabilities."""
    events = list_events(
        session,
        workspace_id=actor.workspace_id,
        kinds=[k.value for k in ACTION_KINDS],
        limit=MAX_EVENTS,
    )
    if len(events) == MAX_EVENTS:
        builder.notes.append(
            _("Only the first {n} participant actions were read.").format(n=MAX_EVENTS)
        )
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
            builder.engagement[_participant(builder, who)] += 1.0
        if ev.referrer and ev.kind != EventKind.SHARE_CREATED:
            sharer = code_owner.get(ev.referrer)
            if sharer is not None and sharer != who:
                acted_pairs.add((ev.campaign_id, sharer, who))
    return _Actions(shares=shares, acted_pairs=acted_pairs)


def _add_mention(builder: _Builder, m: MentionRead) -> None:
    """One mention: its author's reach, engagement and sentiment, its reposts and mentions."""
    author = m.author.strip()
    if not author:
        return
    platform = m.platform.value
    a = builder.node(f"{platform}:{author}", f"@{author}", "author")
    builder.followers[a] = max(builder.followers[a], float(m.author_followers))
    builder.posts[a] += 1
    builder.interactions[a] += m.likes + m.reposts + m.comments
    if m.sentiment is not None and m.sentiment.value == "positive":
        builder.positive[a] += 1
    elif m.sentiment is not None and m.sentiment.value == "negative":
        builder.negative[a] += 1
    reposted = set(REPOST.findall(m.text))
    for name in reposted:
        b = builder.node(f"{platform}:{name}", f"@{name}", "author")
        builder.edge(b, a, "repost")
    for name in set(MENTION.findall(m.text)) - reposted:
        b = builder.node(f"{platform}:{name}", f"@{name}", "author")
        builder.edge(a, b, "mention")


def _add_mentions(session: Session, actor: Actor, builder: _Builder) -> int:
    """Listening: reach, engagement, sentiment, reposts and mentions; returns how many
    mentions were read."""
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
            _add_mention(builder, m)
        cursor = page.next_cursor
        if cursor is None:
            break
    if cursor is not None:
        builder.notes.append(_("Only the latest {n} mentions were read.").format(n=MAX_MENTIONS))
    return mentions_read


def _add_imported(
    session: Session, actor: Actor, builder: _Builder, *, campaign_only: bool
) -> None:
    """Imported follow / friend lists. A campaign keeps the imported edges that touch its
    people: their followers are whom they can reach; the rest of the list is the
    workspace's."""
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
    own = set(builder.keys) if campaign_only else None
    for src_key, dst_key, p, directed in rows:
        if own is not None and src_key not in own and dst_key not in own:
            continue
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
        builder.followers[u] = max(builder.followers[u], float(len(out)))


def _probabilities(
    builder: _Builder,
    options: GraphOptions,
    actions: _Actions,
    pairs: list[tuple[int, int]],
    src: np.ndarray,
    dst: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Each edge's probability by the chosen model, and how many edges had learned evidence."""
    n = len(builder.keys)
    given = np.array(
        [np.nan if builder.edges[e][1] is None else builder.edges[e][1] for e in pairs],
        dtype=np.float64,
    )
    in_degree = np.bincount(dst, minlength=n) if n else np.zeros(0, dtype=np.int64)
    wc = 1.0 / np.maximum(in_degree[dst], 1) if pairs else np.zeros(0)
    if options.probability == ProbabilityModel.WC:
        return wc, 0
    if options.probability == ProbabilityModel.CONST:
        return np.full(len(pairs), options.constant), 0
    if options.probability == ProbabilityModel.FILE:
        return np.where(np.isnan(given), wc, given), 0
    share_count = np.zeros(n)
    for pid, count in actions.shares.items():
        i = builder.index.get(f"p:{pid}")
        if i is not None:
            share_count[i] = count
    acted_count: Counter[tuple[int, int]] = Counter()
    for _cid, sharer, who in actions.acted_pairs:
        giver, taker = builder.index.get(f"p:{sharer}"), builder.index.get(f"p:{who}")
        if giver is not None and taker is not None:
            acted_count[(giver, taker)] += 1
    acted = np.array([acted_count.get(e, 0) for e in pairs], dtype=np.float64)
    learned = learned_probabilities(
        src, dst, shares=share_count, acted=acted, prior=wc, strength=options.strength
    )
    return learned.prob, learned.edges_with_evidence


def build_network(
    session: Session, *, actor: Actor, campaign_id: int | None, options: GraphOptions
) -> InfluenceNetwork:
    """The influence graph of a campaign (``campaign_id``) or of the whole workspace."""
    require(actor, Permission.READ_CAMPAIGNS)
    builder = _Builder()
    campaign_ids = _campaign_ids(session, actor, campaign_id)
    _add_share_trees(session, actor, builder, campaign_ids)
    actions = _add_actions(session, actor, builder, campaign_ids)
    # Mentions belong to the brand, not to a campaign: a campaign's graph is its own people
    # (a 2-voter campaign has 2 people), the brand's social accounts are on the workspace's
    # page.
    mentions_read = 0 if campaign_id is not None else _add_mentions(session, actor, builder)
    _add_imported(session, actor, builder, campaign_only=campaign_id is not None)
    return _network(builder, options, actions, mentions_read=mentions_read)


def _network(
    builder: _Builder, options: GraphOptions, actions: _Actions, *, mentions_read: int
) -> InfluenceNetwork:
    """The graph with its edge probabilities, each person's signals, and the summary."""
    n = len(builder.keys)
    pairs = list(builder.edges)
    src = np.array([u for u, _v in pairs], dtype=np.int64)
    dst = np.array([v for _u, v in pairs], dtype=np.int64)
    prob, learned_edges = _probabilities(builder, options, actions, pairs, src, dst)
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

    post_count = arr(builder.posts)
    per_post = np.divide(
        arr(builder.interactions), post_count, out=np.zeros(n), where=post_count > 0
    )
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
        notes=builder.notes,
    )
    return InfluenceNetwork(
        keys=builder.keys,
        labels=builder.labels,
        kinds=builder.kinds,
        graph=graph,
        src=src,
        dst=dst,
        prob=prob,
        followers=arr(builder.followers),
        descendants=arr(builder.descendants),
        engagement=np.where(post_count > 0, per_post, arr(builder.engagement)),
        posts=post_count,
        positive=arr(builder.positive),
        negative=arr(builder.negative),
        mentions=post_count,
        summary=summary,
    )


def person_names(session: Session, *, actor: Actor, keys: list[str]) -> dict[str, str]:
    """What the console shows for these graph ids: a participant's nickname (masked for roles
    that may not read people, ``im2.masking``) or "参与者 N" without one; other ids as written."""
    ids = [int(key[2:]) for key in keys if key.startswith("p:") and key[2:].isdigit()]
    found = participation.get_signals(session, workspace_id=actor.workspace_id, participant_ids=ids)
    masked = not actor.can(Permission.READ_PEOPLE)
    names: dict[str, str] = {}
    for key in keys:
        if not key.startswith("p:") or not key[2:].isdigit():
            continue
        signals = found.get(int(key[2:]))
        nickname = (signals.nickname or "").strip() if signals is not None else ""
        if nickname:
            names[key] = mask_name(nickname) if masked else nickname
        else:
            names[key] = _("Participant {n}").format(n=key[2:])
    return names
