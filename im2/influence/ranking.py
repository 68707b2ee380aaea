"""KOL ranking: the network's signals scored, with reasons a brand manager can read, and CSV."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
from sqlalchemy.orm import Session

from im2.i18n import _
from im2.influence.kol import KolSignals, Reason, pagerank, rank_kols
from im2.influence.network import InfluenceNetwork, build_network, person_names
from im2.influence.schemas import (
    GraphOptions,
    KolPage,
    KolReason,
    KolRow,
)
from im2.spreadsheet import safe_row
from im2.workspaces.schemas import Actor


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
        return _(
            "at the centre of the network: well connected to well-connected people (top {top})"
        ).format(top=_top(reason.top))
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
    names = person_names(session, actor=actor, keys=[row.key for row in rows])
    rows = [row.model_copy(update={"label": names.get(row.key, row.label)}) for row in rows]
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
