"""The pulse on home and the pilot page: answering, refusals in the person's language,
goals in words and the CSV."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from points.dashboards.models import PilotPulse
from points.dashboards.pilots import create_pilot
from points.db import utcnow
from tests.support.factories import csrf_from, login
from tests.support.org import Org
from tests.support.services import Store


async def _pilot(pg: Store, org: Org) -> int:
    async with pg.db.session() as session:
        pilot = await create_pilot(
            session,
            actor=org.hr.userid,
            owner=org.hr.userid,
            name="销售部企业微信试点",
            department_ids=[org.sales.id or 0],
            start_on=utcnow().astimezone(pg.settings.zone).date() - timedelta(days=3),
            days=30,
            goals=[
                {
                    "figure": "approval_users_share",
                    "kind": "target",
                    "value": 90,
                    "label": "报销线上化率",
                    "templates": ["报销"],
                }
            ],
        )
        await session.commit()
        return pilot.id or 0


async def _answers(pg: Store) -> list[tuple[int, str]]:
    async with pg.db.session() as session:
        return [(r.score, r.comment) for r in (await session.exec(select(PilotPulse))).all()]


async def test_a_member_answers_the_pulse_on_home_once(
    client: httpx.AsyncClient, app: Starlette, pg: Store, org: Org
) -> None:
    pilot_id = await _pilot(pg, org)
    await login(client, org.employee.userid)
    home = await client.get("/")
    assert 'action="/pulse"' in home.text and "本周试点反馈" in home.text
    token = csrf_from(home.text)

    def form(score: str, comment: str = "") -> dict[str, str]:
        return {"csrf_token": token, "pilot_id": str(pilot_id), "score": score, "comment": comment}

    for score, comment, status, message in (
        ("0", "", 422, "请选择 1 到 5 分。"),
        ("6", "", 422, "请选择 1 到 5 分。"),
        ("x", "", 422, "请选择 1 到 5 分。"),
        ("3", "a\x00b", 400, "文本中不能包含控制字符。"),  # refused at the door
        ("3", "长" * 10_000, 422, "意见最多 1000 个字符。"),
    ):
        answer = await client.post("/pulse", data=form(score, comment))
        assert answer.status_code == status, answer.text[:300]
        assert message in answer.text
    client.cookies.set("points_lang", "en")
    english = await client.post("/pulse", data=form("9"))
    assert english.status_code == 422 and "Choose a score from 1 to 5." in english.text
    client.cookies.delete("points_lang")
    assert await _answers(pg) == []

    done = await client.post("/pulse", data=form("4", "审批节点太多"))
    assert done.status_code == 303 and done.headers["location"] == "/?done=pulse#pulse"
    await app.state.queue.drain()  # scoring runs right after the answer is stored
    thanked = await client.get("/?done=pulse")
    assert "谢谢！你的试点反馈已收到。" in thanked.text
    assert "感谢你的反馈！" in thanked.text and "+5 积分" in thanked.text
    again = await client.post("/pulse", data=form("5", "again"))
    assert again.status_code == 409 and "你本周已经反馈过了" in again.text
    assert await _answers(pg) == [(4, "审批节点太多")]


async def test_outsiders_are_not_asked(client: httpx.AsyncClient, pg: Store, org: Org) -> None:
    pilot_id = await _pilot(pg, org)
    await login(client, org.outsider.userid)
    home = await client.get("/")
    assert 'action="/pulse"' not in home.text
    answer = await client.post(
        "/pulse",
        data={"csrf_token": csrf_from(home.text), "pilot_id": str(pilot_id), "score": "4"},
    )
    assert answer.status_code == 403
    assert await _answers(pg) == []


async def test_hr_sees_goals_in_words_and_downloads_the_csv(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    pilot_id = await _pilot(pg, org)
    await login(client, org.hr.userid)
    page = await client.get(f"/dashboard/pilots/{pilot_id}")
    assert page.status_code == 200
    assert "报销线上化率 0% → 0%，持平，目标 ≥ 90%" in page.text
    assert "仅统计：报销" in page.text and "每周反馈" in page.text
    csv = await client.get(f"/dashboard/pilots/{pilot_id}/export.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.lstrip("\ufeff").splitlines()[0].startswith("目标,指标,审批模板")
