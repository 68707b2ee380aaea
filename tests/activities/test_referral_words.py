"""The referral's console table says in words what qualified a friend (参加活动, not
participant.joined) and gives its evidence after a full-width colon in Chinese."""

from __future__ import annotations

import re

from im2.workspaces.schemas import Role
from tests.activities.test_referral import World, login, points, world

__all__ = ["world"]

KEY = re.compile(r"\b(?:participant\.joined|conversion\.recorded|vote\.cast)\b")


def test_the_invite_table_names_the_qualifying_action_in_words(world: World) -> None:
    world.add_referral(qualify_on="joined", inviter_reward=points(10))
    host = world.join(nickname="主持人", ip="192.0.2.1")
    world.join(via=host, ip="192.0.2.2", nickname="邻居")  # same /24: held, with evidence
    world.join(via=host, ip="198.51.100.3", nickname="朋友")
    world.run()
    login(world.client, world.brand.emails[Role.ANALYST])
    page = world.client.get(f"/console/w/acme/referral/{world.activity_id}").text
    table = page[page.index('id="invites"') :]
    assert "参加活动" in table
    assert not KEY.search(table)
    assert re.search(r"</strong>：<span", table)  # the evidence after a full-width colon
