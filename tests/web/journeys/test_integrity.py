"""HR's integrity review at phone size: a farmer planted in the demo company is in the
queue with the evidence in Chinese (and only the farmer: the demo's people are not), HR
reads the events and marks it reviewed with a note; the English page says the same."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from points.db import Database, utcnow
from points.org import service as org
from points.org.models import Department
from tests.support.integrity import farmer_events, scan_at, send_all
from tests.support.journeys import Login, Site
from tests.support.services import Store, make_settings

FARMER = "farmer01"


async def _plant_farmer(url: str) -> None:
    settings = make_settings(url)
    db = Database(settings)
    try:
        async with db.session() as session:
            team = (await session.exec(select(Department).where(Department.name == "市场部"))).one()
            await org.upsert_employee(session, userid=FARMER, name="刘刷分", department_id=team.id)
            await session.commit()
        store = Store(settings, db)
        today = utcnow().astimezone(settings.zone).date()
        await send_all(store, farmer_events(FARMER, end=today - timedelta(days=1)))
        await scan_at(store, today)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def farmer(site: Site) -> Iterator[str]:
    # Module scope: set up before the per-test browser, whose event loop would refuse this.
    asyncio.run(_plant_farmer(site.db_url))
    yield FARMER


def test_hr_reads_the_farmers_evidence_and_marks_it_reviewed(
    site: Site, farmer: str, login: Login
) -> None:
    hr = login(site.hr, "zh_CN", "phone")
    page = hr.page
    page.locator("nav.nav a", has_text="更多").click()
    page.locator(".more-list a", has_text="积分异常复核").click()
    expect(page.locator("main h1")).to_have_text("积分异常复核")
    # Only the farmer: nobody in the demo company's ordinary activity is flagged.
    flags = page.locator("[data-testid=flags] .entry")
    expect(flags).to_have_count(2)
    expect(page.locator(f"[data-testid=flag-{farmer}]")).to_have_count(2)
    expect(page.locator("[data-testid=flags]")).to_contain_text("连续多日达到同一上限")
    expect(page.locator("[data-testid=flags]")).to_contain_text("远超本人平时的突增")
    hr.fits()

    page.locator("a.entry-reason", has_text="连续多日达到同一上限").click()
    evidence = page.locator("[data-testid=evidence]")
    expect(evidence).to_contain_text("连续 14 个活动日达到「分享文档」的上限（每周 30 分）")
    expect(page.locator("#events")).to_contain_text("共 14000 条")
    expect(page.locator("a.button", has_text="发起积分调整")).to_be_visible()
    hr.fits()

    # A note is needed: said next to the form.
    page.locator("[data-testid=review-submit]").click()
    expect(page.locator("[data-testid=form-error]")).to_contain_text("请填写备注")
    page.locator("textarea[name=note]").fill("已与本人及主管核实，每周提醒合理分享")
    page.locator("[data-testid=review-submit]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("已标记为已复核")
    expect(page.locator("[data-testid=review]")).to_contain_text("已与本人及主管核实")
    hr.go("/integrity?status=open")
    expect(page.locator("[data-testid=flags] .entry")).to_have_count(1)
    hr.finish("integrity")

    english = login(site.hr, "en", "desktop")
    english.go("/integrity?status=reviewed")
    english.page.locator("a.entry-reason", has_text="At the same cap day after day").click()
    expect(english.page.locator("[data-testid=evidence]")).to_contain_text(
        "At the cap of “Document shared” (30 points a week) on 14 active days running."
    )
    english.no_errors()
