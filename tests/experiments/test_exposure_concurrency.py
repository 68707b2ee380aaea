"""Many first views of one visitor at the same moment (reload storms, prefetch) record one
exposure; many visitors at once record one each."""

from __future__ import annotations

import threading

import httpx

from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.experiments.test_experiments import experiment_body
from tests.test_polls import POLL


def test_concurrent_first_views_count_once(
    live_server: LiveServer, brand: Brand, db: Database
) -> None:
    base, owner = live_server.url, brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand)
    poll = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()
    made = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/experiments",
        json=experiment_body(poll["id"]),
        headers=owner,
    )
    assert made.status_code == 201, made.text
    url = f"{base}/c/{campaign['slug']}/poll/{poll['id']}"

    # One device (its cookie from a first visit to the landing page), 16 views at once.
    one = httpx.Client()
    one.get(f"{base}/c/{campaign['slug']}")
    # Five more devices, 4 views each at once.
    others = []
    for _ in range(5):
        client = httpx.Client()
        client.get(f"{base}/c/{campaign['slug']}")
        others.append(client)
    plan = [one] * 16 + [c for c in others for _ in range(4)]
    start = threading.Barrier(len(plan))
    statuses: list[int] = []

    def view(client: httpx.Client) -> None:
        start.wait()
        statuses.append(client.get(url, timeout=30).status_code)

    threads = [threading.Thread(target=view, args=(c,)) for c in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in [one, *others]:
        c.close()
    assert statuses == [200] * len(plan)
    with db.session() as session:
        exposed = list_events(session, kinds=["experiment.exposed"])
    assert len(exposed) == 6
