"""The admin: grant a role by picking a person, remove it (asked first), make an API token,
and read the audit log in words."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.journeys import Login, Site

WORDS = {
    "zh_CN": {
        "more": "更多",
        "admin": "管理",
        "roles": "角色权限",
        "hr": "HR",
        "granted": "角色已授予",
        "remove": "移除",
        "removed": "角色已移除",
        "tokens": "API 令牌",
        "audit": "审计日志",
        "grant_action": "授予角色",
        "token_action": "创建 API 令牌",
    },
    "en": {
        "more": "More",
        "admin": "Admin",
        "roles": "Roles",
        "hr": "HR",
        "granted": "Role granted",
        "remove": "Remove",
        "removed": "Role removed",
        "tokens": "API tokens",
        "audit": "Audit log",
        "grant_action": "Granted a role",
        "token_action": "Created an API token",
    },
}


@pytest.mark.parametrize(("locale", "device"), [("zh_CN", "phone"), ("en", "desktop")])
def test_admin_grants_by_name_makes_a_token_and_reads_the_audit_log(
    site: Site, login: Login, locale: str, device: str
) -> None:
    w = WORDS[locale]
    admin = login(site.admin, locale, device)
    page = admin.page
    me = page.locator("[data-testid=who]").inner_text().split()[0]

    if device == "phone":
        page.locator("nav.nav a", has_text=w["more"]).click()
        page.locator(".more-list a", has_text=w["admin"]).first.click()
    else:
        page.locator("nav.nav a", has_text=w["admin"]).click()
    page.locator("main a", has_text=w["roles"]).first.click()

    # Pick a person by typing part of their name or id, then grant HR.
    person = site.employees[7 if locale == "zh_CN" else 8]
    page.locator("[data-testid=person-search]").fill(person)
    choice = page.locator(f".picks input[value={person}]")
    choice.check()
    picked = page.locator(".picks label", has=page.locator(f"input[value={person}]"))
    name = picked.locator("strong").inner_text()
    page.locator("select[name=role]").select_option("hr")
    page.locator("[data-testid=grant]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text(w["granted"])
    row = page.locator(f"[data-testid=assignment-{person}]")
    expect(row).to_contain_text(name)
    admin.fits()

    # Removing asks first.
    row.locator("summary", has_text=w["remove"]).click()
    row.locator("[data-testid=confirm-remove]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text(w["removed"])
    expect(page.locator(f"[data-testid=assignment-{person}]")).to_have_count(0)

    # A token for the office screen: shown once.
    admin.go("/admin/tokens")
    page.locator("input[name=name]").fill(f"office-screen-{locale}")
    page.locator("select[name=role]").select_option("hr")
    page.locator("[data-testid=create-token]").click()
    expect(page.locator("[data-testid=new-token]")).to_have_text(re.compile(r"\S{20,}"))

    # The audit log says who did what, in words, by name.
    admin.go("/admin/audit")
    actions = page.locator("[data-testid=audit-action]").all_inner_texts()[:5]
    assert w["token_action"] in actions and w["grant_action"] in actions, actions
    expect(page.locator("table.cards tbody tr").first).to_contain_text(me)
    admin.finish("admin")
