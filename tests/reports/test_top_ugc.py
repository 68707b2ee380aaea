"""The report's top UGC entries show what they are ranked by: the contest's score, its jury
average and votes, and the rule that combines them, so an entry with fewer votes ranked higher
is explained on the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.activities.test_ugc import settings as settings  # uploads in the test's folder
from tests.activities.test_ugc_console import _two_entries_with_votes
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_console import form_token


def test_top_entries_show_the_score_they_are_ranked_by(client: TestClient, brand: Brand) -> None:
    # The latte has no votes, the picnic three; the jury (60% of the score) loves the latte.
    campaign_id, contest, (latte, picnic) = _two_entries_with_votes(client, brand)
    juror = TestClient(client.app)
    assert login(juror, brand.emails[Role.OWNER]) == 303
    base = f"/console/w/acme/ugc/{contest}"
    for entry_id, score in ((latte, 10), (picnic, 2)):
        url = f"{base}/entries/{entry_id}/score"
        scored = juror.post(
            url,
            data={"csrf_token": form_token(juror, base, url), "score": str(score)},
            follow_redirects=False,
        )
        assert scored.status_code == 303, scored.text
    assert login(client, brand.emails[Role.VIEWER]) == 303

    html = client.get(f"/console/w/acme/campaigns/{campaign_id}/report").text

    start = html.index('id="ugc-table"')
    table = html[start : html.index("</table>", start)]
    assert '<th class="num">得分</th>' in table
    assert '<th class="num">评委平均分</th>' in table
    body = table[table.index("<tbody>") :]
    rows = [
        re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]
    # rank, caption, votes, jury average, score: 0.6 × 10/10 + 0.4 × 0/3 = 60, and
    # 0.6 × 2/10 + 0.4 × 3/3 = 52, so the entry with fewer votes is first, and it shows why.
    assert [(r[1], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("1", "窗边的樱花拿铁", "0", "10.0", "60.0"),
        ("2", "和朋友的春日野餐", "3", "2.0", "52.0"),
    ]
    assert (
        "晒出你的春日咖啡 按得分排名：得分 = 60% × 评委平均分 ÷ 10 + 40% × 票数 ÷ 所有作品中的最高票数，满分 100。"
        in html
    )
