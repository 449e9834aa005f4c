"""A pilot's weekly loop at phone size: a member answers the pulse on home and sees it
thanked and scored; HR reads the pilot's goals in words and downloads its CSV."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.support.journeys import Login, Site, Visit

PILOT_TEAM = "客户服务部"


def member_not_yet_asked(site: Site, login: Login) -> Visit:
    """A member of the demo's pilot team who has not answered this week's pulse."""
    heads = [userid for userid, team in site.heads.items() if team == PILOT_TEAM]
    for head in heads:
        for userid in site.teams.get(head, []):
            member = login(userid, "zh_CN", "phone")
            if member.page.locator("[data-testid=pulse] form").count():
                return member
            member.page.context.close()
    raise AssertionError("no member of the pilot team is waiting for this week's pulse")


def export(visit: Visit, testid: str) -> str:
    with visit.page.expect_download() as download:
        visit.page.locator(f"[data-testid={testid}]").click()
    with open(download.value.path(), encoding="utf-8-sig") as csv:
        return csv.readline()


def test_a_member_answers_the_pulse_and_hr_reads_the_pilot(site: Site, login: Login) -> None:
    member = member_not_yet_asked(site, login)
    page = member.page
    card = page.locator("[data-testid=pulse]")
    expect(card).to_contain_text("本周试点反馈")
    member.fits()
    card.locator("input[name=score][value='4']").check()
    card.locator("textarea[name=comment]").fill("审批节点太多，希望简化")
    card.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("你的试点反馈已收到")
    expect(page.locator("[data-testid=pulse-thanks]")).to_contain_text("感谢你的反馈")
    # Scoring follows the answer within moments: the card then shows the points.
    for _ in range(40):
        if page.locator("[data-testid=pulse-points]").count():
            break
        time.sleep(0.25)
        page.reload()
    expect(page.locator("[data-testid=pulse-points]")).to_contain_text("+5")
    member.finish("pulse")

    hr = login(site.hr, "zh_CN", "phone")
    hr.go("/dashboard/pilots")
    hr.page.locator(".card a", has_text="试点").first.click()
    words = hr.page.locator("[data-testid=goal-words]")
    expect(words.filter(has_text="报销审批线上化率")).to_contain_text("目标 ≥ 90%")
    expect(words.filter(has_text="审批效率提升 30%")).to_contain_text("目标 下降 ≥ 30%")
    expect(hr.page.locator("[data-testid=pulse-weeks]")).to_contain_text("审批节点太多")
    assert export(hr, "pilot-csv").startswith("目标,指标,审批模板")
    hr.finish("pilot")
