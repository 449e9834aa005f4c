"""HR's rule pages: edit, validate, try, simulate, diff, activate; employees are refused."""

from __future__ import annotations

import json

import httpx
from sqlmodel import select

from points.ledger.models import LedgerTransaction, TransactionKind
from points.rulesets.models import RuleVersion, VersionStatus
from tests.support.factories import csrf_from, login
from tests.support.rulesets import Company, doubled_doc_shared
from tests.support.services import Store

HX = {"hx-request": "true"}


async def _csrf(client: httpx.AsyncClient, path: str = "/rules/edit") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


async def test_an_employee_cannot_see_or_change_rules(
    client: httpx.AsyncClient, company: Company
) -> None:
    await login(client, "zhangsan")
    home = await client.get("/")
    assert 'href="/rules"' not in home.text
    token = csrf_from(home.text)
    for path in ("/rules", "/rules/edit", "/rules/versions", "/rules/try", "/rules/simulate"):
        assert (await client.get(path)).status_code == 403, path
    for path in ("/rules/validate", "/rules/drafts", "/rules/versions/1/activate", "/rules/try"):
        response = await client.post(path, data={"csrf_token": token, "source": "x"})
        assert response.status_code == 403, path


async def test_hr_sees_the_active_rules_with_their_figures(
    client: httpx.AsyncClient, company: Company
) -> None:
    await login(client, "zhaoliu")
    page = await client.get("/rules")
    assert page.status_code == 200
    assert 'href="/rules"' in page.text  # the navigation item
    assert "分享文档" in page.text and "按时提交审批" in page.text
    # doc-shared gave 12 points in the last 30 days (4 shares × 3).
    row = page.text.split("doc-shared", 1)[1].split("</tr>", 1)[0]
    assert "<strong>12</strong>" in row


async def test_the_editor_shows_a_typo_with_its_line_and_suggestion(
    client: httpx.AsyncClient, company: Company
) -> None:
    await login(client, "zhaoliu")
    token = await _csrf(client)
    source = "- id: a\n  title: 审批\n  when: approval.submitted\n  if: on_tme\n  points: 5\n"
    response = await client.post(
        "/rules/validate", data={"csrf_token": token, "source": source}, headers=HX
    )
    assert response.status_code == 200
    assert "<html" not in response.text  # just the errors block
    # The validator's suggestion, said in Chinese on a Chinese page.
    assert "第 4 行" in response.text and "是不是想写「on_time」？" in response.text
    ok = await client.post(
        "/rules/validate",
        data={"csrf_token": token, "source": source.replace("on_tme", "on_time")},
        headers=HX,
    )
    assert "没有问题" in ok.text
    # Saving the broken text keeps it in the editor with the errors and saves nothing.
    refused = await client.post("/rules/drafts", data={"csrf_token": token, "source": source})
    assert refused.status_code == 422
    assert "是不是想写「on_time」？" in refused.text and "on_tme" in refused.text


async def test_hr_edits_tries_simulates_and_activates_with_backapply(
    client: httpx.AsyncClient, company: Company, pg: Store
) -> None:
    await login(client, "zhaoliu")
    token = await _csrf(client)
    saved = await client.post(
        "/rules/drafts",
        data={"csrf_token": token, "source": doubled_doc_shared(), "note": "文档翻倍"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/rules/versions/2?saved=1"
    version = await client.get("/rules/versions/2?saved=1")
    assert "草稿" in version.text and "文档翻倍" in version.text

    # Try: a new share by 张三 earns 6 under v2; his approval sp_no 1 was already awarded.
    share = {
        "type": "doc.shared",
        "actor": "zhangsan",
        "occurred_at": "2026-11-24T09:30:00+08:00",
        "attributes": {"doc_id": "new"},
    }
    tried = await client.post(
        "/rules/try",
        data={"csrf_token": token, "version": "2", "event": json.dumps(share)},
        headers=HX,
    )
    assert tried.status_code == 200
    assert "结果：6 分" in tried.text and "+6" in tried.text
    resend = {
        "type": "approval.submitted",
        "actor": "zhangsan",
        "occurred_at": "2026-11-24T09:30:00+08:00",
        "attributes": {"template": "报销", "sp_no": "1", "on_time": True},
    }
    again = await client.post(
        "/rules/try",
        data={"csrf_token": token, "version": "2", "event": json.dumps(resend)},
        headers=HX,
    )
    assert "已经为这个值奖励过" in again.text
    bad = await client.post(
        "/rules/try", data={"csrf_token": token, "version": "2", "event": "{"}, headers=HX
    )
    assert "不是有效的 JSON" in bad.text

    # Simulate over the last 30 days: +12, with a chart.
    sim = await client.get("/rules/simulate?version=2&days=30")
    assert sim.status_code == 200
    assert 'data-testid="candidate-total">29<' in sim.text and "+12" in sim.text
    assert "<svg" in sim.text and "bar-candidate" in sim.text

    diff = await client.get("/rules/diff?old=1&new=2")
    assert "doc-shared" in diff.text and "points, cap" in diff.text

    confirm = await client.get("/rules/versions/2/activate")
    assert confirm.status_code == 200 and 'data-testid="simulation"' in confirm.text
    done = await client.post(
        "/rules/versions/2/activate", data={"csrf_token": token, "backapply": "30"}
    )
    assert done.status_code == 303
    async with pg.db.session() as session:
        versions = (await session.exec(select(RuleVersion))).all()
        backapplied = (
            await session.exec(
                select(LedgerTransaction).where(LedgerTransaction.kind == TransactionKind.backapply)
            )
        ).all()
    assert {v.id: v.status for v in versions} == {1: VersionStatus.retired, 2: VersionStatus.active}
    assert sorted(r.points for r in backapplied) == [3, 9]

    history = await client.get("/rules/versions")
    assert "回滚到此版本" in history.text and "zhaoliu" in history.text
    rolled = await client.post(
        "/rules/versions/1/activate", data={"csrf_token": token, "backapply": "none"}
    )
    assert rolled.status_code == 303


async def test_pages_in_english(client: httpx.AsyncClient, company: Company) -> None:
    await login(client, "zhaoliu")
    client.cookies.set("points_lang", "en")
    page = await client.get("/rules")
    assert "Scoring rules" in page.text and "Given, last 30 days" in page.text
    editor = await client.get("/rules/edit")
    assert "How a rule file is built" in editor.text and "approval-on-time" in editor.text
    token = csrf_from(editor.text)
    checked = await client.post(
        "/rules/validate",
        data={
            "csrf_token": token,
            "source": "- id: a\n  title: t\n  when: doc.shared\n  pionts: 3\n",
        },
        headers=HX,
    )
    assert "Line 4" in checked.text and "did you mean `points`?" in checked.text
