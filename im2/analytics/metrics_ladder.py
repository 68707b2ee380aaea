"""The closeness ladder in the metric registry: a campaign's people per stage within the query's
window and filters, by the same rules as the ladder job (`im2.analytics.ladder.ladder_sql`).

The job stores each person's stage across the whole log (the dashboard and segments read it);
these metrics answer for any window, channel or activity, like every other metric. They count
persons: every actor id is mapped through the full actor map (`EVERYONE`, loaded only when a
ladder metric is asked), since a viewer's device and the participant it became are one person
only through it.
"""

# ruff: noqa: S608 (SQL from constants and the query's own views)

from __future__ import annotations

from im2.analytics.kinds import REACH_KINDS
from im2.analytics.ladder import ACTING_KINDS, COUNTED_KINDS, ladder_sql
from im2.analytics.metrics import PERSON_MAP, Metric, MetricValue, Unit, register
from im2.analytics.metrics_journey import SHARE_LINKS
from im2.analytics.query import Query, sql_list
from im2.i18n import N_
from im2.people.ladder.schemas import DEFAULT_RULES, STAGE_LABELS, LadderRules, Stage

# The workspace's rules, when the caller has them (`q.memo[RULES]`); else the defaults.
RULES = "ladder_rules"
# Every actor id of the workspace's people (`actor_persons(everyone=True)`), as `PERSON_MAP`.
EVERYONE = "person_map_everyone"


def _stages(q: Query) -> dict[Stage, int]:
    def compute() -> dict[Stage, int]:
        persons = q.table(EVERYONE, PERSON_MAP)
        links = q.table("share_links", SHARE_LINKS)
        q.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW ladder_q AS
            SELECT CAST(NULL AS BIGINT) AS eid, e.occurred_at AS t, {int(q.campaign.id)} AS c,
                e.kind, coalesce(m.person, e.actor_id) AS s,
                CASE WHEN e.ref IS NOT NULL THEN coalesce(m2.person, l.sharer, e.ref) END AS rs
            FROM ev e
            LEFT JOIN {persons} m ON m.actor_id = e.actor_id
            LEFT JOIN {links} l ON l.code = e.ref
            LEFT JOIN {persons} m2 ON m2.actor_id = coalesce(l.sharer, e.ref)
            WHERE e.actor_id IS NOT NULL AND e.kind IN {sql_list(COUNTED_KINDS)}"""
        )
        rules: LadderRules = q.memo.get(RULES, DEFAULT_RULES)
        sql = ladder_sql(
            q.con,
            source="ladder_q",
            rules=rules,
            timezone=q.campaign.timezone,
            now=q.end,
            workspace_scope=False,
        )
        row = q.one(
            "SELECT count(*) FILTER (WHERE acted IS NULL), "
            "count(*) FILTER (WHERE acted IS NOT NULL AND spread IS NULL), "
            "count(*) FILTER (WHERE spread IS NOT NULL AND adv IS NULL), "
            f"count(*) FILTER (WHERE adv IS NOT NULL) FROM ({sql})"
        )
        bystander, participant, spreader, advocate = (int(n or 0) for n in row)
        return {
            Stage.BYSTANDER: bystander,
            Stage.PARTICIPANT: participant,
            Stage.SPREADER: spreader,
            Stage.ADVOCATE: advocate,
        }

    result: dict[Stage, int] = q.cached("ladder_stages", compute)
    return result


def _ladder(q: Query) -> MetricValue:
    stages = _stages(q)
    return MetricValue(
        float(stages[Stage.SPREADER] + stages[Stage.ADVOCATE]),
        [{"stage": s.value, "name": STAGE_LABELS[s], "people": n} for s, n in stages.items()],
    )


def _advocates(q: Query) -> MetricValue:
    return MetricValue(float(_stages(q)[Stage.ADVOCATE]))


_KINDS = tuple(dict.fromkeys((*REACH_KINDS, *ACTING_KINDS)))

register(
    Metric(
        "ladder",
        N_("Closeness ladder"),
        N_(
            "People per closeness stage in the window: bystanders (reached, never took part), "
            "participants (took part), spreaders (took part, shared, and brought at least the "
            "rule's number of people who took part through their link) and advocates "
            "(spreaders who came back on the rule's number of weeks and brought the rule's "
            "number of people). The value is the number of spreaders and advocates."
        ),
        Unit.TABLE,
        _KINDS,
        _ladder,
        columns=("stage", "name", "people"),
    )
)
register(
    Metric(
        "advocates",
        N_("Advocates"),
        N_(
            "People at the top of the closeness ladder in the window: spreaders who kept "
            "coming back (the rule's number of distinct weeks) and brought the rule's number "
            "of people through their links."
        ),
        Unit.COUNT,
        _KINDS,
        _advocates,
    )
)
