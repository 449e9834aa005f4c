"""Department challenges on the web: heads see progress, a pilot shows the reward at stake,
simulation shows each team's result."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx

from points.dashboards.pilots import create_pilot
from points.rulesets.service import activate, save_draft
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import login
from tests.support.org import Org
from tests.support.services import Store

START = date.today() - timedelta(days=5)
RULES = f"""\
- id: sales-online
  title: 销售部线上审批挑战
  title_en: Sales online approvals
  points: 30
  team_goal:
    departments: [销售部]
    when: approval.submitted
    measure: participation
    target: 50%
    window: {{from: {START.isoformat()}, days: 30}}
- id: finance-count
  title: 财务部审批冲刺
  points: 10
  team_goal:
    departments: [财务部]
    when: approval.submitted
    measure: count
    target: 5
    window: {{from: {START.isoformat()}, days: 30}}
"""


async def _goals(pg: Store, org: Org) -> tuple[int, int]:
    async with pg.db.session() as session:
        draft = await save_draft(session, source=RULES, author="zhaoliu")
        await activate(session, version_id=draft.id or 0, author="zhaoliu")
        pilot = await create_pilot(
            session,
            actor="zhaoliu",
            name="销售部试点",
            department_ids=[org.sales.id],
            start_on=START,
            reward_rule="sales-online",
        )
        await session.commit()
        assert draft.id is not None and pilot.id is not None
    when = datetime.now(SHANGHAI) - timedelta(days=1)
    await send(pg, [event("a:1", "approval.submitted", "zhangsan", when, sp_no="1")])
    return pilot.id, draft.id


async def test_a_head_sees_the_progress_of_their_teams_only(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    await _goals(pg, org)
    await login(client, "wangwu")  # head of 销售部 (张三, 李四 in 华东区, and the head)
    page = (await client.get("/dashboard")).text
    assert "部门挑战" in page and "销售部线上审批挑战" in page
    assert "参与率 33%，目标 50%" in page  # 1 of 3 members so far
    assert "财务部审批冲刺" not in page  # another department's goal
    await login(client, "zhaoliu")  # HR sees every team
    page = (await client.get("/dashboard")).text
    assert "财务部审批冲刺" in page


async def test_a_pilot_shows_the_reward_at_stake_and_simulation_the_result(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    pilot_id, version_id = await _goals(pg, org)
    await login(client, "wangwu")
    page = (await client.get(f"/dashboard/pilots/{pilot_id}")).text
    assert "销售部线上审批挑战" in page and "每人 30 分" in page
    await login(client, "zhaoliu")
    simulated = await client.get("/rules/simulate", params={"version": version_id, "days": 30})
    assert simulated.status_code == 200
    assert "部门挑战不按单个事件计分" in simulated.text and "销售部线上审批挑战" in simulated.text
