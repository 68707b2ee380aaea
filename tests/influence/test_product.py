"""The influence product: graphs from shares, mentions and follow lists; KOLs; seed advice."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import use_locale
from im2.influence import graphs, service
from im2.influence import network as network_module
from im2.influence.demo import load_influence_demo
from im2.influence.edgefile import parse_edge_file
from im2.influence.errors import GraphFormatError
from im2.influence.kol import KolSignals, rank_kols
from im2.influence.learn import learned_probabilities
from im2.influence.schemas import GraphOptions, ProbabilityModel
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.sharing import service as sharing
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Actor, Role
from tests.conftest import PASSWORD, Brand, campaign_payload

# --- pure parts -------------------------------------------------------------------------------


def test_edge_file_lists_bad_lines_by_number() -> None:
    data = b"a b 0.5\nb c 0.2\nc d\n# comment\nd e 1.5\ne f x\n"
    with use_locale("en"), pytest.raises(GraphFormatError) as caught:
        parse_edge_file(data, name="follows.txt")
    with use_locale("zh_CN"), pytest.raises(GraphFormatError) as chinese:
        parse_edge_file(data, name="follows.txt")
    assert "第 5 行：概率 1.5 不在 [0, 1] 范围内" in str(chinese.value)
    message = str(caught.value)
    assert "3 bad line(s)" in message
    assert "line 3: expected 3 fields" in message
    assert "line 5: probability 1.5 is outside [0, 1]" in message
    assert "line 6: probability 'x' is not a number" in message


def test_edge_file_csv_header_followers_and_duplicates() -> None:
    data = b"followee,follower\nstar,fan1\nstar,fan2\nstar,fan1\nfan2,fan2\n"
    parsed = parse_edge_file(data, name="f.csv")
    # "fan follows star" means star can influence the fan.
    assert list(zip(parsed.src, parsed.dst, strict=True)) == [("star", "fan1"), ("star", "fan2")]
    assert parsed.duplicates_dropped == 1
    assert parsed.self_loops_dropped == 1
    assert parsed.prob is None
    assert parsed.with_header


def test_learned_probability_is_the_smoothed_fraction_of_shares_acted_on() -> None:
    # u (node 0) shared 4 times: v (1) acted on 3 of them, w (2) on none; x (3) never shared.
    result = learned_probabilities(
        np.array([0, 0, 3]),
        np.array([1, 2, 1]),
        shares=np.array([4, 0, 0, 0]),
        acted=np.array([3, 0, 0]),
        prior=np.array([0.5, 0.5, 0.5]),
        strength=2.0,
    )
    # Laplace: (3 + 1) / (4 + 2), (0 + 1) / (4 + 2), and the prior alone without shares.
    assert result.prob == pytest.approx([4 / 6, 1 / 6, 0.5])
    assert result.edges_with_evidence == 2


def test_kol_ranking_gives_reasons_and_flags_bought_followers() -> None:
    n = 20
    zeros = np.zeros(n)
    followers = zeros.copy()
    followers[3] = 500_000  # big account, almost no interactions
    followers[4] = 20_000
    descendants = zeros.copy()
    descendants[7] = 40
    engagement = zeros.copy()
    engagement[3] = 12.0  # 12 interactions per post on 500k followers: 0.0024 %
    engagement[4] = 900.0
    posts = zeros.copy()
    posts[[3, 4]] = 5
    positive = zeros.copy()
    positive[4] = 4
    mentions = posts.copy()
    rows = rank_kols(
        KolSignals(
            followers=followers,
            descendants=descendants,
            centrality=np.full(n, 1 / n),
            engagement=engagement,
            posts=posts,
            positive=positive,
            negative=zeros,
            mentions=mentions,
        )
    )
    by_node = {r.node: r for r in rows}
    assert {3, 4, 7} == set(by_node)
    assert by_node[3].suspicious
    assert not by_node[4].suspicious
    assert "suspicious" in {r.kind for r in by_node[3].reasons}
    assert "spread" in {r.kind for r in by_node[7].reasons}
    assert "positive" in {r.kind for r in by_node[4].reasons}
    # The genuine, well-liked account outranks the one with bought followers.
    assert rows.index(by_node[4]) < rows.index(by_node[3])


# --- helpers for the database tests -----------------------------------------------------------


def _campaign(client: TestClient, brand: Brand, slug: str = "spring-vote") -> int:
    response = client.post(
        "/api/v1/campaigns", json=campaign_payload(slug=slug), headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _owner(db: Database, brand: Brand) -> Actor:
    with db.session() as session:
        system = workspaces.system_actor(session, workspace_slug=brand.slug)
    return system


class Tree:
    """Builds a real share tree: people join through each other's share links."""

    def __init__(self, db: Database, brand: Brand, campaign_id: int, clock: ManualClock) -> None:
        self.db, self.brand, self.campaign_id, self.clock = db, brand, campaign_id, clock
        self.ids: dict[str, int] = {}
        self.codes: dict[tuple[str, int], str] = {}

    def join(self, name: str, via: str | None = None, campaign_id: int | None = None) -> int:
        cid = campaign_id or self.campaign_id
        self.clock.advance(timedelta(minutes=1))
        with self.db.transaction() as session:
            person = participation.do_join(
                session,
                workspace_id=self.brand.workspace_id,
                campaign_id=cid,
                visitor=Visitor(
                    device_id=f"dev-{name}",
                    ip="10.0.0.1",
                    user_agent="test",
                    referrer=self.codes[(via, cid)] if via else None,
                ),
                consented=True,
                now=self.clock.now(),
            )
        self.ids[name] = person.id
        return person.id

    def share(self, name: str, campaign_id: int | None = None) -> str:
        cid = campaign_id or self.campaign_id
        with self.db.transaction() as session:
            link = sharing.do_get_link(
                session,
                workspace_id=self.brand.workspace_id,
                campaign_id=cid,
                participant_id=self.ids[name],
                now=self.clock.now(),
            )
        self.codes[(name, cid)] = link.code
        return link.code


def _import(client: TestClient, brand: Brand, name: str, text: str, directed: bool = True) -> dict:
    response = client.post(
        "/api/v1/influence/graphs",
        data={"name": name, "directed": "true" if directed else "false"},
        files={"file": ("follows.txt", text.encode(), "text/plain")},
        headers=brand.auth(Role.OWNER),
    )
    return {"status": response.status_code, "body": response.json()}


def _edges(network: service.InfluenceNetwork) -> dict[tuple[str, str], float]:
    return {
        (network.keys[u], network.keys[v]): float(p)
        for u, v, p in zip(network.src, network.dst, network.prob, strict=True)
    }


# --- graph building ---------------------------------------------------------------------------


def test_share_tree_becomes_inviter_to_invitee_edges(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    cid = _campaign(client, brand)
    tree = Tree(db, brand, cid, clock)
    tree.join("a")
    tree.share("a")
    tree.join("b", via="a")
    tree.join("c", via="a")
    tree.share("b")
    tree.join("d", via="b")
    tree.join("e")  # organic, shares nothing
    ids = {k: f"p:{v}" for k, v in tree.ids.items()}
    # One follow edge into d: d now has two influencers.
    assert _import(client, brand, "f", f"{ids['c']} {ids['d']}\n")["status"] == 201

    with db.session() as session:
        network = service.build_network(
            session, actor=_owner(db, brand), campaign_id=cid, options=GraphOptions()
        )
    assert network.summary.share_edges == 3
    assert network.summary.follow_edges == 1
    edges = _edges(network)
    assert set(edges) == {
        (ids["a"], ids["b"]),
        (ids["a"], ids["c"]),
        (ids["b"], ids["d"]),
        (ids["c"], ids["d"]),
    }
    # Weighted cascade: 1 / number of people who can influence the target.
    assert edges[(ids["a"], ids["b"])] == 1.0
    assert edges[(ids["b"], ids["d"])] == 0.5 == edges[(ids["c"], ids["d"])]
    spread = dict(zip(network.keys, network.descendants.tolist(), strict=True))
    assert spread[ids["a"]] == 3
    assert spread[ids["b"]] == 1
    assert spread[ids["e"]] == 0

    with db.session() as session:
        constant = service.build_network(
            session,
            actor=_owner(db, brand),
            campaign_id=cid,
            options=GraphOptions(probability=ProbabilityModel.CONST, constant=0.1),
        )
    assert set(_edges(constant).values()) == {0.1}


def test_learned_probabilities_from_two_campaigns(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    first = _campaign(client, brand, "first")
    second = _campaign(client, brand, "second")
    tree = Tree(db, brand, first, clock)
    tree.join("a")
    tree.share("a")
    tree.join("b", via="a")
    tree.join("c", via="a")
    tree.share("a", campaign_id=second)  # a shares again; only c takes part through it
    with db.transaction() as session:
        record_event(
            session,
            kind=EventKind.VOTE_CAST,
            occurred_at=clock.now(),
            workspace_id=brand.workspace_id,
            campaign_id=second,
            actor_type=ActorType.PARTICIPANT,
            actor_id=tree.ids["c"],
            referrer=tree.codes[("a", second)],
        )
    a, b, c = (f"p:{tree.ids[x]}" for x in "abc")
    # x follows... x can influence b and c, so each has two influencers (prior 1/2).
    assert _import(client, brand, "f", f"x {b}\nx {c}\n")["status"] == 201
    with db.session() as session:
        network = service.build_network(
            session,
            actor=_owner(db, brand),
            campaign_id=None,
            options=GraphOptions(probability=ProbabilityModel.LEARNED, strength=2.0),
        )
    edges = _edges(network)
    # a shared twice; b acted once, c twice: (acted + 2 * 1/2) / (2 + 2).
    assert edges[(a, b)] == pytest.approx((1 + 1) / 4)
    assert edges[(a, c)] == pytest.approx((2 + 1) / 4)
    assert edges[("x", b)] == pytest.approx(0.5)  # x never shared: the prior alone
    assert network.summary.learned_edges == 2


def test_reposts_and_mentions_from_listening(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    cid = _campaign(client, brand)
    now = clock.now().isoformat()
    mentions = [
        {
            "platform": "weibo",
            "post_id": "1",
            "text": "山野咖啡新品真不错",
            "author": "coffee_kol",
            "author_followers": 80_000,
            "posted_at": now,
            "likes": 3000,
            "reposts": 500,
            "comments": 200,
        },
        {
            "platform": "weibo",
            "post_id": "2",
            "text": "同意！//@coffee_kol:山野咖啡新品真不错",
            "author": "fan_a",
            "author_followers": 120,
            "posted_at": now,
        },
        {
            "platform": "weibo",
            "post_id": "3",
            "text": "@coffee_kol 你试过樱花拿铁吗",
            "author": "fan_b",
            "author_followers": 30,
            "posted_at": now,
        },
    ]
    response = client.post(
        "/api/v1/mentions", json={"mentions": mentions}, headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == 200, response.text
    with db.session() as session:
        network = service.build_network(
            session, actor=_owner(db, brand), campaign_id=None, options=GraphOptions()
        )
        # Mentions are the brand's, not a campaign's: the campaign's graph leaves them out.
        campaign = service.build_network(
            session, actor=_owner(db, brand), campaign_id=cid, options=GraphOptions()
        )
    assert campaign.n == 0
    edges = _edges(network)
    assert ("weibo:coffee_kol", "weibo:fan_a") in edges  # fan_a reposted the KOL
    assert ("weibo:fan_b", "weibo:coffee_kol") in edges  # the KOL is notified of fan_b
    assert network.summary.repost_edges == 1
    assert network.summary.mention_edges == 1
    page = client.get("/api/v1/influence/kols", headers=brand.auth(Role.ANALYST)).json()
    top = page["items"][0]
    assert top["key"] == "weibo:coffee_kol"
    assert top["followers"] == 80_000
    assert any("80,000 followers" in r["text"] for r in top["reasons"])


# --- API --------------------------------------------------------------------------------------


def _star(client: TestClient, brand: Brand, db: Database, clock: ManualClock) -> tuple[int, Tree]:
    """A hub who brought ten people, one of whom brought two more; plus an organic joiner."""
    cid = _campaign(client, brand)
    tree = Tree(db, brand, cid, clock)
    tree.join("hub")
    tree.share("hub")
    for i in range(10):
        tree.join(f"f{i}", via="hub")
    tree.share("f0")
    tree.join("g1", via="f0")
    tree.join("g2", via="f0")
    tree.join("solo")
    return cid, tree


def test_kol_api_ranks_the_hub_first_with_its_reason(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    cid, tree = _star(client, brand, db, clock)
    response = client.get(
        f"/api/v1/campaigns/{cid}/influence/kols", headers=brand.auth(Role.ANALYST)
    )
    assert response.status_code == 200, response.text
    page = response.json()
    first = page["items"][0]
    assert first["key"] == f"p:{tree.ids['hub']}"
    assert first["descendants"] == 12
    assert any(r["kind"] == "spread" and "12" in r["text"] for r in first["reasons"])
    assert all(row["reasons"] for row in page["items"])
    csv_response = client.get(
        f"/api/v1/campaigns/{cid}/influence/kols.csv", headers=brand.auth(Role.ANALYST)
    )
    assert csv_response.status_code == 200
    lines = csv_response.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("rank,key,label")
    assert lines[1].split(",")[1] == f"p:{tree.ids['hub']}"


def test_seed_api_recommends_the_hub_with_a_forecast(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    cid, tree = _star(client, brand, db, clock)
    solo = f"p:{tree.ids['solo']}"
    response = client.post(
        f"/api/v1/campaigns/{cid}/influence/seeds",
        json={"k": 1, "epsilon": 0.2, "own_pick": [solo], "steps": 4},
        headers=brand.auth(Role.ANALYST),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["key"] for s in body["seeds"]] == [f"p:{tree.ids['hub']}"]
    # Weighted cascade on a tree: every edge has p = 1, so the hub reaches all 13.
    assert body["spread"]["mean"] == pytest.approx(13.0)
    assert body["spread"]["ci_low"] <= body["spread"]["mean"] <= body["spread"]["ci_high"]
    assert body["own_spread"]["mean"] == pytest.approx(1.0)
    assert body["forecast"]["steps"] == [0, 1, 2, 3, 4]
    assert body["forecast"]["recommended"][:3] == pytest.approx([1.0, 11.0, 13.0])
    assert body["forecast"]["own"] == pytest.approx([1.0] * 5)
    assert body["own_pick_source"] == "given"


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({"k": 0}, "k", ""),
        ({"k": -3}, "k", ""),
        ({"k": 150}, "k", "only 14 people"),
        ({"k": 2, "epsilon": 0.01}, "epsilon", ""),
        ({"k": 2, "own_pick": ["p:999999"]}, "own_pick", "p:999999"),
        ({"k": 2, "model": "sir"}, "model", ""),
    ],
)
def test_seed_api_refuses_bad_requests(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    payload: dict[str, object],
    field: str,
    fragment: str,
) -> None:
    cid, _tree = _star(client, brand, db, clock)
    response = client.post(
        f"/api/v1/campaigns/{cid}/influence/seeds", json=payload, headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in (error.get("field") or "") + str(error)
    assert fragment in error["message"]


def test_unknown_campaign_is_404_and_an_empty_graph_is_explained(
    client: TestClient, brand: Brand
) -> None:
    auth = brand.auth(Role.OWNER)
    assert client.get("/api/v1/campaigns/424242/influence/kols", headers=auth).status_code == 404
    missing = client.post("/api/v1/campaigns/424242/influence/seeds", json={"k": 1}, headers=auth)
    assert missing.status_code == 404
    cid = _campaign(client, brand)
    empty = client.post(f"/api/v1/campaigns/{cid}/influence/seeds", json={"k": 1}, headers=auth)
    assert empty.status_code == 422
    assert "no edges" in empty.json()["error"]["message"]


def test_graph_import_reports_bad_lines_and_stores_nothing(
    client: TestClient, brand: Brand
) -> None:
    bad = _import(client, brand, "broken", "a b\nb c d e\n\nc\nd e\n")
    assert bad["status"] == 422
    message = bad["body"]["error"]["message"]
    assert "line 2" in message
    assert "line 4" in message
    assert "line 5" not in message
    listed = client.get("/api/v1/influence/graphs", headers=brand.auth(Role.ANALYST)).json()
    assert listed == []
    good = _import(client, brand, "friends", "a,b\nb,c\nc,a\na,b\n", directed=False)
    assert good["status"] == 201
    assert good["body"]["edges"] == 3
    assert good["body"]["report"]["duplicates_dropped"] == 1
    again = _import(client, brand, "friends", "x y\n")
    assert again["status"] == 409
    viewer = client.post(
        "/api/v1/influence/graphs",
        data={"name": "v"},
        files={"file": ("f.txt", b"a b\n", "text/plain")},
        headers=brand.auth(Role.ANALYST),
    )
    assert viewer.status_code == 403
    deleted = client.delete(
        f"/api/v1/influence/graphs/{good['body']['id']}", headers=brand.auth(Role.OWNER)
    )
    assert deleted.status_code == 204
    assert client.get("/api/v1/influence/graphs", headers=brand.auth(Role.ANALYST)).json() == []


# --- console ----------------------------------------------------------------------------------


def _login(client: TestClient, brand: Brand) -> None:
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/console/login",
        data={"email": brand.emails[Role.OWNER], "password": PASSWORD, "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert response.status_code == 303


def _csrf(html: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    return token[1]


def test_console_shows_kols_and_recommends_seeds_for_the_demo_data(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    cid = _campaign(client, brand)
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
        load_influence_demo(session, actor=actor, campaign_id=cid, now=clock.now())
    _login(client, brand)
    url = f"/console/w/{brand.slug}/campaigns/{cid}/influence"
    page = client.get(url)
    assert page.status_code == 200
    assert 'id="kol-table"' in page.text
    rows = re.findall(r'data-key="(p:\d+|fan-\d+)"', page.text)
    assert len(rows) >= 10
    # People by name, not by id: the demo's participants have no nickname yet.
    names = re.findall(r'<strong class="kol-name">([^<]+)</strong>', page.text)
    assert names
    assert not any(re.fullmatch(r"p:\d+|#\d+", name) for name in names)
    form = {
        "csrf_token": _csrf(page.text),
        "k": "5",
        "model": "ic",
        "epsilon": "0.2",
        "probability": "wc",
        "constant": "0.05",
        "steps": "6",
        "own_pick": "",
    }
    result = client.post(url, data=form)
    assert result.status_code == 200, result.text[:2000]
    assert 'id="seed-table"' in result.text
    assert 'id="forecast-chart"' in result.text
    seeds = re.findall(r'<tr data-key="[^"]+"><td data-label="#">', result.text)
    assert len(seeds) >= 5 + 5  # five to invite, five with the most followers
    # Whole people: no fractions of a person.
    recommended = int(re.search(r'id="spread">([\d,]+)<', result.text)[1].replace(",", ""))  # type: ignore[index]
    own = int(re.search(r'id="own-spread">([\d,]+)<', result.text)[1].replace(",", ""))  # type: ignore[index]
    for jargon in ("ε", "IMM", "≥"):
        assert jargon not in result.text
    assert recommended >= own  # IMM is at least as good as the top-5 by followers here

    bad = client.post(url, data={**form, "k": "0"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    csv_response = client.get(f"{url}/kols.csv")
    assert csv_response.status_code == 200
    assert "rank,key" in csv_response.text

    workspace = client.get(f"/console/w/{brand.slug}/influence")
    assert workspace.status_code == 200
    assert "会员关注关系（演示）" in workspace.text


def test_console_upload_shows_line_numbers(client: TestClient, brand: Brand) -> None:
    _login(client, brand)
    page = client.get(f"/console/w/{brand.slug}/influence")
    response = client.post(
        f"/console/w/{brand.slug}/influence/graphs",
        data={"csrf_token": _csrf(page.text), "name": "bad", "directed": "1"},
        files={"file": ("bad.txt", b"a b\nb\nc d 7\n", "text/plain")},
    )
    assert response.status_code == 422
    assert "第 2 行" in response.text  # the console speaks Chinese by default
    assert "第 3 行：应有 2 列（u v），实际 3 列" in response.text
    ok = client.post(
        f"/console/w/{brand.slug}/influence/graphs",
        data={"csrf_token": _csrf(page.text), "name": "good", "directed": "1"},
        files={"file": ("good.txt", b"a b\nb c\n", "text/plain")},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_costs_and_budget_keep_the_expensive_hub_out(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    cid, tree = _star(client, brand, db, clock)
    hub, f0 = f"p:{tree.ids['hub']}", f"p:{tree.ids['f0']}"
    url = f"/api/v1/campaigns/{cid}/influence/seeds"
    auth = brand.auth(Role.ANALYST)
    response = client.post(
        url, json={"k": 3, "costs": {hub: 50.0}, "budget": 2.0, "epsilon": 0.2}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    keys = [s["key"] for s in body["seeds"]]
    assert hub not in keys
    assert keys[0] == f0  # the best affordable node: f0 brings two more
    assert body["total_cost"] <= 2.0
    alone = client.post(url, json={"k": 3, "costs": {hub: 5.0}}, headers=auth)
    assert alone.status_code == 422
    assert alone.json()["error"]["field"] == "budget"
    # A budget alone: everyone costs 1, so a budget of 1 buys the hub.
    unit = client.post(url, json={"k": 3, "budget": 1.0}, headers=auth)
    assert unit.status_code == 200, unit.text
    assert [s["key"] for s in unit.json()["seeds"]] == [hub]
    stranger = client.post(url, json={"k": 1, "costs": {"p:0": 1.0}, "budget": 1}, headers=auth)
    assert stranger.status_code == 422
    assert "p:0" in stranger.json()["error"]["message"]


def test_linear_threshold_and_workspace_scope(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    _cid, tree = _star(client, brand, db, clock)
    auth = brand.auth(Role.ANALYST)
    lt = client.post(
        "/api/v1/influence/seeds", json={"k": 1, "model": "lt", "steps": 3}, headers=auth
    )
    assert lt.status_code == 200, lt.text
    # Every weight is 1 (one inviter each): the hub activates everyone under LT as well.
    assert lt.json()["spread"]["mean"] == pytest.approx(13.0)
    kols = client.get("/api/v1/influence/kols?limit=3", headers=auth).json()
    assert len(kols["items"]) == 3
    assert kols["items"][0]["key"] == f"p:{tree.ids['hub']}"
    assert kols["campaign_id"] is None
    assert _import(client, brand, "two-into-z", "a z\nb z\n")["status"] == 201
    too_big = client.post(
        "/api/v1/influence/seeds",
        json={"k": 1, "model": "lt", "probability": "const", "constant": 0.9},
        headers=auth,
    )
    # z has two influencers weighing 0.9 each: LT needs incoming weights summing to <= 1.
    assert too_big.status_code == 422
    assert "linear threshold" in too_big.json()["error"]["message"]


def test_joins_without_clicks_still_give_the_share_tree(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """Generated or imported joins can outnumber link clicks; the tree is still read."""
    from im2.campaigns import service as campaigns
    from im2.campaigns.schemas import CampaignStatus

    cid = _campaign(client, brand)
    actor = _owner(db, brand)
    with db.transaction() as session:
        campaigns.do_transition_campaign(
            session, actor=actor, campaign_id=cid, to=CampaignStatus.SCHEDULED, now=clock.now()
        )
    clock.advance(timedelta(days=9))
    with db.transaction() as session:
        campaigns.do_advance_campaigns(session, now=clock.now())
    tree = Tree(db, brand, cid, clock)
    tree.join("a")
    code = tree.share("a")
    with db.transaction() as session:
        visitor = Visitor(device_id="dev-b", ip=None, user_agent=None, referrer=code)
        sharing.do_click(session, code=code, visitor=visitor, now=clock.now())
    tree.join("b", via="a")
    tree.join("c", via="a")  # joined through the link without a recorded click
    with db.session() as session:
        network = service.build_network(
            session, actor=actor, campaign_id=cid, options=GraphOptions()
        )
    a = f"p:{tree.ids['a']}"
    assert set(_edges(network)) == {(a, f"p:{tree.ids['b']}"), (a, f"p:{tree.ids['c']}")}
    spread = dict(zip(network.keys, network.descendants.tolist(), strict=True))
    assert spread[a] == 2


def test_oversized_imports_and_graphs_are_refused(
    client: TestClient, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graphs, "MAX_IMPORT_BYTES", 64)
    big = _import(client, brand, "big", "".join(f"u{i} v{i}\n" for i in range(40)))
    assert big["status"] == 422
    assert "larger than" in big["body"]["error"]["message"]
    monkeypatch.setattr(graphs, "MAX_IMPORT_BYTES", 1 << 20)
    monkeypatch.setattr(graphs, "MAX_IMPORT_EDGES", 5)
    many = _import(client, brand, "many", "".join(f"u{i} v{i}\n" for i in range(6)))
    assert many["status"] == 422
    assert "at most 5" in many["body"]["error"]["message"]
    monkeypatch.setattr(graphs, "MAX_IMPORT_EDGES", 100)
    assert _import(client, brand, "ok", "".join(f"u{i} v{i}\n" for i in range(6)))["status"] == 201
    monkeypatch.setattr(network_module, "MAX_EDGES", 4)
    refused = client.get("/api/v1/influence/kols", headers=brand.auth(Role.ANALYST))
    assert refused.status_code == 422
    assert "command line" in refused.json()["error"]["message"]


def test_console_costs_form_reports_bad_lines(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    cid, tree = _star(client, brand, db, clock)
    _login(client, brand)
    url = f"/console/w/{brand.slug}/campaigns/{cid}/influence"
    page = client.get(url)
    form = {
        "csrf_token": _csrf(page.text),
        "k": "2",
        "model": "ic",
        "epsilon": "0.2",
        "probability": "wc",
        "constant": "0.05",
        "steps": "4",
        "own_pick": "",
        "costs": f"p:{tree.ids['hub']} 100\nbroken\np:{tree.ids['f0']} -1\n",
        "budget": "2",
    }
    bad = client.post(url, data=form)
    assert bad.status_code == 422
    assert "2, 3" in bad.text  # the line numbers of the two bad lines
    good = client.post(url, data={**form, "costs": f"p:{tree.ids['hub']} 100\n"})
    assert good.status_code == 200
    assert 'id="total-cost"' in good.text
    assert f'<code class="muted">p:{tree.ids["hub"]}</code></td><td data-label' not in good.text
